-- The last presence of each local user (libs/sync, the presence store), so that a restart
-- keeps status messages and last activity. The running process keeps presence in memory and
-- writes each change here after the fact; it reads the table once, at start-up.

CREATE SCHEMA IF NOT EXISTS presence;

CREATE TABLE presence.user_presence (
  user_id         text PRIMARY KEY,
  state           text NOT NULL CHECK (state IN ('online', 'unavailable', 'offline')),
  -- The status message; null when none is set.
  status_msg      text,
  -- Last activity, ms since the epoch; 0 when the user was never active.
  last_active_ts  bigint NOT NULL,
  updated_ts      bigint NOT NULL
);
