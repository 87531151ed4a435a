-- A client transaction id is scoped to the device and the HTTP path it was used on (the room
-- and event type of a send, the room and event of a redaction): the same id on another path
-- is a new request. Transactions recorded before this have the empty scope.
ALTER TABLE room.client_transactions ADD COLUMN scope text NOT NULL DEFAULT '';
ALTER TABLE room.client_transactions DROP CONSTRAINT client_transactions_pkey;
ALTER TABLE room.client_transactions ADD PRIMARY KEY (user_id, device_id, txn_id, scope);
