-- The event store: append-only events, one row per stream with its current revision.
--
-- Positions. A record's global position is (xid8 of the writing transaction + xid_offset)
-- shifted left by 20 bits, plus the record's index inside that transaction. Ordering by
-- position is therefore ordering by writing transaction, so "every transaction below the
-- oldest one still in flight has finished" (pg_snapshot_xmin) turns into "every position
-- below (xmin + xid_offset) << 20 is final": a reader that stays below that bound can never
-- skip a record whose transaction commits later. See docs/eventstore.md.
CREATE SCHEMA IF NOT EXISTS eventstore;

CREATE TABLE eventstore.events (
  position bigint PRIMARY KEY,
  xid xid8 NOT NULL,
  event_id text NOT NULL CONSTRAINT events_event_id_key UNIQUE,
  stream_id text NOT NULL,
  revision bigint NOT NULL,
  type text NOT NULL,
  data json NOT NULL,
  metadata json,
  recorded_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT events_stream_revision_key UNIQUE (stream_id, revision)
);

-- Keeps positions increasing when the database moves to a cluster whose transaction ids
-- start lower (dump and restore); raised at start-up when needed.
CREATE TABLE eventstore.position_base (
  id int PRIMARY KEY CHECK (id = 1),
  xid_offset bigint NOT NULL
);
INSERT INTO eventstore.position_base (id, xid_offset) VALUES (1, 0);

-- Appends p_events (a JSON array of {id, type, data, metadata}) to p_stream in one
-- statement. p_expected: 'any', 'no_stream', 'stream_exists' or the decimal revision of the
-- stream's last event. Returns one row per event (written = false when the whole batch
-- was already stored: an idempotent retry). Errors: HS409 wrong expected revision
-- (DETAIL: actual revision, -1 for no stream), HS410 event ids already stored elsewhere or
-- only part of the batch stored, HS413 more than 2^20 events in one transaction.
-- A concurrent append that took the same revision first makes the unique index on
-- (stream_id, revision) fail with 23505 once it commits: the caller maps that to a
-- wrong-expected-revision error (or retries, for 'any'). There is no per-stream row to lock
-- or update, so an append writes nothing but its own rows.
-- p_notify: NOTIFY eventstore_appended at commit. NOTIFY serialises committing transactions,
-- so appends that commit on their own pass false and notify right after their commit.
CREATE FUNCTION eventstore.append(p_stream text, p_expected text, p_events json, p_notify boolean DEFAULT true)
RETURNS TABLE (event_id text, "position" bigint, revision bigint, written boolean)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
  v_count int := json_array_length(p_events);
  v_ids text[];
  v_current bigint;
  v_stored int;
  v_stored_here int;
  v_index bigint;
  v_base bigint;
BEGIN
  SELECT array_agg(x->>'id') INTO v_ids FROM json_array_elements(p_events) x;

  -- Idempotent retries: the whole batch is already in this stream.
  SELECT count(*), count(*) FILTER (WHERE e.stream_id = p_stream)
    INTO v_stored, v_stored_here
    FROM eventstore.events e
   WHERE e.event_id = ANY (v_ids);
  IF v_stored > 0 THEN
    IF v_stored = v_count AND v_stored_here = v_count THEN
      RETURN QUERY
        SELECT e.event_id, e.position, e.revision, false FROM eventstore.events e
         WHERE e.event_id = ANY (v_ids)
         ORDER BY e.revision;
      RETURN;
    END IF;
    RAISE EXCEPTION USING ERRCODE = 'HS410',
      MESSAGE = format('%s of %s event ids are already stored (%s in stream %s)', v_stored, v_count, v_stored_here, p_stream);
  END IF;

  SELECT coalesce(max(e.revision), -1) INTO v_current FROM eventstore.events e WHERE e.stream_id = p_stream;
  IF (p_expected = 'no_stream' AND v_current <> -1)
     OR (p_expected = 'stream_exists' AND v_current = -1)
     OR (p_expected NOT IN ('any', 'no_stream', 'stream_exists') AND v_current <> p_expected::bigint) THEN
    RAISE EXCEPTION USING ERRCODE = 'HS409', DETAIL = v_current::text,
      MESSAGE = format('wrong expected revision for stream %s: expected %s, actual %s', p_stream, p_expected, v_current);
  END IF;

  IF v_count = 0 THEN
    RETURN;
  END IF;

  v_index := coalesce(nullif(current_setting('eventstore.tx_index', true), '')::bigint, 0);
  IF v_index + v_count > 1048576 THEN
    RAISE EXCEPTION USING ERRCODE = 'HS413', MESSAGE = 'more than 1048576 events appended in one transaction';
  END IF;
  SELECT (pg_current_xact_id()::text::bigint + b.xid_offset) << 20 INTO v_base FROM eventstore.position_base b;

  RETURN QUERY
    INSERT INTO eventstore.events AS e (position, xid, event_id, stream_id, revision, type, data, metadata)
    SELECT v_base + v_index + t.o - 1, pg_current_xact_id(), t.x->>'id', p_stream, v_current + t.o,
           t.x->>'type', t.x->'data', t.x->'metadata'
      FROM json_array_elements(p_events) WITH ORDINALITY AS t(x, o)
    RETURNING e.event_id, e.position, e.revision, true;

  PERFORM set_config('eventstore.tx_index', (v_index + v_count)::text, true);
  IF p_notify THEN
    PERFORM pg_notify('eventstore_appended', '');
  END IF;
END
$$;
