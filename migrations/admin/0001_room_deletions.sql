-- Room deletions asked through DELETE /_synapse/admin/v2/rooms/{roomId}, with their progress,
-- for GET /_synapse/admin/v2/rooms/{roomId}/delete_status and .../delete_status/{deleteId}.
CREATE SCHEMA IF NOT EXISTS admin;

CREATE TABLE admin.room_deletions (
  delete_id    text PRIMARY KEY,
  room_id      text NOT NULL,
  requester    text NOT NULL,
  -- scheduled, active (members leaving), purging, complete or failed.
  status       text NOT NULL CHECK (status IN ('scheduled', 'active', 'purging', 'complete', 'failed')),
  block        boolean NOT NULL,
  purge        boolean NOT NULL,
  -- Synapse's shutdown_room: kicked_users, failed_to_kick_users, local_aliases, new_room_id.
  result       jsonb NOT NULL DEFAULT '{"kicked_users": [], "failed_to_kick_users": [], "local_aliases": [], "new_room_id": null}'::jsonb,
  error        text,
  created_ts   bigint NOT NULL,
  updated_ts   bigint NOT NULL
);
CREATE INDEX room_deletions_room ON admin.room_deletions (room_id, created_ts);
