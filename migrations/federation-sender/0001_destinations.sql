-- Outbound federation (libs/federation-sender): how far each destination server has been sent
-- the room events and receipts of the event store, and how it is retried. Everything lives in
-- the schema `federation_sender`. See docs/federation.md, "Outbound transactions".
CREATE SCHEMA IF NOT EXISTS federation_sender;

CREATE TABLE federation_sender.destinations (
  destination text PRIMARY KEY,
  -- Global store position up to which everything due to the destination was acknowledged by
  -- it (HTTP 200 to PUT /send) or did not concern it.
  position bigint NOT NULL,
  -- Set while a transaction is sent and not yet acknowledged: it holds what is due in
  -- (position, inflight_to], and after a restart it is sent again with the same id.
  inflight_to bigint,
  inflight_txn_id text,
  -- Consecutive failed attempts, and when the next one may start (ms since the epoch; NULL: now).
  failures integer NOT NULL DEFAULT 0,
  retry_at bigint,
  -- Why the last attempt failed (safe to show an operator), NULL after a success.
  last_error text,
  CHECK ((inflight_to IS NULL) = (inflight_txn_id IS NULL)),
  CHECK (inflight_to IS NULL OR inflight_to > position)
);

-- The position up to which the shared reader of the store has handed every event out to the
-- destinations (every destination named by an event up to it has its row above).
CREATE TABLE federation_sender.reader (
  id integer PRIMARY KEY CHECK (id = 1),
  position bigint NOT NULL
);
