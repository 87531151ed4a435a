-- Local user accounts, their devices and access tokens, user-interactive auth sessions,
-- registration tokens, shared-secret registration nonces, profiles, account data and filters.
-- Everything lives in the schema `accounts`.

CREATE SCHEMA IF NOT EXISTS accounts;

CREATE TABLE accounts.users (
  user_id        text PRIMARY KEY,
  localpart      text NOT NULL UNIQUE,
  -- argon2id PHC string; NULL when the account has no password (guests, deactivated users).
  password_hash  text,
  kind           text NOT NULL CHECK (kind IN ('user', 'guest')),
  is_admin       boolean NOT NULL DEFAULT false,
  user_type      text,
  deactivated    boolean NOT NULL DEFAULT false,
  created_ts     bigint NOT NULL
);

-- Source of server-generated (numeric) localparts.
CREATE SEQUENCE accounts.generated_localpart_seq START 1;

CREATE TABLE accounts.devices (
  user_id       text NOT NULL REFERENCES accounts.users (user_id) ON DELETE CASCADE,
  device_id     text NOT NULL,
  display_name  text,
  last_seen_ip  text,
  last_seen_ts  bigint,
  last_seen_user_agent text,
  created_ts    bigint NOT NULL,
  PRIMARY KEY (user_id, device_id)
);

-- Access tokens are stored as the hex SHA-256 of the token; the token itself is never stored.
CREATE TABLE accounts.access_tokens (
  token_hash  text PRIMARY KEY,
  user_id     text NOT NULL,
  device_id   text NOT NULL,
  created_ts  bigint NOT NULL,
  FOREIGN KEY (user_id, device_id) REFERENCES accounts.devices (user_id, device_id) ON DELETE CASCADE
);
CREATE INDEX access_tokens_device ON accounts.access_tokens (user_id, device_id);

-- User-interactive authentication sessions.
CREATE TABLE accounts.uia_sessions (
  session_id  text PRIMARY KEY,
  operation   text NOT NULL,
  user_id     text,
  flows       jsonb NOT NULL,
  params      jsonb NOT NULL,
  completed   jsonb NOT NULL DEFAULT '[]'::jsonb,
  -- The registration token this session holds a pending use of, if any.
  registration_token text,
  created_ts  bigint NOT NULL,
  expires_ts  bigint NOT NULL
);
CREATE INDEX uia_sessions_expiry ON accounts.uia_sessions (expires_ts);

-- Registration tokens (m.login.registration_token).
CREATE TABLE accounts.registration_tokens (
  token         text PRIMARY KEY,
  uses_allowed  integer CHECK (uses_allowed IS NULL OR uses_allowed >= 0),
  pending       integer NOT NULL DEFAULT 0 CHECK (pending >= 0),
  completed     integer NOT NULL DEFAULT 0 CHECK (completed >= 0),
  expiry_ts     bigint,
  created_ts    bigint NOT NULL
);

-- Single-use nonces of shared-secret registration.
CREATE TABLE accounts.shared_secret_nonces (
  nonce       text PRIMARY KEY,
  expires_ts  bigint NOT NULL
);

-- Profile fields (displayname, avatar_url, m.tz, custom namespaced keys).
CREATE TABLE accounts.profile_fields (
  user_id  text NOT NULL REFERENCES accounts.users (user_id) ON DELETE CASCADE,
  field    text NOT NULL,
  value    jsonb NOT NULL,
  PRIMARY KEY (user_id, field)
);

-- Stream positions handed out under a row lock, so they become visible in commit order.
CREATE TABLE accounts.stream_positions (
  stream    text PRIMARY KEY,
  position  bigint NOT NULL
);
INSERT INTO accounts.stream_positions (stream, position) VALUES ('account_data', 0);

-- Account data: global (room_id = '') and per room. stream_id is the position of the last change.
CREATE TABLE accounts.account_data (
  user_id    text NOT NULL,
  room_id    text NOT NULL,
  type       text NOT NULL,
  content    jsonb NOT NULL,
  stream_id  bigint NOT NULL,
  PRIMARY KEY (user_id, room_id, type)
);
CREATE INDEX account_data_stream ON accounts.account_data (user_id, stream_id);

-- Filters uploaded by clients (POST /user/{userId}/filter).
CREATE TABLE accounts.filters (
  user_id      text NOT NULL,
  filter_id    bigint NOT NULL,
  filter_json  jsonb NOT NULL,
  PRIMARY KEY (user_id, filter_id)
);
CREATE SEQUENCE accounts.filter_id_seq START 0 MINVALUE 0;
