-- Cross-signing (client-server API, "Cross-signing"): each local user's master, self-signing
-- and user-signing keys, and the signatures users uploaded on keys (their own devices and
-- master key, other users' master keys).
--
-- Every write of a user's cross-signing keys locks the user's row first (inserting an empty
-- one when there is none), so that the check "does this upload need authentication" and the
-- write it guards see no concurrent change. A signature upload reads the signer's row FOR SHARE.

-- The current cross-signing keys of a user: each the CrossSigningKey object as uploaded
-- (without `unsigned`), as canonical JSON; NULL while the user has none of that kind.
CREATE TABLE e2ee.cross_signing_keys (
  user_id           text PRIMARY KEY,
  master_key        text,
  self_signing_key  text,
  user_signing_key  text,
  updated_ts        bigint NOT NULL
);

-- Signatures uploaded through /keys/signatures/upload: `signer_user_id` signed, with its key
-- `signer_key_id` (`ed25519:<public key>` of a cross-signing key, or `ed25519:<device id>`),
-- the key `target_key_id` of `target_user_id` (a device id, or the public key of a master
-- key). `target_public_key` is the ed25519 key of the signed object when it was signed: a
-- signature is shown only on an object that still holds that key.
CREATE TABLE e2ee.cross_signing_signatures (
  target_user_id     text NOT NULL,
  target_key_id      text NOT NULL,
  signer_user_id     text NOT NULL,
  signer_key_id      text NOT NULL,
  target_public_key  text NOT NULL,
  signature          text NOT NULL,
  PRIMARY KEY (target_user_id, target_key_id, signer_user_id, signer_key_id)
);
-- The signatures a key made, deleted when the signer replaces that key.
CREATE INDEX cross_signing_signatures_signer ON e2ee.cross_signing_signatures (signer_user_id, signer_key_id);
