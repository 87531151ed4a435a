/**
 * Ed25519 signing keys through node:crypto (OpenSSL). A key is made from its raw 32-byte
 * seed; KeyObjects are built once and cached because signing and verifying are hot paths.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { decodeBase64, encodeBase64, InvalidBase64Error } from '../json/base64';

/** The only signing algorithm servers use. */
export const ED25519 = 'ed25519';

/** Key versions (the part after `ed25519:`) use the characters [a-zA-Z0-9_] (server-server-api.md "Publishing Keys"). */
const KEY_VERSION = /^[a-zA-Z0-9_]+$/;

/** DER prefixes that wrap a raw Ed25519 seed (PKCS#8) and a raw public key (SPKI). */
const PKCS8_ED25519_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
const SPKI_ED25519_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

export class InvalidSigningKeyError extends Error {
  constructor(readonly reason: string) {
    super(`Invalid signing key: ${reason}`);
    this.name = 'InvalidSigningKeyError';
  }
}

/** An Ed25519 signing key with its id (`ed25519:<version>`). */
export interface SigningKey {
  readonly algorithm: typeof ED25519;
  /** `ed25519:<version>`. */
  readonly keyId: string;
  readonly version: string;
  /** The raw 32-byte seed (the secret). */
  readonly seed: Uint8Array;
  /** The raw 32-byte public key. */
  readonly publicKey: Uint8Array;
  /** The public key in unpadded Base64, as published in /_matrix/key/v2/server. */
  readonly publicKeyBase64: string;
  /** The node:crypto private key, built once. */
  readonly privateKeyObject: KeyObject;
}

/** True when `version` is a valid key version (the part after `ed25519:`). */
export function isValidKeyVersion(version: string): boolean {
  return KEY_VERSION.test(version);
}

/** Splits a key id `algorithm:version`; throws InvalidSigningKeyError if it is not of that form. */
export function parseKeyId(keyId: string): { algorithm: string; version: string } {
  const i = keyId.indexOf(':');
  if (i <= 0 || i === keyId.length - 1) throw new InvalidSigningKeyError(`key id "${keyId}" is not "<algorithm>:<version>"`);
  const algorithm = keyId.slice(0, i);
  const version = keyId.slice(i + 1);
  if (!isValidKeyVersion(version)) throw new InvalidSigningKeyError(`key version "${version}" must match [a-zA-Z0-9_]+`);
  return { algorithm, version };
}

function seedBytes(seed: Uint8Array | string): Buffer {
  let bytes: Uint8Array;
  if (typeof seed === 'string') {
    try {
      bytes = decodeBase64(seed);
    } catch (e) {
      if (e instanceof InvalidBase64Error) throw new InvalidSigningKeyError(`seed is not base64 (${e.reason})`);
      throw e;
    }
  } else {
    bytes = seed;
  }
  if (bytes.length !== 32) throw new InvalidSigningKeyError(`an Ed25519 seed is 32 bytes, got ${bytes.length}`);
  return Buffer.from(bytes);
}

/**
 * The signing key for a raw 32-byte seed (bytes or unpadded Base64) under `keyId`
 * (`ed25519:<version>`).
 */
export function signingKeyFromSeed(seed: Uint8Array | string, keyId: string): SigningKey {
  const { algorithm, version } = parseKeyId(keyId);
  if (algorithm !== ED25519) throw new InvalidSigningKeyError(`unsupported algorithm "${algorithm}"`);
  const raw = seedBytes(seed);
  const privateKeyObject = createPrivateKey({
    key: Buffer.concat([PKCS8_ED25519_PREFIX, raw]),
    format: 'der',
    type: 'pkcs8',
  });
  const spki = createPublicKey(privateKeyObject).export({ format: 'der', type: 'spki' });
  const publicKey = new Uint8Array(spki.subarray(SPKI_ED25519_PREFIX.length));
  return Object.freeze({
    algorithm: ED25519,
    keyId,
    version,
    seed: new Uint8Array(raw),
    publicKey,
    publicKeyBase64: encodeBase64(publicKey),
    privateKeyObject,
  });
}

/** A fresh random signing key `ed25519:<version>`. */
export function generateSigningKey(version: string): SigningKey {
  if (!isValidKeyVersion(version)) throw new InvalidSigningKeyError(`key version "${version}" must match [a-zA-Z0-9_]+`);
  const { privateKey } = generateKeyPairSync('ed25519');
  const pkcs8 = privateKey.export({ format: 'der', type: 'pkcs8' });
  return signingKeyFromSeed(pkcs8.subarray(PKCS8_ED25519_PREFIX.length), `${ED25519}:${version}`);
}

/** The raw 64-byte Ed25519 signature of `message`. */
export function signBytes(key: SigningKey, message: Uint8Array): Uint8Array {
  return new Uint8Array(sign(null, message, key.privateKeyObject));
}

/** Public KeyObjects by their unpadded Base64; bounded so a stream of unknown keys cannot grow it without limit. */
const publicKeyCache = new Map<string, KeyObject>();
const PUBLIC_KEY_CACHE_LIMIT = 4096;

function publicKeyObject(publicKey: Uint8Array | string): KeyObject | undefined {
  const cacheKey = typeof publicKey === 'string' ? publicKey.replace(/=+$/, '') : encodeBase64(publicKey);
  const cached = publicKeyCache.get(cacheKey);
  if (cached) return cached;
  let raw: Uint8Array;
  try {
    raw = typeof publicKey === 'string' ? decodeBase64(publicKey) : publicKey;
  } catch {
    return undefined;
  }
  if (raw.length !== 32) return undefined;
  let obj: KeyObject;
  try {
    obj = createPublicKey({ key: Buffer.concat([SPKI_ED25519_PREFIX, raw]), format: 'der', type: 'spki' });
  } catch {
    return undefined;
  }
  if (publicKeyCache.size >= PUBLIC_KEY_CACHE_LIMIT) {
    const oldest = publicKeyCache.keys().next().value;
    if (oldest !== undefined) publicKeyCache.delete(oldest);
  }
  publicKeyCache.set(cacheKey, obj);
  return obj;
}

/**
 * Verifies a raw Ed25519 signature. `publicKey` is the raw 32 bytes or their Base64.
 * Returns false (never throws) for a malformed key or signature.
 */
export function verifyBytes(publicKey: Uint8Array | string, message: Uint8Array, signature: Uint8Array): boolean {
  if (signature.length !== 64) return false;
  const key = publicKeyObject(publicKey);
  if (!key) return false;
  try {
    return verify(null, message, key, signature);
  } catch {
    return false;
  }
}

/**
 * {@link verifyBytes} in libuv's thread pool (node:crypto's asynchronous verify): the calling
 * thread goes on meanwhile, so a batch of signatures is verified on the other cores. Resolves
 * false (never rejects) for a malformed key or signature.
 */
export function verifyBytesInPool(publicKey: Uint8Array | string, message: Uint8Array, signature: Uint8Array): Promise<boolean> {
  if (signature.length !== 64) return Promise.resolve(false);
  const key = publicKeyObject(publicKey);
  if (!key) return Promise.resolve(false);
  return new Promise((resolve) => {
    try {
      verify(null, message, key, signature, (error, valid) => resolve(!error && valid));
    } catch {
      resolve(false);
    }
  });
}
