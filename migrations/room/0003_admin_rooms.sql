-- Rooms a server admin blocked (PUT /_synapse/admin/v1/rooms/{roomId}/block, or a shutdown with
-- `block`): users of this server cannot join them. A room need not be known to be blocked.
CREATE TABLE room.blocked_rooms (
  room_id     text PRIMARY KEY,
  blocked_by  text NOT NULL,
  blocked_ts  bigint NOT NULL
);

-- Set by the RoomPurged fact of the room's stream: the read models forgot the room, and the
-- admin API no longer lists it. The write model keeps the room's events and state.
ALTER TABLE room.rooms ADD COLUMN purged boolean NOT NULL DEFAULT false;
