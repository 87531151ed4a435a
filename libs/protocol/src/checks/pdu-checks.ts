/**
 * The first checks on a PDU received over federation (server-server-api.md "Checks performed
 * on receipt of a PDU", steps 1-3, and "Validating hashes and signatures on received
 * events"):
 *
 * 1. the event has the format of its room version (and fits the size limits), else dropped;
 * 2. it carries valid signatures from every server that must sign it, else dropped;
 * 3. its content hash matches, else it continues in redacted form.
 *
 * Authorization (steps 4-6) is the job of the auth rules. Keys come from a lookup function, so
 * this stays pure; the caller fetches missing keys and retries on `no_usable_key`.
 */
import { roomVersion, isKnownRoomVersion, type RoomVersionRules } from '../room-versions';
import { canonicalJsonByteLength, findNonCanonicalNumber } from '../json/canonical-json';
import { isValidEventId, isValidRoomId, isValidUserId, serverNameOf } from '../identifiers/ids';
import { verifyContentHash } from '../events/hashes';
import { redactEvent } from '../events/redaction';
import { verifyEventSignature } from '../events/signing';
import { isCreateEventWithoutRoomId, toRoomEvent } from '../events/normalize';
import type { Pdu, RoomEvent } from '../events/types';

/** Why an incoming PDU was dropped. Stable strings: they are logged and stored. */
export const PduRejectionReason = {
  UnsupportedRoomVersion: 'unsupported_room_version',
  /** Missing or mistyped fields for the room version's event format. */
  MalformedEvent: 'malformed_event',
  /** Room versions 6+: a float or an integer outside [-(2^53)+1, 2^53-1]. */
  InvalidCanonicalJson: 'invalid_canonical_json',
  /** More than 65,536 bytes as canonical JSON. */
  TooLarge: 'too_large',
  /** sender, room_id, state_key, type or event_id longer than 255 bytes. */
  FieldTooLong: 'field_too_long',
  /** A user, room or event id that does not follow its grammar for the room version. */
  InvalidIdentifier: 'invalid_identifier',
  /** The event belongs to another room than the one it was sent for. */
  WrongRoom: 'wrong_room',
  /** A server that must sign the event did not. */
  MissingSignature: 'missing_signature',
  /** A server that must sign signed only with keys unknown to the lookup (or expired, v5+): fetch keys and retry. */
  NoUsableKey: 'no_usable_key',
  /** A signature by a known key does not verify. */
  BadSignature: 'bad_signature',
} as const;
export type PduRejectionReason = (typeof PduRejectionReason)[keyof typeof PduRejectionReason];

/** Limits of the event format (client-server-api.md "Size limits", pdu_v*.yaml). */
export const PDU_MAX_BYTES = 65536;
export const PDU_MAX_FIELD_BYTES = 255;
export const PDU_MAX_PREV_EVENTS = 20;
export const PDU_MAX_AUTH_EVENTS = 10;

/** A server's verify key as the key ring knows it. */
export interface VerifyKey {
  /** Raw 32 bytes or unpadded Base64. */
  readonly publicKey: Uint8Array | string;
  /**
   * Until when the key may be used (ms since the epoch): `valid_until_ts` of a current key
   * (capped by the key ring at 7 days after it was fetched) or `expired_ts` of an old one.
   */
  readonly validUntilTs: number;
}

/** Looks up a verify key; undefined when it is not known. */
export type VerifyKeyLookup = (serverName: string, keyId: string) => VerifyKey | undefined;

export interface PduCheckOptions {
  readonly lookupKey: VerifyKeyLookup;
  /** The room the PDU was sent for; a PDU of another room is refused. */
  readonly roomId?: string;
  /**
   * Checks one signature of the PDU (default: verifyEventSignature); the batch checks
   * (checkIncomingPdus) answer it from signatures verified beside the other checks.
   */
  readonly verifySignature?: (pdu: Record<string, unknown>, rules: RoomVersionRules, serverName: string, keyId: string, publicKey: Uint8Array | string) => boolean;
}

export type PduCheckResult =
  | {
      readonly ok: true;
      readonly event: RoomEvent;
      /** The PDU as it goes on: the received one, or its redacted copy when the content hash failed. */
      readonly pdu: Pdu;
      readonly redacted: boolean;
    }
  | { readonly ok: false; readonly reason: PduRejectionReason; readonly detail: string };

type Rejection = Extract<PduCheckResult, { ok: false }>;

function reject(reason: PduRejectionReason, detail: string): Rejection {
  return { ok: false, reason, detail };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function isStringMap(v: unknown): boolean {
  return isObject(v) && Object.values(v).every((x) => typeof x === 'string');
}

/** Step 1: the event format of the room version. */
function checkFormat(p: Record<string, unknown>, rules: RoomVersionRules): Rejection | undefined {
  const malformed = (detail: string): Rejection => reject(PduRejectionReason.MalformedEvent, detail);
  for (const field of ['sender', 'type'] as const) {
    if (typeof p[field] !== 'string') return malformed(`${field} must be a string`);
  }
  if (p.state_key !== undefined && typeof p.state_key !== 'string') return malformed('state_key must be a string');
  if (!Number.isSafeInteger(p.origin_server_ts)) return malformed('origin_server_ts must be an integer');
  if (!Number.isInteger(p.depth) || (p.depth as number) < 0) return malformed('depth must be a non-negative integer');
  if (!isObject(p.content)) return malformed('content must be an object');
  if (!isObject(p.hashes) || typeof p.hashes.sha256 !== 'string') return malformed('hashes.sha256 must be a string');
  if (!isObject(p.signatures) || !Object.values(p.signatures).every(isStringMap)) {
    return malformed('signatures must map server names to objects of key id -> signature');
  }
  if (p.unsigned !== undefined && !isObject(p.unsigned)) return malformed('unsigned must be an object');
  if (!rules.redactsInContent && p.redacts !== undefined && typeof p.redacts !== 'string') return malformed('redacts must be a string');

  if (isCreateEventWithoutRoomId(p, rules)) {
    if (p.room_id !== undefined) return malformed(`the m.room.create event of room version ${rules.id} has no room_id`);
  } else if (typeof p.room_id !== 'string') {
    return malformed('room_id must be a string');
  }

  const legacy = rules.eventIdFormat === 'server-generated';
  if (legacy && typeof p.event_id !== 'string') return malformed(`room version ${rules.id} events carry an event_id`);
  for (const [field, max] of [
    ['prev_events', PDU_MAX_PREV_EVENTS],
    ['auth_events', PDU_MAX_AUTH_EVENTS],
  ] as const) {
    const refs = p[field];
    if (!Array.isArray(refs)) return malformed(`${field} must be an array`);
    if (refs.length > max) return malformed(`${field} has ${refs.length} entries, at most ${max} are allowed`);
    for (const ref of refs as unknown[]) {
      const id = legacy ? (Array.isArray(ref) && ref.length === 2 && isStringMap(ref[1]) ? ref[0] : undefined) : ref;
      if (typeof id !== 'string') return malformed(`${field} entries must be ${legacy ? '[event_id, hashes] pairs' : 'event ids'}`);
      if (!isValidEventId(id, rules.eventIdFormat)) {
        return reject(PduRejectionReason.InvalidIdentifier, `${field} holds ${JSON.stringify(id)}, not an event id of room version ${rules.id}`);
      }
    }
  }
  return undefined;
}

/** Step 1, continued: sizes and identifiers. */
function checkLimits(p: Record<string, unknown>, rules: RoomVersionRules): Rejection | undefined {
  for (const field of ['sender', 'room_id', 'state_key', 'type', 'event_id']) {
    const v = p[field];
    if (typeof v === 'string' && Buffer.byteLength(v, 'utf8') > PDU_MAX_FIELD_BYTES) {
      return reject(PduRejectionReason.FieldTooLong, `${field} is longer than ${PDU_MAX_FIELD_BYTES} bytes`);
    }
  }
  if (rules.strictCanonicalJson) {
    const bad = findNonCanonicalNumber(p);
    if (bad) return reject(PduRejectionReason.InvalidCanonicalJson, bad.message);
  }
  let size: number;
  try {
    size = canonicalJsonByteLength(p, { strict: rules.strictCanonicalJson });
  } catch (e) {
    return reject(PduRejectionReason.InvalidCanonicalJson, (e as Error).message);
  }
  if (size > PDU_MAX_BYTES) return reject(PduRejectionReason.TooLarge, `${size} bytes of canonical JSON, at most ${PDU_MAX_BYTES} are allowed`);

  if (!isValidUserId(p.sender)) return reject(PduRejectionReason.InvalidIdentifier, 'sender is not a user id');
  if (typeof p.room_id === 'string') {
    const roomIdOk = rules.roomIdFromCreateEvent ? /^![A-Za-z0-9_-]{43}$/.test(p.room_id) : p.room_id.includes(':') && isValidRoomId(p.room_id);
    if (!roomIdOk) return reject(PduRejectionReason.InvalidIdentifier, `room_id is not a room id of room version ${rules.id}`);
  }
  if (rules.eventIdFormat === 'server-generated' && !isValidEventId(p.event_id, 'server-generated')) {
    return reject(PduRejectionReason.InvalidIdentifier, 'event_id is not "$opaque:server_name"');
  }
  return undefined;
}

/** A membership invite made from a third-party invite: the sender's server need not sign it. */
function isThirdPartyInvite(p: Record<string, unknown>): boolean {
  return p.type === 'm.room.member' && isObject(p.content) && p.content.membership === 'invite' && p.content.third_party_invite !== undefined;
}

/**
 * The servers whose signatures the event needs: the sender's (except for an invite made from a
 * third-party invite); in room versions 1-2 also the server of the event id; for a join through
 * a restricted join rule (v8+) also the server of `join_authorised_via_users_server`.
 */
export function requiredSignatureServers(pdu: Pdu | Record<string, unknown>, version: string | RoomVersionRules): string[] {
  const rules = typeof version === 'string' ? roomVersion(version) : version;
  const p = pdu as Record<string, unknown>;
  const servers = new Set<string>();
  if (!isThirdPartyInvite(p) && typeof p.sender === 'string') {
    const s = serverNameOf(p.sender);
    if (s) servers.add(s);
  }
  if (rules.eventIdFormat === 'server-generated' && typeof p.event_id === 'string') {
    const s = serverNameOf(p.event_id);
    if (s) servers.add(s);
  }
  if (rules.restrictedJoins && p.type === 'm.room.member' && isObject(p.content) && p.content.membership === 'join') {
    const via = p.content.join_authorised_via_users_server;
    if (typeof via === 'string' && isValidUserId(via)) {
      const s = serverNameOf(via);
      if (s) servers.add(s);
    }
  }
  return [...servers];
}

/** Step 2: every required server signed with at least one usable key, and no usable key's signature fails. */
function checkSignatures(p: Record<string, unknown>, rules: RoomVersionRules, options: PduCheckOptions): Rejection | undefined {
  const { lookupKey, verifySignature = verifyEventSignature } = options;
  const signatures = p.signatures as Record<string, Record<string, string>>;
  const originServerTs = p.origin_server_ts as number;
  for (const server of requiredSignatureServers(p, rules)) {
    const keyIds = Object.keys(signatures[server] ?? {}).filter((id) => id.startsWith('ed25519:'));
    if (keyIds.length === 0) return reject(PduRejectionReason.MissingSignature, `no ed25519 signature from ${server}`);
    let verified = 0;
    for (const keyId of keyIds) {
      const key = lookupKey(server, keyId);
      if (!key) continue;
      if (rules.enforceKeyValidity && key.validUntilTs < originServerTs) continue;
      if (!verifySignature(p, rules, server, keyId, key.publicKey)) {
        return reject(PduRejectionReason.BadSignature, `the signature of ${server} with ${keyId} does not verify`);
      }
      verified++;
    }
    if (verified === 0) {
      return reject(PduRejectionReason.NoUsableKey, `no known${rules.enforceKeyValidity ? ', unexpired' : ''} key of ${server} among ${keyIds.join(', ')}`);
    }
  }
  return undefined;
}

/**
 * Runs the receipt checks on a PDU of room version `roomVersionId`. Dropped events come back
 * with a reason; accepted ones in normalized form, redacted when their content hash fails.
 */
export function checkIncomingPdu(raw: unknown, roomVersionId: string, options: PduCheckOptions): PduCheckResult {
  if (!isKnownRoomVersion(roomVersionId)) return reject(PduRejectionReason.UnsupportedRoomVersion, `room version ${roomVersionId} is not supported`);
  const rules = roomVersion(roomVersionId);
  if (!isObject(raw)) return reject(PduRejectionReason.MalformedEvent, 'a PDU must be a JSON object');

  const failure = checkFormat(raw, rules) ?? checkLimits(raw, rules) ?? checkSignatures(raw, rules, options);
  if (failure) return failure;

  const hashOk = verifyContentHash(raw, rules);
  const pdu = (hashOk ? raw : redactEvent(raw, rules)) as Pdu;
  const event = toRoomEvent(pdu, rules);
  if (options.roomId !== undefined && event.room_id !== options.roomId) {
    return reject(PduRejectionReason.WrongRoom, `the event is in ${event.room_id}, not ${options.roomId}`);
  }
  return { ok: true, event, pdu, redacted: !hashOk };
}
