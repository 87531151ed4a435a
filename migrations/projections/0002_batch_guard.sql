-- Guard of a projector batch applied in one autocommitted statement: the checkpoint move and
-- the projector's writes run as data-modifying common table expressions, which always run to
-- completion, so raising an error is what keeps a refused batch from being written (the
-- statement's implicit transaction rolls back).
--   moved         rows the checkpoint move updated (0: the stored checkpoint is not where the
--                 batch starts, or the generation is not the active one)
--   requirements  the projector's preconditions, evaluated on the statement's snapshot
-- SQLSTATE HSPC1: the checkpoint did not move; HSPR1: a precondition is false or null (the
-- batch is then applied through the projector's handle, in a transaction).
CREATE FUNCTION projections.batch_guard(moved bigint, requirements boolean[]) RETURNS boolean
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
  IF moved IS DISTINCT FROM 1 THEN
    RAISE EXCEPTION 'projection checkpoint did not move' USING ERRCODE = 'HSPC1';
  END IF;
  IF EXISTS (SELECT 1 FROM unnest(requirements) AS r(holds) WHERE r.holds IS NOT TRUE) THEN
    RAISE EXCEPTION 'projection batch precondition does not hold' USING ERRCODE = 'HSPR1';
  END IF;
  RETURN true;
END
$$;
