/**
 * Building and signing new events (server-server API, "PDUs", "Auth events selection",
 * "Signing events"; the PDU formats of each room version).
 */
import { randomBytes } from 'node:crypto';
import { computeReferenceHash, contentHashInput, eventIdFromReferenceHash, sha256 } from '../events/hashes';
import { toRoomEvent } from '../events/normalize';
import { redactEvent } from '../events/redaction';
import { signBytes, type SigningKey } from '../crypto/ed25519';
import { signedPart } from '../crypto/sign-json';
import { canonicalJson, canonicalJsonBytes } from '../json/canonical-json';
import type { EventHashes, JsonObject, LegacyEventReference, Pdu, RoomEvent, StateMap } from '../events/types';
import { encodeBase64 } from '../json/base64';
import { roomVersion, type RoomVersionRules } from '../room-versions';
import { selectAuthEvents } from '../auth/selection';
import { domainOf } from '../auth/user-id';

/** The most prev_events a PDU may list. */
export const MAX_PREV_EVENTS = 20;
/**
 * The highest depth: 2^53 - 1 (room versions 6+ require it; for earlier versions, whose limit is
 * 2^63 - 1, it is the largest depth a JSON number here holds exactly).
 */
export const MAX_DEPTH = Number.MAX_SAFE_INTEGER;

export class BuildEventError extends Error {
  constructor(readonly reason: string) {
    super(`Cannot build event: ${reason}`);
    this.name = 'BuildEventError';
  }
}

/** A forward extremity the new event may point at. */
export interface PrevEventRef {
  readonly eventId: string;
  readonly depth: number;
}

export interface BuildEventInput {
  readonly roomVersion: string | RoomVersionRules;
  readonly roomId: string;
  readonly sender: string;
  readonly type: string;
  readonly stateKey?: string;
  readonly content: JsonObject;
  /** For m.room.redaction: the event redacted (top level in v1-10, in content from v11). */
  readonly redacts?: string;
  /** The forward extremities; the deepest MAX_PREV_EVENTS are referenced. */
  readonly prevEvents: readonly PrevEventRef[];
  /** The room state before the event, from which the auth events are selected. */
  readonly state: StateMap;
  /** Milliseconds since the epoch, given by the caller. */
  readonly originServerTs: number;
  /** Our server name: signs the event and, in room versions 1-2, names its event id. */
  readonly origin: string;
  readonly signingKey: SigningKey;
  /** Room versions 1-2: the reference hashes of the prev and auth events. */
  readonly referenceHash?: (eventId: string) => EventHashes | undefined;
  /** Room versions 1-2: the localpart of the new event id; random when not given. */
  readonly eventIdLocalpart?: string;
  readonly unsigned?: JsonObject;
}

export interface BuiltEvent {
  /** The signed wire form, as sent over federation. */
  readonly pdu: Pdu;
  /** The normalized form, with its event id. */
  readonly event: RoomEvent;
  /** Bytes of the PDU as canonical JSON (what the 65,536-byte limit on events counts). */
  readonly size: number;
}

function rulesOf(v: string | RoomVersionRules): RoomVersionRules {
  return typeof v === 'string' ? roomVersion(v) : v;
}

/** A random opaque localpart for server-generated ids. */
export function randomLocalpart(bytes = 18): string {
  return randomBytes(bytes).toString('base64url');
}

/** The deepest `MAX_PREV_EVENTS` extremities, deepest first (ties by event id), without duplicates. */
export function choosePrevEvents(prevEvents: readonly PrevEventRef[]): PrevEventRef[] {
  const unique = new Map<string, PrevEventRef>();
  for (const p of prevEvents) if (!unique.has(p.eventId)) unique.set(p.eventId, p);
  return [...unique.values()]
    .sort((a, b) => b.depth - a.depth || (a.eventId < b.eventId ? -1 : a.eventId > b.eventId ? 1 : 0))
    .slice(0, MAX_PREV_EVENTS);
}

/** max(depth of prev events) + 1, held at the limit once it is reached. */
export function nextDepth(prevEvents: readonly PrevEventRef[]): number {
  const max = prevEvents.reduce((m, p) => Math.max(m, p.depth), 0);
  return Math.min(max + 1, MAX_DEPTH);
}

function references(
  ids: readonly string[],
  rules: RoomVersionRules,
  referenceHash: ((eventId: string) => EventHashes | undefined) | undefined,
): string[] | LegacyEventReference[] {
  if (rules.eventIdFormat !== 'server-generated') return [...ids];
  return ids.map((id): LegacyEventReference => {
    const hashes = referenceHash?.(id);
    if (!hashes) throw new BuildEventError(`room version ${rules.id} needs the reference hash of ${id}`);
    return [id, hashes];
  });
}

/** The sha256 reference hash of a signed PDU, as room versions 1-2 list it beside its id. */
export function referenceHashOf(pdu: Pdu, version: string | RoomVersionRules): EventHashes {
  return { sha256: encodeBase64(computeReferenceHash(pdu, rulesOf(version))) };
}

/** Bytes a member `,"<key>":<value>` adds to a non-empty object's canonical JSON. */
function memberBytes(key: string, value: unknown): number {
  return 2 + Buffer.byteLength(JSON.stringify(key), 'utf8') + Buffer.byteLength(canonicalJson(value), 'utf8');
}

/**
 * The content hash, our signature and the event id of a new PDU (as `signEvent` and
 * `computeEventId` give them, with each encoding done once): the signature covers the
 * redacted event without `signatures` and `unsigned`, and the reference hash is the SHA-256 of
 * those same bytes (redaction keeps neither `unsigned` nor `age_ts`). The canonical size of
 * the PDU is the content hash input's plus its `hashes`, `signatures` and `unsigned` members.
 */
function sign(unsignedPdu: Pdu, rules: RoomVersionRules, origin: string, key: SigningKey): BuiltEvent {
  const options = { strict: rules.strictCanonicalJson };
  const hashText = canonicalJson(contentHashInput(unsignedPdu), options);
  const hashes = { sha256: encodeBase64(sha256(Buffer.from(hashText, 'utf8'))) };
  const signedBytes = canonicalJsonBytes(signedPart(redactEvent({ ...unsignedPdu, hashes }, rules)), options);
  const existing = unsignedPdu.signatures ?? {};
  const signatures = { ...existing, [origin]: { ...(existing[origin] ?? {}), [key.keyId]: encodeBase64(signBytes(key, signedBytes)) } };
  const pdu = { ...unsignedPdu, hashes, signatures } as Pdu;
  const size =
    Buffer.byteLength(hashText, 'utf8') +
    memberBytes('hashes', hashes) +
    memberBytes('signatures', signatures) +
    (pdu.unsigned === undefined ? 0 : memberBytes('unsigned', pdu.unsigned));
  const eventId = rules.eventIdFormat === 'server-generated' ? undefined : eventIdFromReferenceHash(sha256(signedBytes), rules.eventIdFormat);
  return { pdu, event: toRoomEvent(pdu, rules, eventId), size };
}

/**
 * A new event on top of `prevEvents`: auth events picked by the selection algorithm from
 * `state`, depth one above the deepest prev event, `redacts` placed per room version, content
 * hash and our signature added, event id per room version.
 */
export function buildEvent(input: BuildEventInput): BuiltEvent {
  const rules = rulesOf(input.roomVersion);
  if (domainOf(input.sender) !== input.origin) {
    throw new BuildEventError(`sender ${input.sender} does not belong to ${input.origin}`);
  }
  return signNewEvent(eventTemplate(input), rules, input.origin, input.signingKey, input.eventIdLocalpart);
}

export type EventTemplateInput = Omit<BuildEventInput, 'signingKey' | 'eventIdLocalpart' | 'origin'>;

/**
 * The unsigned form of a new event on top of `prevEvents` (what make_join and make_leave
 * answer): auth events selected from `state`, depth, prev and auth references, no hashes,
 * signatures or event id. The sender may belong to another server.
 */
export function eventTemplate(input: EventTemplateInput): Pdu {
  const rules = rulesOf(input.roomVersion);
  if (input.type === 'm.room.create') throw new BuildEventError('use buildCreateEvent for m.room.create');
  const prev = choosePrevEvents(input.prevEvents);
  if (prev.length === 0) throw new BuildEventError('an event other than m.room.create needs prev_events');
  if (input.type === 'm.room.redaction' && typeof input.redacts !== 'string') {
    throw new BuildEventError('m.room.redaction needs redacts');
  }

  let content = input.content;
  if (input.redacts !== undefined && rules.redactsInContent) content = { ...content, redacts: input.redacts };
  const auth = selectAuthEvents(input.type, input.stateKey, input.sender, content, input.state, rules);

  const pdu: Pdu = {
    room_id: input.roomId,
    sender: input.sender,
    type: input.type,
    content,
    origin_server_ts: input.originServerTs,
    depth: nextDepth(prev),
    prev_events: references(prev.map((p) => p.eventId), rules, input.referenceHash),
    auth_events: references(auth.eventIds, rules, input.referenceHash),
    hashes: { sha256: '' },
    signatures: {},
  };
  if (input.stateKey !== undefined) pdu.state_key = input.stateKey;
  if (input.redacts !== undefined && !rules.redactsInContent) pdu.redacts = input.redacts;
  if (input.unsigned) pdu.unsigned = input.unsigned;
  return pdu;
}

/**
 * Completes an event template as a new event of `origin`: the event id (room versions 1-2),
 * the content hash and our signature. Fields of the template other than hashes, signatures
 * and event id are kept as they are.
 */
export function signNewEvent(template: Pdu, version: string | RoomVersionRules, origin: string, key: SigningKey, eventIdLocalpart?: string): BuiltEvent {
  const rules = rulesOf(version);
  const pdu: Pdu = { ...template, hashes: { sha256: '' }, signatures: {} };
  delete pdu.event_id;
  if (rules.eventIdFormat === 'server-generated') pdu.event_id = `$${eventIdLocalpart ?? randomLocalpart()}:${origin}`;
  return sign(pdu, rules, origin, key);
}

export interface BuildCreateEventInput {
  readonly roomVersion: string | RoomVersionRules;
  /** The room creator (the sender). */
  readonly sender: string;
  /** Further content (e.g. `type`, `predecessor`, `m.federate`, v12 `additional_creators`). */
  readonly content?: JsonObject;
  readonly originServerTs: number;
  readonly origin: string;
  readonly signingKey: SigningKey;
  /** Room versions 1-11: the localpart of the new room id; random when not given. */
  readonly roomIdLocalpart?: string;
  /** Room versions 1-2: the localpart of the event id; random when not given. */
  readonly eventIdLocalpart?: string;
}

/**
 * The m.room.create event of a new room. Room versions 1-11: room id `!<localpart>:<origin>`,
 * v1-10 carry `content.creator`. Room version 12: no room_id; the room id is derived from the
 * event (its event id with sigil `!`), and is `event.room_id` of the result.
 */
export function buildCreateEvent(input: BuildCreateEventInput): BuiltEvent {
  const rules = rulesOf(input.roomVersion);
  if (domainOf(input.sender) !== input.origin) {
    throw new BuildEventError(`sender ${input.sender} does not belong to ${input.origin}`);
  }
  const content: JsonObject = { ...(input.content ?? {}), room_version: rules.id };
  if (rules.implicitRoomCreator) delete content.creator;
  else content.creator = input.sender;
  if (!rules.privilegedCreators) delete content.additional_creators;

  const pdu: Pdu = {
    sender: input.sender,
    type: 'm.room.create',
    state_key: '',
    content,
    origin_server_ts: input.originServerTs,
    depth: 1,
    prev_events: [],
    auth_events: [],
    hashes: { sha256: '' },
    signatures: {},
  };
  if (!rules.roomIdFromCreateEvent) pdu.room_id = `!${input.roomIdLocalpart ?? randomLocalpart()}:${input.origin}`;
  if (rules.eventIdFormat === 'server-generated') {
    pdu.event_id = `$${input.eventIdLocalpart ?? randomLocalpart()}:${input.origin}`;
  }
  return sign(pdu, rules, input.origin, input.signingKey);
}
