/**
 * Real ed25519 keys for tests of cross-signing: generated with node:crypto, public keys in
 * unpadded Base64 as Matrix writes them, signatures over the canonical JSON of an object
 * without `signatures` and `unsigned` (appendices, "Signing JSON").
 */
import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { canonicalJson } from '@hs/protocol';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- signed test objects are read freely
export type Signable = Record<string, any>;

export interface TestKey {
  /** Unpadded Base64 of the 32-byte public key. */
  publicKey: string;
  privateKey: KeyObject;
}

export function testKey(): TestKey {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const raw = publicKey.export({ format: 'der', type: 'spki' }).subarray(-32);
  return { publicKey: raw.toString('base64').replace(/=+$/, ''), privateKey };
}

/** A copy of `object` with the signature of `signer`'s key `keyId` (default `ed25519:<public key>`) added. */
export function signed<T extends Signable>(object: T, signer: string, key: TestKey, keyId = `ed25519:${key.publicKey}`): T {
  const { signatures = {}, unsigned: _unsigned, ...content } = object;
  const signature = sign(null, Buffer.from(canonicalJson(content), 'utf8'), key.privateKey).toString('base64').replace(/=+$/, '');
  return { ...object, signatures: { ...signatures, [signer]: { ...(signatures[signer] ?? {}), [keyId]: signature } } };
}

/** An unsigned CrossSigningKey of `userId` for `key`. */
export function crossSigningKey(userId: string, usage: string, key: TestKey): Signable {
  return { user_id: userId, usage: [usage], keys: { [`ed25519:${key.publicKey}`]: key.publicKey } };
}

/** Device keys of a device, self-signed with its ed25519 key `key`. */
export function deviceKeys(userId: string, deviceId: string, key: TestKey): Signable {
  const keys = {
    user_id: userId,
    device_id: deviceId,
    algorithms: ['m.olm.v1.curve25519-aes-sha2', 'm.megolm.v1.aes-sha2'],
    keys: { [`curve25519:${deviceId}`]: 'curve+key', [`ed25519:${deviceId}`]: key.publicKey },
  };
  return signed(keys, userId, key, `ed25519:${deviceId}`);
}

/** A user's master, self-signing and user-signing keys, the last two signed by the master key. */
export function crossSigningKeys(userId: string): { master: TestKey; selfSigning: TestKey; userSigning: TestKey; upload: Signable } {
  const master = testKey();
  const selfSigning = testKey();
  const userSigning = testKey();
  return {
    master,
    selfSigning,
    userSigning,
    upload: {
      master_key: crossSigningKey(userId, 'master', master),
      self_signing_key: signed(crossSigningKey(userId, 'self_signing', selfSigning), userId, master),
      user_signing_key: signed(crossSigningKey(userId, 'user_signing', userSigning), userId, master),
    },
  };
}
