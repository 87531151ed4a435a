-- Server-side key backups (client-server API, "Server-side key backups"): a user's backup
-- versions and the encrypted room keys stored in them. The server cannot read the keys; it
-- keeps, per session, the one the spec's replacement rules prefer.
--
-- Every write of a user's backups (creating, updating or deleting a version, storing or
-- deleting keys) first locks the user's row of e2ee.backup_users, so one user's writes
-- apply one after another: the check "is this the current version" and the write it
-- guards see no concurrent change.

-- The last backup version handed out to each user. Versions are 1, 2, 3, … per user and
-- never reused, even after their deletion.
CREATE TABLE e2ee.backup_users (
  user_id       text PRIMARY KEY,
  last_version  bigint NOT NULL
);

-- Every backup version a user created. A deleted version keeps its row (with `deleted_ts`
-- set and no keys) so that deleting it again succeeds and its number is never reused. The
-- current version is the highest one not deleted. `etag` counts the changes of the
-- version's keys; `key_count` is how many keys it holds.
CREATE TABLE e2ee.backup_versions (
  user_id     text NOT NULL,
  version     bigint NOT NULL,
  algorithm   text NOT NULL,
  auth_data   text NOT NULL,
  etag        bigint NOT NULL DEFAULT 0,
  key_count   bigint NOT NULL DEFAULT 0,
  created_ts  bigint NOT NULL,
  deleted_ts  bigint,
  PRIMARY KEY (user_id, version)
);

-- The keys of a backup version: one per room and megolm session. `session_data` is the
-- client's (encrypted) JSON as text, returned unchanged.
CREATE TABLE e2ee.backup_keys (
  user_id              text NOT NULL,
  version              bigint NOT NULL,
  room_id              text NOT NULL,
  session_id           text NOT NULL,
  first_message_index  bigint NOT NULL,
  forwarded_count      bigint NOT NULL,
  is_verified          boolean NOT NULL,
  session_data         text NOT NULL,
  PRIMARY KEY (user_id, version, room_id, session_id),
  FOREIGN KEY (user_id, version) REFERENCES e2ee.backup_versions (user_id, version)
);
