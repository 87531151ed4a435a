/**
 * Cross-signing (client-server API, "Cross-signing"): the master, self-signing and user-signing
 * keys of local users (POST /keys/device_signing/upload) and the signatures made with them
 * (POST /keys/signatures/upload), shown by /keys/query. Unlike device keys, these signatures
 * are checked here: a self-signing or user-signing key must carry a valid signature of the
 * user's master key, and an uploaded signature is stored only when it verifies against the
 * signing key held here, over the very object held here.
 *
 * Who sees what: master and self-signing keys are public, a user-signing key is shown to its
 * owner alone. A signature a user made on their own keys (a device signed by the self-signing
 * key, the master key signed by a device) is shown to everyone; one made by a user's
 * user-signing key on another user's master key is shown to that signer alone.
 *
 * Device lists: a new master or self-signing key, and every stored signature, record a change
 * of the signed user's device list. A new user-signing key records none: it concerns its owner
 * alone, and a change of the device list would be reported to everyone sharing a room.
 */
import { z } from 'zod';
import { canonicalJson, decodeBase64, isUnpaddedBase64, signedPart, verifyJsonSignature } from '@hs/protocol';
import { isStorableText, sql, type CommonQueryMethods, type DatabasePool } from '../db';
import { MAX_KEY_BYTES, type DeviceKeysService, type JsonObject } from '../device-keys.service';
import { E2eeError, type E2eeErrcode } from '../errors';
import { JsonText } from '../json-text';
import type { CrossSigningKeys, CrossSigningSource, DeviceKeysJson } from '../keys-query.service';
import { recordDeviceListChange } from '../stream';

export type CrossSigningKeyType = 'master' | 'self_signing' | 'user_signing';

/** The request field of each kind of key; the kind is also the `usage` the key must name. */
const FIELDS: Readonly<Record<CrossSigningKeyType, 'master_key' | 'self_signing_key' | 'user_signing_key'>> = {
  master: 'master_key',
  self_signing: 'self_signing_key',
  user_signing: 'user_signing_key',
};
const TYPES = Object.keys(FIELDS) as CrossSigningKeyType[];

/** Most signed objects one signature upload may carry. */
export const MAX_SIGNED_OBJECTS_PER_UPLOAD = 1000;

/** A user's cross-signing keys as /keys/query and the federation API show them (either may be absent). */
export interface PublicCrossSigningKeys {
  master_key?: JsonObject;
  self_signing_key?: JsonObject;
}

/** A failure of one signed object of a signature upload. */
export interface SignatureFailure {
  errcode: E2eeErrcode;
  error: string;
}

/** One cross-signing key: its stored form and its ed25519 public key. */
interface SigningKey {
  /** The object without `unsigned`, as canonical JSON. */
  json: string;
  object: JsonObject;
  /** `ed25519:<public key>`. */
  keyId: string;
  publicKey: string;
}

type KeySet = Partial<Record<CrossSigningKeyType, SigningKey>>;

/** A verified signature, ready to store. */
interface NewSignature {
  targetUserId: string;
  targetKeyId: string;
  signerKeyId: string;
  targetPublicKey: string;
  signature: string;
}

const KeysRow = z.object({
  user_id: z.string(),
  master_key: z.string().nullable(),
  self_signing_key: z.string().nullable(),
  user_signing_key: z.string().nullable(),
});
const SignatureRow = z.object({
  target_user_id: z.string(),
  target_key_id: z.string(),
  signer_user_id: z.string(),
  signer_key_id: z.string(),
  target_public_key: z.string(),
  signature: z.string(),
});
const DeviceKeysRow = z.object({ device_id: z.string(), keys_json: z.string() });

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A key held here (checked when it was uploaded). */
function storedKey(json: string): SigningKey {
  const object = JSON.parse(json) as JsonObject;
  const keyId = Object.keys(object.keys as JsonObject)[0];
  return { json, object, keyId, publicKey: keyId.slice('ed25519:'.length) };
}

function keySetOf(row: z.infer<typeof KeysRow> | null): KeySet {
  const keys: KeySet = {};
  if (row?.master_key) keys.master = storedKey(row.master_key);
  if (row?.self_signing_key) keys.self_signing = storedKey(row.self_signing_key);
  if (row?.user_signing_key) keys.user_signing = storedKey(row.user_signing_key);
  return keys;
}

/** Checks one CrossSigningKey of an upload: the uploader's, naming its usage, with exactly one ed25519 key. */
function parseSigningKey(raw: unknown, userId: string, type: CrossSigningKeyType): SigningKey {
  const field = FIELDS[type];
  if (!isObject(raw)) throw new E2eeError('M_BAD_JSON', `${field} must be an object`);
  if (raw.user_id !== userId) throw new E2eeError('M_INVALID_PARAM', `${field}.user_id is not the user uploading it`);
  if (!Array.isArray(raw.usage) || !raw.usage.every((u) => typeof u === 'string')) throw new E2eeError('M_BAD_JSON', `${field}.usage must be a list of strings`);
  if (!raw.usage.includes(type)) throw new E2eeError('M_INVALID_PARAM', `${field}.usage must include "${type}"`);
  if (!isObject(raw.keys)) throw new E2eeError('M_BAD_JSON', `${field}.keys must be an object`);
  const entries = Object.entries(raw.keys);
  if (entries.length !== 1) throw new E2eeError('M_INVALID_PARAM', `${field}.keys must hold exactly one key`);
  const [keyId, publicKey] = entries[0];
  if (typeof publicKey !== 'string' || keyId !== `ed25519:${publicKey}` || !isUnpaddedBase64(publicKey) || decodeBase64(publicKey).length !== 32) {
    throw new E2eeError('M_INVALID_PARAM', `${field}.keys must map "ed25519:<public key>" to the unpadded Base64 ed25519 public key`);
  }
  if (raw.signatures !== undefined && !(isObject(raw.signatures) && Object.values(raw.signatures).every(isObject))) {
    throw new E2eeError('M_BAD_JSON', `${field}.signatures must map user ids to objects`);
  }
  if (Buffer.byteLength(JSON.stringify(raw), 'utf8') > MAX_KEY_BYTES) throw new E2eeError('M_TOO_LARGE', `${field} is too large`);
  const { unsigned: _unsigned, ...object } = raw;
  let json: string;
  try {
    json = canonicalJson(object);
  } catch {
    throw new E2eeError('M_BAD_JSON', `${field} is not canonical JSON`);
  }
  if (json.includes('\\u0000')) throw new E2eeError('M_BAD_JSON', `${field} holds U+0000`);
  return { json, object: JSON.parse(json) as JsonObject, keyId, publicKey };
}

/** The keys of a /keys/device_signing/upload body. */
function parseUpload(userId: string, body: JsonObject): KeySet {
  const upload: KeySet = {};
  for (const type of TYPES) {
    const raw = body[FIELDS[type]];
    if (raw !== undefined && raw !== null) upload[type] = parseSigningKey(raw, userId, type);
  }
  return upload;
}

/** The signatures `signer` made on `object` (an object of key id to signature; empty when none). */
function signaturesBy(object: JsonObject, signer: string): Record<string, unknown> {
  const signatures = object.signatures;
  const by = isObject(signatures) ? signatures[signer] : undefined;
  return isObject(by) ? by : {};
}

/** Adds `signature` by `signer`'s `keyId` to `object.signatures` (in place). */
function addSignature(object: JsonObject, signer: string, keyId: string, signature: string): void {
  const signatures = isObject(object.signatures) ? object.signatures : (object.signatures = {});
  const by = isObject(signatures[signer]) ? signatures[signer] : (signatures[signer] = {});
  by[keyId] = signature;
}

class Refusal extends Error {
  constructor(readonly failure: SignatureFailure) {
    super(failure.error);
  }
}

function refuse(errcode: E2eeErrcode, error: string): never {
  throw new Refusal({ errcode, error });
}

/** Refuses a signed object whose content (all but `signatures` and `unsigned`) is not that of the key held here. */
function assertSameContent(signed: JsonObject, held: JsonObject): void {
  let sent: string;
  try {
    sent = canonicalJson(signedPart(signed));
  } catch {
    refuse('M_BAD_JSON', 'The signed object is not canonical JSON');
  }
  if (sent !== canonicalJson(signedPart(held))) refuse('M_INVALID_PARAM', 'The signed object does not match the key held by the server');
}

/** The signature of `signer`'s `keyId` on `signed`, refused unless it verifies against `publicKey`. */
function verifiedSignature(signed: JsonObject, signer: string, keyId: string, publicKey: string): string {
  const signature = signaturesBy(signed, signer)[keyId];
  if (typeof signature !== 'string') refuse('M_INVALID_SIGNATURE', `Missing signature of ${keyId}`);
  if (!verifyJsonSignature(signed, signer, keyId, publicKey)) refuse('M_INVALID_SIGNATURE', `Invalid signature of ${keyId}`);
  return signature;
}

export class CrossSigningService implements CrossSigningSource {
  constructor(
    private readonly pool: DatabasePool,
    private readonly keys: DeviceKeysService,
    private readonly clock: () => number = Date.now,
  ) {}

  /**
   * POST /keys/device_signing/upload for `userId`. Self-signing and user-signing keys must be
   * signed by the master key of the same upload, or else by the user's current one. Replacing
   * keys the user already has calls `authorise` first (user-interactive authentication, which
   * throws when not satisfied); the first keys, and keys identical to those held, need none.
   */
  async uploadKeys(userId: string, body: JsonObject, authorise: () => Promise<void>): Promise<void> {
    const upload = parseUpload(userId, body);
    const before = await this.check(this.pool, userId, upload, keySetOf(await this.keysRow(this.pool, userId)));
    if (before.changed.length === 0) return;
    let authorised = false;
    if (before.needsAuth) {
      await authorise();
      authorised = true;
    }
    let written = await this.writeKeys(userId, upload, authorised);
    // Another upload gave the user keys meanwhile: replacing them needs authentication.
    if (written === 'needs_auth') {
      await authorise();
      written = await this.writeKeys(userId, upload, true);
    }
    if (typeof written === 'number') this.keys.announce({ kind: 'device_list', userIds: [userId], position: written });
  }

  /**
   * Checks an upload against the keys held: the signatures of the master key (M_MISSING_PARAM
   * without any master key, M_INVALID_SIGNATURE when one does not verify) and that no new public
   * key is the id of one of the user's devices (M_FORBIDDEN). Returns the kinds of keys that
   * change and whether that needs authentication.
   */
  private async check(conn: CommonQueryMethods, userId: string, upload: KeySet, held: KeySet): Promise<{ changed: CrossSigningKeyType[]; needsAuth: boolean }> {
    const master = upload.master ?? held.master;
    for (const type of ['self_signing', 'user_signing'] as const) {
      const key = upload[type];
      if (!key) continue;
      if (!master) throw new E2eeError('M_MISSING_PARAM', `${FIELDS[type]} needs a master key: none was uploaded`);
      if (!verifyJsonSignature(key.object, userId, master.keyId, master.publicKey)) {
        throw new E2eeError('M_INVALID_SIGNATURE', `${FIELDS[type]} is not signed by the master key`);
      }
    }
    const changed = TYPES.filter((type) => upload[type] !== undefined && upload[type].json !== held[type]?.json);
    if (changed.length > 0) {
      const clash = await conn.maybeOneFirst(sql.type(z.object({ device_id: z.string() }))`
        SELECT device_id FROM accounts.devices
         WHERE user_id = ${userId} AND device_id = ANY(${sql.array(changed.map((type) => upload[type]!.publicKey), 'text')}) LIMIT 1`);
      if (clash !== null) throw new E2eeError('M_FORBIDDEN', 'The public key of a cross-signing key is the id of one of your devices');
    }
    return { changed, needsAuth: held.master !== undefined && changed.length > 0 };
  }

  /**
   * Writes the upload under the lock of the user's row: the position of the device list change
   * it records, undefined when it records none, or `needs_auth` (nothing written) when it is
   * not `authorised` and the keys held now make it need authentication.
   */
  private writeKeys(userId: string, upload: KeySet, authorised: boolean): Promise<number | undefined | 'needs_auth'> {
    return this.pool.transaction(async (tx) => {
      await tx.query(sql.unsafe`
        INSERT INTO e2ee.cross_signing_keys (user_id, updated_ts) VALUES (${userId}, ${this.clock()}) ON CONFLICT DO NOTHING`);
      const held = keySetOf(await this.keysRow(tx, userId, true));
      const { changed, needsAuth } = await this.check(tx, userId, upload, held);
      if (needsAuth && !authorised) return 'needs_auth';
      if (changed.length === 0) return undefined;
      const json = (type: CrossSigningKeyType) => (changed.includes(type) ? upload[type]!.json : null);
      await tx.query(sql.unsafe`
        UPDATE e2ee.cross_signing_keys
           SET master_key = COALESCE(${json('master')}::text, master_key),
               self_signing_key = COALESCE(${json('self_signing')}::text, self_signing_key),
               user_signing_key = COALESCE(${json('user_signing')}::text, user_signing_key),
               updated_ts = ${this.clock()}
         WHERE user_id = ${userId}`);
      // The signatures a replaced key made go with it.
      const replaced = changed.flatMap((type) => (held[type] ? [held[type].keyId] : []));
      if (replaced.length > 0) {
        await tx.query(sql.unsafe`
          DELETE FROM e2ee.cross_signing_signatures
           WHERE signer_user_id = ${userId} AND signer_key_id = ANY(${sql.array(replaced, 'text')})`);
      }
      const announced = changed.filter((type) => type !== 'user_signing');
      return announced.length > 0 ? recordDeviceListChange(tx, [userId]) : undefined;
    });
  }

  private async keysRow(conn: CommonQueryMethods, userId: string, forUpdate = false): Promise<z.infer<typeof KeysRow> | null> {
    return conn.maybeOne(sql.type(KeysRow)`
      SELECT user_id, master_key, self_signing_key, user_signing_key FROM e2ee.cross_signing_keys
       WHERE user_id = ${userId} ${forUpdate ? sql.fragment`FOR UPDATE` : sql.fragment``}`);
  }

  /**
   * POST /keys/signatures/upload from `userId`: `body` maps user ids to key ids (a device id, or
   * the public key of a master key) to the signed object. Accepted: the user's self-signing key
   * on their own device keys, their devices on their own master key, their user-signing key on
   * another local user's master key. Each signed object that is refused is named in `failures`;
   * the others are stored.
   */
  async uploadSignatures(userId: string, body: JsonObject): Promise<{ failures: Record<string, Record<string, SignatureFailure>> }> {
    let count = 0;
    for (const [target, objects] of Object.entries(body)) {
      if (!isObject(objects)) throw new E2eeError('M_BAD_JSON', `${target.slice(0, 100)} must map key ids to signed objects`);
      count += Object.keys(objects).length;
    }
    if (count > MAX_SIGNED_OBJECTS_PER_UPLOAD) throw new E2eeError('M_TOO_LARGE', `At most ${MAX_SIGNED_OBJECTS_PER_UPLOAD} signed objects per upload`);
    const failures: Record<string, Record<string, SignatureFailure>> = {};
    const stored = await this.pool.transaction(async (tx) => {
      const targets = Object.keys(body).filter(isStorableText);
      const rows = await tx.any(sql.type(KeysRow)`
        SELECT user_id, master_key, self_signing_key, user_signing_key FROM e2ee.cross_signing_keys
         WHERE user_id = ANY(${sql.array([...new Set([userId, ...targets])], 'text')}) ORDER BY user_id FOR SHARE`);
      const keySets = new Map(rows.map((row) => [row.user_id, keySetOf(row)]));
      const own = keySets.get(userId) ?? {};
      const devices = await this.ownDeviceKeys(tx, userId);
      const verified: NewSignature[] = [];
      for (const [target, objects] of Object.entries(body)) {
        for (const [keyId, signed] of Object.entries(objects as JsonObject)) {
          try {
            if (!isObject(signed)) refuse('M_BAD_JSON', 'The signed object must be an object');
            if (!isStorableText(target) || !isStorableText(keyId)) refuse('M_INVALID_PARAM', 'Invalid user or key id');
            if (target === userId) verified.push(...this.ownSignatures(userId, keyId, signed, own, devices));
            else verified.push(this.userSignature(userId, target, keyId, signed, own, keySets.get(target) ?? {}));
          } catch (error) {
            if (!(error instanceof Refusal)) throw error;
            (failures[target] ??= {})[keyId] = error.failure;
          }
        }
      }
      if (verified.length === 0) return undefined;
      await tx.query(sql.unsafe`
        INSERT INTO e2ee.cross_signing_signatures (target_user_id, target_key_id, signer_user_id, signer_key_id, target_public_key, signature)
        SELECT t, k, ${userId}, s, p, v
          FROM unnest(${sql.array(verified.map((x) => x.targetUserId), 'text')}::text[],
                      ${sql.array(verified.map((x) => x.targetKeyId), 'text')}::text[],
                      ${sql.array(verified.map((x) => x.signerKeyId), 'text')}::text[],
                      ${sql.array(verified.map((x) => x.targetPublicKey), 'text')}::text[],
                      ${sql.array(verified.map((x) => x.signature), 'text')}::text[]) AS n(t, k, s, p, v)
        ON CONFLICT (target_user_id, target_key_id, signer_user_id, signer_key_id)
          DO UPDATE SET target_public_key = EXCLUDED.target_public_key, signature = EXCLUDED.signature`);
      const users = [...new Set(verified.map((x) => x.targetUserId))];
      return { users, position: await recordDeviceListChange(tx, users) };
    });
    if (stored) this.keys.announce({ kind: 'device_list', userIds: stored.users, position: stored.position });
    return { failures };
  }

  /** The device keys of the user's devices, by device id. */
  private async ownDeviceKeys(conn: CommonQueryMethods, userId: string): Promise<Map<string, JsonObject>> {
    const rows = await conn.any(sql.type(DeviceKeysRow)`SELECT device_id, keys_json FROM e2ee.device_keys WHERE user_id = ${userId}`);
    return new Map(rows.map((row) => [row.device_id, JSON.parse(row.keys_json) as JsonObject]));
  }

  /** Signatures of the user on their own keys: the self-signing key on a device, devices on the master key. */
  private ownSignatures(userId: string, keyId: string, signed: JsonObject, own: KeySet, devices: ReadonlyMap<string, JsonObject>): NewSignature[] {
    const master = own.master;
    if (master && keyId === master.publicKey) {
      assertSameContent(signed, master.object);
      const signers = Object.keys(signaturesBy(signed, userId)).filter((signer) => signer !== master.keyId);
      if (signers.length === 0) refuse('M_INVALID_SIGNATURE', 'The master key is signed by none of your devices');
      return signers.map((signerKeyId) => {
        const deviceId = signerKeyId.startsWith('ed25519:') ? signerKeyId.slice('ed25519:'.length) : undefined;
        const deviceKey = deviceId === undefined ? undefined : devices.get(deviceId)?.keys;
        const publicKey = isObject(deviceKey) ? deviceKey[signerKeyId] : undefined;
        if (typeof publicKey !== 'string') refuse('M_NOT_FOUND', `${signerKeyId} is not the key of one of your devices`);
        const signature = verifiedSignature(signed, userId, signerKeyId, publicKey);
        return { targetUserId: userId, targetKeyId: keyId, signerKeyId, targetPublicKey: master.publicKey, signature };
      });
    }
    if (keyId === own.self_signing?.publicKey || keyId === own.user_signing?.publicKey) {
      refuse('M_INVALID_PARAM', 'Self-signing and user-signing keys are signed by the master key when uploaded');
    }
    const device = devices.get(keyId);
    if (!device) refuse('M_NOT_FOUND', `No device keys of device ${keyId}`);
    const selfSigning = own.self_signing;
    if (!selfSigning) refuse('M_NOT_FOUND', 'You have no self-signing key');
    assertSameContent(signed, device);
    const signature = verifiedSignature(signed, userId, selfSigning.keyId, selfSigning.publicKey);
    return [{ targetUserId: userId, targetKeyId: keyId, signerKeyId: selfSigning.keyId, targetPublicKey: devicePublicKey(device, keyId), signature }];
  }

  /** A signature of the user's user-signing key on another user's master key. */
  private userSignature(userId: string, target: string, keyId: string, signed: JsonObject, own: KeySet, theirs: KeySet): NewSignature {
    const master = theirs.master;
    if (!master || keyId !== master.publicKey) refuse('M_NOT_FOUND', `${keyId} is not the master key of ${target}`);
    const userSigning = own.user_signing;
    if (!userSigning) refuse('M_NOT_FOUND', 'You have no user-signing key');
    assertSameContent(signed, master.object);
    const signature = verifiedSignature(signed, userId, userSigning.keyId, userSigning.publicKey);
    return { targetUserId: target, targetKeyId: keyId, signerKeyId: userSigning.keyId, targetPublicKey: master.publicKey, signature };
  }

  /**
   * The cross-signing keys of the users for /keys/query by `requester` (undefined: another
   * server): master and self-signing keys of each user who has them, the user-signing key of
   * the requester when queried. Master keys carry the signatures their owner uploaded, and
   * those of the requester's user-signing key.
   */
  async crossSigningKeys(requester: string | undefined, userIds: readonly string[]): Promise<CrossSigningKeys> {
    const out: CrossSigningKeys = { master_keys: {}, self_signing_keys: {}, user_signing_keys: {} };
    const users = [...new Set(userIds)];
    if (users.length === 0) return out;
    const rows = await this.pool.any(sql.type(KeysRow)`
      SELECT user_id, master_key, self_signing_key, user_signing_key FROM e2ee.cross_signing_keys WHERE user_id = ANY(${sql.array(users, 'text')})`);
    const masters: Record<string, SigningKey> = {};
    for (const row of rows) {
      const keys = keySetOf(row);
      if (keys.master) {
        masters[row.user_id] = keys.master;
        out.master_keys[row.user_id] = keys.master.object;
      }
      if (keys.self_signing) out.self_signing_keys[row.user_id] = keys.self_signing.object;
      if (keys.user_signing && row.user_id === requester) out.user_signing_keys[row.user_id] = keys.user_signing.object;
    }
    const owners = Object.keys(masters);
    if (owners.length === 0) return out;
    const signatures = await this.pool.any(sql.type(SignatureRow)`
      SELECT target_user_id, target_key_id, signer_user_id, signer_key_id, target_public_key, signature
        FROM e2ee.cross_signing_signatures
       WHERE target_user_id = ANY(${sql.array(owners, 'text')})
         AND (signer_user_id = target_user_id OR signer_user_id = ${requester ?? null}::text)`);
    for (const row of signatures) {
      const master = masters[row.target_user_id];
      if (row.target_key_id === master.publicKey && row.target_public_key === master.publicKey) {
        addSignature(master.object, row.signer_user_id, row.signer_key_id, row.signature);
      }
    }
    return out;
  }

  /**
   * Signatures of the users' self-signing keys on their device keys, merged into `deviceKeys` (in
   * place; the keys of a device given as JSON text are parsed only when it has such a signature).
   */
  async addSignatures(deviceKeys: Record<string, Record<string, DeviceKeysJson>>): Promise<void> {
    const users = Object.keys(deviceKeys).filter((userId) => Object.keys(deviceKeys[userId]).length > 0);
    if (users.length === 0) return;
    const rows = await this.pool.any(sql.type(SignatureRow)`
      SELECT target_user_id, target_key_id, signer_user_id, signer_key_id, target_public_key, signature
        FROM e2ee.cross_signing_signatures
       WHERE target_user_id = ANY(${sql.array(users, 'text')}) AND signer_user_id = target_user_id`);
    for (const row of rows) {
      const devices = deviceKeys[row.target_user_id];
      const held = devices[row.target_key_id];
      if (held === undefined) continue;
      const device = held instanceof JsonText ? (held.toJSON() as JsonObject) : held;
      devices[row.target_key_id] = device;
      if (devicePublicKey(device, row.target_key_id) === row.target_public_key) {
        addSignature(device, row.signer_user_id, row.signer_key_id, row.signature);
      }
    }
  }

  /**
   * The user's master and self-signing keys as other servers see them (each absent when the
   * user has none): for the federation API's `/user/keys/query` (`master_keys`,
   * `self_signing_keys`) and `/user/devices/{userId}` (`master_key`, `self_signing_key`), and the
   * `m.signing_key_update` EDU. The master key carries the signatures its owner uploaded.
   */
  async publicKeys(userId: string): Promise<PublicCrossSigningKeys> {
    const keys = await this.crossSigningKeys(undefined, [userId]);
    const out: PublicCrossSigningKeys = {};
    if (keys.master_keys[userId]) out.master_key = keys.master_keys[userId];
    if (keys.self_signing_keys[userId]) out.self_signing_key = keys.self_signing_keys[userId];
    return out;
  }
}

/** The ed25519 key of a device's keys ('' when it has none). */
function devicePublicKey(device: JsonObject, deviceId: string): string {
  const value = isObject(device.keys) ? device.keys[`ed25519:${deviceId}`] : undefined;
  return typeof value === 'string' ? value : '';
}
