-- Application services (libs/appservice): how far each service has been sent the room events
-- of the event store, and the transaction in flight. Everything lives in the schema
-- `appservice`. See docs/appservices.md.
CREATE SCHEMA IF NOT EXISTS appservice;

CREATE TABLE appservice.services (
  -- The `id` of the registration file.
  id text PRIMARY KEY,
  -- Global store position up to which every event of interest to the service was acknowledged
  -- by it (2xx to PUT /transactions) or none was there.
  position bigint NOT NULL,
  -- The number of the last transaction declared (transaction ids are these numbers).
  last_txn bigint NOT NULL DEFAULT 0,
  -- Set while a transaction is sent and not yet acknowledged: its events, up to store position
  -- inflight_to. After a restart the same body goes again under the same id.
  inflight_to bigint,
  inflight_txn bigint,
  inflight_body jsonb,
  -- Consecutive failed attempts and why the last one failed (safe to show an operator).
  failures integer NOT NULL DEFAULT 0,
  last_error text,
  CHECK ((inflight_to IS NULL) = (inflight_txn IS NULL) AND (inflight_to IS NULL) = (inflight_body IS NULL))
);
