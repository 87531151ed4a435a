-- Other servers' signing keys (libs/keys): the key ring's cache, kept across restarts.
-- Everything lives in the schema `keys`.

CREATE SCHEMA IF NOT EXISTS keys;

-- What we know of each verify key of another server, merged from every checked key response
-- (fetched from the server itself or through a notary).
CREATE TABLE keys.verify_keys (
  server_name     text NOT NULL,
  key_id          text NOT NULL,
  -- Unpadded Base64 of the Ed25519 public key.
  public_key      text NOT NULL,
  -- Latest time the key is valid as a current key: the lesser of the response's valid_until_ts
  -- and 7 days after it was received; 0 when it was only ever listed as an old key.
  valid_until_ts  bigint NOT NULL,
  -- When the server said it stopped using the key (old_verify_keys), if it did.
  expired_ts      bigint,
  fetched_ts      bigint NOT NULL,
  PRIMARY KEY (server_name, key_id)
);

-- The checked key response of each server that is valid the longest, as that server signed it
-- (no other signatures), for answering notary queries (/_matrix/key/v2/query).
CREATE TABLE keys.server_key_responses (
  server_name     text PRIMARY KEY,
  valid_until_ts  bigint NOT NULL,
  fetched_ts      bigint NOT NULL,
  -- The server the response came from: the server itself, or a notary.
  fetched_from    text NOT NULL,
  response_json   text NOT NULL
);
