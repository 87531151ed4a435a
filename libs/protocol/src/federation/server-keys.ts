/**
 * Server signing keys as published at `/_matrix/key/v2/server` (server-server-api.md
 * "Publishing Keys", definitions/keys.yaml): building our own response, checking another
 * server's, and the rules for when a verify key may be used.
 *
 * Time is passed in: nothing here reads a clock.
 */
import { decodeBase64 } from '../json/base64';
import { ED25519, isValidKeyVersion, type SigningKey } from '../crypto/ed25519';
import { signatureKeyIds, signJson, verifyJsonSignature, type SignaturesBlock } from '../crypto/sign-json';

/**
 * Servers MUST use the lesser of `valid_until_ts` and 7 days into the future when deciding
 * whether a key is valid (definitions/keys.yaml), so a leaked key cannot be published for
 * longer.
 */
export const MAX_KEY_VALIDITY_MS = 7 * 24 * 60 * 60 * 1000;

/** Most keys one response may list (current and old together); more is refused as hostile. */
export const MAX_KEYS_PER_RESPONSE = 64;

/** A key a server has stopped using: valid for events signed before `expiredTs`, never for requests. */
export interface OldVerifyKey {
  /** Unpadded Base64 of the 32-byte Ed25519 public key. */
  readonly key: string;
  readonly expiredTs: number;
}

/** A checked `/_matrix/key/v2/server` response. */
export interface ServerKeys {
  readonly serverName: string;
  /** `valid_until_ts` as published. */
  readonly validUntilTs: number;
  /** Current Ed25519 keys: key id → unpadded Base64 public key. */
  readonly verifyKeys: ReadonlyMap<string, string>;
  readonly oldVerifyKeys: ReadonlyMap<string, OldVerifyKey>;
  /** The response as received (with its signatures), for notaries to pass on. */
  readonly json: Record<string, unknown>;
}

/** A key response that cannot be used; `reason` says why. */
export class InvalidServerKeysError extends Error {
  constructor(readonly reason: string) {
    super(`Invalid server keys: ${reason}`);
    this.name = 'InvalidServerKeysError';
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isTimestamp(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

/** True when `key` is unpadded (or padded) Base64 of exactly 32 bytes. */
export function isEd25519PublicKey(key: unknown): key is string {
  if (typeof key !== 'string' || key.length > 64) return false;
  try {
    return decodeBase64(key).length === 32;
  } catch {
    return false;
  }
}

/** The algorithm of a key id whose version is valid, or null. */
function algorithmOf(keyId: string): string | null {
  const colon = keyId.indexOf(':');
  if (colon <= 0) return null;
  return isValidKeyVersion(keyId.slice(colon + 1)) ? keyId.slice(0, colon) : null;
}

export interface OurServerKeysInput {
  readonly serverName: string;
  /** The keys in use; the response is signed by each. */
  readonly signingKeys: readonly SigningKey[];
  /** Keys no longer in use: key id → public key and when it stopped being used. */
  readonly oldKeys?: ReadonlyMap<string, OldVerifyKey>;
  readonly validUntilTs: number;
}

/** Our own `/_matrix/key/v2/server` response, signed by every key in use. */
export function buildServerKeys(input: OurServerKeysInput): Record<string, unknown> & { signatures: SignaturesBlock } {
  if (input.signingKeys.length === 0) throw new InvalidServerKeysError('a server publishes at least one key');
  const verify_keys: Record<string, { key: string }> = {};
  for (const key of input.signingKeys) verify_keys[key.keyId] = { key: key.publicKeyBase64 };
  const old_verify_keys: Record<string, { key: string; expired_ts: number }> = {};
  for (const [keyId, old] of input.oldKeys ?? []) {
    if (keyId in verify_keys) continue;
    old_verify_keys[keyId] = { key: old.key, expired_ts: old.expiredTs };
  }
  let signed = { server_name: input.serverName, verify_keys, old_verify_keys, valid_until_ts: input.validUntilTs } as Record<string, unknown>;
  for (const key of input.signingKeys) signed = signJson(signed, input.serverName, key);
  return signed as Record<string, unknown> & { signatures: SignaturesBlock };
}

/**
 * Checks a `/_matrix/key/v2/server` response of `expectedServerName`: its shape, that it is
 * the response of that server, and that it is signed by the keys it lists. At least one of
 * its current Ed25519 keys must have signed it, and every signature it carries by one of
 * those keys must verify. Keys of other algorithms are ignored. Throws InvalidServerKeysError.
 */
export function parseServerKeys(json: unknown, expectedServerName: string): ServerKeys {
  if (!isRecord(json)) throw new InvalidServerKeysError('not a JSON object');
  if (json.server_name !== expectedServerName) {
    throw new InvalidServerKeysError(`server_name is ${JSON.stringify(json.server_name)?.slice(0, 300)}, expected ${expectedServerName}`);
  }
  if (!isTimestamp(json.valid_until_ts)) throw new InvalidServerKeysError('valid_until_ts is not a non-negative integer');
  if (!isRecord(json.verify_keys)) throw new InvalidServerKeysError('verify_keys is not an object');
  const oldRaw = json.old_verify_keys ?? {};
  if (!isRecord(oldRaw)) throw new InvalidServerKeysError('old_verify_keys is not an object');
  if (Object.keys(json.verify_keys).length + Object.keys(oldRaw).length > MAX_KEYS_PER_RESPONSE) {
    throw new InvalidServerKeysError(`more than ${MAX_KEYS_PER_RESPONSE} keys`);
  }
  const verifyKeys = new Map<string, string>();
  for (const [keyId, entry] of Object.entries(json.verify_keys)) {
    const algorithm = algorithmOf(keyId);
    if (algorithm === null) throw new InvalidServerKeysError(`bad key id ${JSON.stringify(keyId).slice(0, 100)} in verify_keys`);
    if (!isRecord(entry) || typeof entry.key !== 'string') throw new InvalidServerKeysError(`verify_keys.${keyId} has no key`);
    if (algorithm !== ED25519) continue;
    if (!isEd25519PublicKey(entry.key)) throw new InvalidServerKeysError(`verify_keys.${keyId} is not a 32-byte Ed25519 key`);
    verifyKeys.set(keyId, entry.key);
  }
  const oldVerifyKeys = new Map<string, OldVerifyKey>();
  for (const [keyId, entry] of Object.entries(oldRaw)) {
    const algorithm = algorithmOf(keyId);
    if (algorithm === null) throw new InvalidServerKeysError(`bad key id ${JSON.stringify(keyId).slice(0, 100)} in old_verify_keys`);
    if (!isRecord(entry) || typeof entry.key !== 'string') throw new InvalidServerKeysError(`old_verify_keys.${keyId} has no key`);
    if (!isTimestamp(entry.expired_ts)) throw new InvalidServerKeysError(`old_verify_keys.${keyId}.expired_ts is not a non-negative integer`);
    if (algorithm !== ED25519 || verifyKeys.has(keyId)) continue;
    if (!isEd25519PublicKey(entry.key)) throw new InvalidServerKeysError(`old_verify_keys.${keyId} is not a 32-byte Ed25519 key`);
    oldVerifyKeys.set(keyId, { key: entry.key, expiredTs: entry.expired_ts });
  }
  let verified = 0;
  for (const keyId of signatureKeyIds(json, expectedServerName)) {
    const publicKey = verifyKeys.get(keyId);
    if (publicKey === undefined) continue;
    if (!verifyJsonSignature(json, expectedServerName, keyId, publicKey)) {
      throw new InvalidServerKeysError(`the signature by ${keyId} does not verify`);
    }
    verified++;
  }
  if (verified === 0) throw new InvalidServerKeysError(`not signed by any of its own verify keys`);
  return { serverName: expectedServerName, validUntilTs: json.valid_until_ts, verifyKeys, oldVerifyKeys, json };
}

/**
 * The response with only `serverName`'s signatures kept: what a notary stores and passes on
 * (adding its own), so that one notary's signature is never relayed as another's.
 */
export function withOnlySignaturesOf(json: Record<string, unknown>, serverName: string): Record<string, unknown> {
  const signatures = isRecord(json.signatures) ? json.signatures : {};
  const own = signatures[serverName];
  return { ...json, signatures: isRecord(own) ? { [serverName]: own } : {} };
}

/** The time until which keys received at `receivedAt` may be used: the lesser of `valid_until_ts` and 7 days on. */
export function effectiveValidUntil(validUntilTs: number, receivedAt: number): number {
  return Math.min(validUntilTs, receivedAt + MAX_KEY_VALIDITY_MS);
}

/** What we know of one verify key of a remote server, gathered from any number of responses. */
export interface VerifyKeyRecord {
  readonly serverName: string;
  readonly keyId: string;
  /** Unpadded Base64 public key. */
  readonly key: string;
  /** Latest time the key is known valid as a current key (effective: at most 7 days after it was received); 0 if never current. */
  readonly validUntilTs: number;
  /** When the server said it stopped using the key (old_verify_keys), or null. */
  readonly expiredTs: number | null;
}

/** The verify key records one checked response gives, received at `receivedAt`. */
export function verifyKeyRecords(keys: ServerKeys, receivedAt: number): VerifyKeyRecord[] {
  const validUntilTs = effectiveValidUntil(keys.validUntilTs, receivedAt);
  const records: VerifyKeyRecord[] = [];
  for (const [keyId, key] of keys.verifyKeys) records.push({ serverName: keys.serverName, keyId, key, validUntilTs, expiredTs: null });
  for (const [keyId, old] of keys.oldVerifyKeys) {
    records.push({ serverName: keys.serverName, keyId, key: old.key, validUntilTs: 0, expiredTs: old.expiredTs });
  }
  return records;
}

/**
 * Combines what was known of a key with a newer record of it. A different public key under
 * the same id replaces the old one whole (the newer answer wins). Otherwise the key stays
 * valid until the later of the two times, and the earliest expiry said stays.
 */
export function mergeVerifyKey(known: VerifyKeyRecord | undefined, incoming: VerifyKeyRecord): VerifyKeyRecord {
  if (known === undefined || known.key !== incoming.key) return incoming;
  const expiredTs = known.expiredTs === null ? incoming.expiredTs : incoming.expiredTs === null ? known.expiredTs : Math.min(known.expiredTs, incoming.expiredTs);
  return { ...incoming, validUntilTs: Math.max(known.validUntilTs, incoming.validUntilTs), expiredTs };
}

export interface KeyUse {
  /** The time the signature was made (now for a request; `origin_server_ts` for an event). */
  readonly at: number;
  /**
   * `request`: signing a request now, for which only current keys count; `event`: signing an
   * event, for which an old key counts before its expiry.
   */
  readonly purpose: 'request' | 'event';
  /**
   * Whether `valid_until_ts` applies: room versions 1 to 4 ignore it for events (default
   * true).
   */
  readonly enforceValidUntil?: boolean;
}

/** True when the key may verify a signature made at `use.at` for `use.purpose`. */
export function isKeyUsable(record: VerifyKeyRecord, use: KeyUse): boolean {
  const stillCurrent = record.expiredTs === null || use.at < record.expiredTs;
  if (use.purpose === 'request') return stillCurrent && record.validUntilTs > 0 && use.at <= record.validUntilTs;
  if (record.expiredTs !== null && use.at < record.expiredTs) return true;
  if (record.validUntilTs === 0) return false;
  return use.enforceValidUntil === false || use.at <= record.validUntilTs;
}
