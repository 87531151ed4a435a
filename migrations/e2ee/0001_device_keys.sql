-- End-to-end encryption support (libs/e2ee): device keys, one-time and fallback keys, the
-- change log of users' device lists and the to-device inbox. None of this is a room event;
-- the server stores and routes keys it cannot read.
--
-- Positions: every change that /sync reports (a user's device list changed, a to-device
-- message queued) takes the next value of e2ee.stream.position under that row's lock, so
-- positions become visible in commit order: a reader that saw position N has seen every
-- change up to N. The position is the last part of the sync token.

CREATE SCHEMA IF NOT EXISTS e2ee;

CREATE TABLE e2ee.stream (
  id        boolean PRIMARY KEY DEFAULT true CHECK (id),
  position  bigint NOT NULL
);
INSERT INTO e2ee.stream (id, position) VALUES (true, 0);

-- The device keys a device uploaded (the signed DeviceKeys object, without unsigned).
CREATE TABLE e2ee.device_keys (
  user_id     text NOT NULL,
  device_id   text NOT NULL,
  keys_json   text NOT NULL,
  uploaded_ts bigint NOT NULL,
  PRIMARY KEY (user_id, device_id)
);

-- One-time keys not claimed yet; a claim deletes the row it hands out.
CREATE TABLE e2ee.one_time_keys (
  user_id    text NOT NULL,
  device_id  text NOT NULL,
  algorithm  text NOT NULL,
  key_id     text NOT NULL,
  key_json   text NOT NULL,
  PRIMARY KEY (user_id, device_id, algorithm, key_id)
);

-- One fallback key per device and algorithm; `used` once claimed (it stays claimable).
CREATE TABLE e2ee.fallback_keys (
  user_id    text NOT NULL,
  device_id  text NOT NULL,
  algorithm  text NOT NULL,
  key_id     text NOT NULL,
  key_json   text NOT NULL,
  used       boolean NOT NULL DEFAULT false,
  PRIMARY KEY (user_id, device_id, algorithm)
);

-- A user's device list (devices, device keys, cross-signing keys) changed at a position:
-- `device_id` names the device that changed ('' for the user's cross-signing keys or a
-- remote server's announcement).
CREATE TABLE e2ee.device_list_changes (
  position  bigint NOT NULL,
  user_id   text NOT NULL,
  device_id text NOT NULL DEFAULT '',
  PRIMARY KEY (position, user_id, device_id)
);
CREATE INDEX device_list_changes_user ON e2ee.device_list_changes (user_id, position);

-- To-device messages waiting for a device of a local user; deleted once the device's next
-- /sync names a `since` at or after their position.
CREATE TABLE e2ee.to_device (
  position    bigint NOT NULL,
  user_id     text NOT NULL,
  device_id   text NOT NULL,
  sender      text NOT NULL,
  type        text NOT NULL,
  content     text NOT NULL,
  PRIMARY KEY (user_id, device_id, position)
);

-- Transaction ids of PUT /sendToDevice/{eventType}/{txnId} already handled, per sending device
-- and event type (the request's path).
CREATE TABLE e2ee.to_device_txns (
  user_id    text NOT NULL,
  device_id  text NOT NULL,
  type       text NOT NULL,
  txn_id     text NOT NULL,
  sent_ts    bigint NOT NULL,
  PRIMARY KEY (user_id, device_id, type, txn_id)
);
