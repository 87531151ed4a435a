-- What a user-interactive auth session keeps between its requests: the parameters of the
-- operation given so far (a request completing a stage may omit them), and, once the
-- operation succeeded, its result (a retry of the request is answered with it again).
ALTER TABLE accounts.uia_sessions
  ADD COLUMN data jsonb NOT NULL DEFAULT '{}'::jsonb,
  ADD COLUMN result jsonb;
