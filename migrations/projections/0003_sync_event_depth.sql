-- The sync projection holds each event's depth (its projector version 4: /messages and
-- /context page in topological order, by depth then position). A version change makes the
-- runner rebuild the projection in a new generation while the live one keeps serving; the
-- generations written before this version get the column here, filled from the event store
-- (the depth of each accepted event's PDU), so that they serve this version's queries
-- meanwhile. A depth that is not a plain integer of at most 15 digits counts as 0, as the
-- projector counts it.
DO $$
DECLARE
  generation record;
  active int;
BEGIN
  FOR generation IN
    SELECT t.table_schema AS name FROM information_schema.tables t
     WHERE t.table_name = 'events' AND t.table_type = 'BASE TABLE' AND t.table_schema ~ '^proj_sync_[0-9]+$'
       AND NOT EXISTS (SELECT 1 FROM information_schema.columns c
                        WHERE c.table_schema = t.table_schema AND c.table_name = 'events' AND c.column_name = 'depth')
  LOOP
    EXECUTE format('ALTER TABLE %I.events ADD COLUMN depth bigint NOT NULL DEFAULT 0', generation.name);
    EXECUTE format($update$
      UPDATE %I.events e SET depth = s.depth
        FROM (SELECT f.data ->> 'event_id' AS event_id,
                     CASE WHEN (f.data -> 'pdu' ->> 'depth') ~ '^[0-9]{1,15}$' THEN (f.data -> 'pdu' ->> 'depth')::bigint ELSE 0 END AS depth
                FROM eventstore.events f WHERE f.type = 'RoomEventAccepted') s
       WHERE s.event_id = e.event_id AND s.depth <> 0$update$, generation.name);
    EXECUTE format('CREATE INDEX events_topological ON %I.events (room_id, depth, position) WHERE in_timeline', generation.name);
  END LOOP;
  -- The view of the active generation lists the table's columns as they were when it was made.
  SELECT g.active_generation INTO active FROM projections.projection_generations g WHERE g.name = 'sync';
  IF active IS NOT NULL AND EXISTS (SELECT 1 FROM information_schema.views v WHERE v.table_schema = 'proj_sync' AND v.table_name = 'events')
     AND NOT EXISTS (SELECT 1 FROM information_schema.columns c WHERE c.table_schema = 'proj_sync' AND c.table_name = 'events' AND c.column_name = 'depth') THEN
    EXECUTE format('CREATE OR REPLACE VIEW proj_sync.events AS SELECT * FROM %I.events', 'proj_sync_' || active);
  END IF;
END
$$;
