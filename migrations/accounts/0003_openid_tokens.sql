-- OpenID tokens (POST /_matrix/client/v3/user/{userId}/openid/request_token), which other
-- services exchange for the user's id through GET /_matrix/federation/v1/openid/userinfo.
-- Stored as the hex SHA-256 of the token, valid until expires_ts; expired ones are deleted
-- when new ones are issued.
CREATE TABLE accounts.openid_tokens (
  token_hash  text PRIMARY KEY,
  user_id     text NOT NULL REFERENCES accounts.users (user_id) ON DELETE CASCADE,
  expires_ts  bigint NOT NULL
);
CREATE INDEX openid_tokens_expiry ON accounts.openid_tokens (expires_ts);
