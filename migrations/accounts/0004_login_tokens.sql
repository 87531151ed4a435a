-- Login tokens (POST /_matrix/client/v1/login/get_token, then POST /login with m.login.token):
-- a signed-in device lets a new one sign in as the same user. Stored as the hex SHA-256 of the
-- token; each is good for one login, until expires_ts. Expired ones are deleted when new ones
-- are issued.
CREATE TABLE accounts.login_tokens (
  token_hash  text PRIMARY KEY,
  user_id     text NOT NULL REFERENCES accounts.users (user_id) ON DELETE CASCADE,
  expires_ts  bigint NOT NULL
);
CREATE INDEX login_tokens_expiry ON accounts.login_tokens (expires_ts);
