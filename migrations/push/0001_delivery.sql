-- Delivery of push notifications to push gateways (libs/push): the store position up to which
-- every notification of the push projection was handed to the users' pushers (delivered,
-- rejected or given up after its retries). See docs/push.md.
CREATE SCHEMA IF NOT EXISTS push_delivery;

CREATE TABLE push_delivery.position (
  id integer PRIMARY KEY CHECK (id = 1),
  position bigint NOT NULL
);
