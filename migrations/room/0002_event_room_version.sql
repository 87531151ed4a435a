-- The room version of each event, so events held before their room is (an invite received
-- from another server, a leave sent through one) can be read back in their format.
ALTER TABLE room.events ADD COLUMN room_version text;
