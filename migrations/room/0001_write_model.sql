-- Write model of the room write side (libs/room): derived from the room streams of the event
-- store, updated in the same transaction as each append, rebuildable with rebuildWriteModel.
CREATE SCHEMA IF NOT EXISTS room;

-- One row per room this server knows.
CREATE TABLE room.rooms (
  room_id text PRIMARY KEY,
  room_version text NOT NULL,
  creator text NOT NULL,
  -- Revision of the last record of the room's stream (the expected revision of the next append).
  stream_revision bigint NOT NULL,
  -- Published in the room directory (createRoom visibility, PUT /directory/list/room).
  published boolean NOT NULL DEFAULT false,
  -- The state group of the room's current state.
  state_group text
);

-- State snapshots, deduplicated: a group is named after the state event that created it and is
-- either a full map (prev_group NULL) or a delta on prev_group. A NULL event_id in an entry
-- removes the (type, state_key) of the previous group.
CREATE TABLE room.state_groups (
  group_id text PRIMARY KEY,
  room_id text NOT NULL,
  prev_group text REFERENCES room.state_groups (group_id),
  -- Number of deltas between this group and the full map it rests on (0 for a full map).
  chain_length integer NOT NULL
);

CREATE TABLE room.state_group_entries (
  group_id text NOT NULL REFERENCES room.state_groups (group_id),
  type text NOT NULL,
  state_key text NOT NULL,
  event_id text,
  PRIMARY KEY (group_id, type, state_key)
);

-- Every event of every room, by id.
CREATE TABLE room.events (
  event_id text PRIMARY KEY,
  room_id text NOT NULL,
  type text NOT NULL,
  state_key text,
  sender text NOT NULL,
  depth bigint NOT NULL,
  pdu jsonb NOT NULL,
  auth_events text[] NOT NULL,
  prev_events text[] NOT NULL,
  stream_revision bigint NOT NULL,
  stream_position bigint NOT NULL,
  rejected boolean NOT NULL DEFAULT false,
  soft_failed boolean NOT NULL DEFAULT false,
  outlier boolean NOT NULL DEFAULT false,
  -- The state after this event (NULL for rejected events).
  state_group text REFERENCES room.state_groups (group_id)
);
CREATE INDEX events_room_revision ON room.events (room_id, stream_revision);

-- The current state of each room, with the membership of m.room.member entries.
CREATE TABLE room.current_state (
  room_id text NOT NULL,
  type text NOT NULL,
  state_key text NOT NULL,
  event_id text NOT NULL,
  membership text,
  PRIMARY KEY (room_id, type, state_key)
);
CREATE INDEX current_state_members ON room.current_state (state_key, membership) WHERE type = 'm.room.member';

-- The forward extremities (events without children) of each room.
CREATE TABLE room.forward_extremities (
  room_id text NOT NULL,
  event_id text NOT NULL,
  PRIMARY KEY (room_id, event_id)
);

-- Client transaction ids: a retried PUT /send returns the event id of the first attempt.
CREATE TABLE room.client_transactions (
  user_id text NOT NULL,
  device_id text NOT NULL,
  txn_id text NOT NULL,
  room_id text NOT NULL,
  event_id text NOT NULL,
  PRIMARY KEY (user_id, device_id, txn_id)
);

-- Local room aliases.
CREATE TABLE room.aliases (
  alias text PRIMARY KEY,
  room_id text NOT NULL,
  creator text NOT NULL
);
CREATE INDEX aliases_room ON room.aliases (room_id);

-- Rooms a user has forgotten (POST /rooms/{roomId}/forget).
CREATE TABLE room.forgotten (
  user_id text NOT NULL,
  room_id text NOT NULL,
  PRIMARY KEY (user_id, room_id)
);
