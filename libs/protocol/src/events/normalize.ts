/**
 * Converting between the wire form of an event (`Pdu`, which differs across room versions)
 * and the one normalized `RoomEvent` every rule works on. The conversion is lossless:
 * `toPdu(toRoomEvent(pdu, v))` gives back `pdu` (the content hash depends on every key).
 */
import { roomVersion, type RoomVersionRules } from '../room-versions';
import { computeEventId, roomIdFromCreateEvent } from './hashes';
import type { EventHashes, JsonObject, JsonValue, LegacyEventReference, Pdu, RoomEvent, Signatures } from './types';

export class InvalidPduError extends Error {
  constructor(readonly reason: string) {
    super(`Invalid PDU: ${reason}`);
    this.name = 'InvalidPduError';
  }
}

function rulesOf(version: string | RoomVersionRules): RoomVersionRules {
  return typeof version === 'string' ? roomVersion(version) : version;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** True for the create event of a room whose id derives from it (room version 12+). */
export function isCreateEventWithoutRoomId(event: { type?: unknown; state_key?: unknown }, rules: RoomVersionRules): boolean {
  return rules.roomIdFromCreateEvent && event.type === 'm.room.create' && event.state_key === '';
}

/** Keys `RoomEvent` models directly, per room version; anything else goes to `extra`. */
function modelledKeys(rules: RoomVersionRules): ReadonlySet<string> {
  const keys = [
    'room_id',
    'sender',
    'type',
    'state_key',
    'content',
    'origin_server_ts',
    'depth',
    'prev_events',
    'auth_events',
    'hashes',
    'signatures',
    'unsigned',
  ];
  if (rules.eventIdFormat === 'server-generated') keys.push('event_id');
  if (!rules.redactsInContent) keys.push('redacts');
  return new Set(keys);
}
const MODELLED = new Map<string, ReadonlySet<string>>();
function modelled(rules: RoomVersionRules): ReadonlySet<string> {
  let set = MODELLED.get(rules.id);
  if (!set) {
    set = modelledKeys(rules);
    MODELLED.set(rules.id, set);
  }
  return set;
}

function references(
  value: unknown,
  field: string,
  legacy: boolean,
  hashesOut: Record<string, EventHashes>,
): string[] {
  if (!Array.isArray(value)) throw new InvalidPduError(`${field} must be an array`);
  return value.map((ref: unknown, i) => {
    if (legacy) {
      if (!Array.isArray(ref) || ref.length !== 2 || typeof ref[0] !== 'string' || !isObject(ref[1])) {
        throw new InvalidPduError(`${field}[${i}] must be [event_id, hashes]`);
      }
      hashesOut[ref[0]] = ref[1] as EventHashes;
      return ref[0];
    }
    if (typeof ref !== 'string') throw new InvalidPduError(`${field}[${i}] must be an event id string`);
    return ref;
  });
}

/**
 * The normalized form of `pdu` in a room of `version`. `eventId` skips computing the
 * reference hash when the caller already knows the id (v3+); for v1-2 the PDU's own
 * `event_id` is used. Throws InvalidPduError when the fields it needs are missing or mistyped
 * (the checks in `checks/` validate the full format first).
 */
export function toRoomEvent(pdu: Pdu | Record<string, unknown>, version: string | RoomVersionRules, eventId?: string): RoomEvent {
  const rules = rulesOf(version);
  const p = pdu as Record<string, unknown>;
  const legacy = rules.eventIdFormat === 'server-generated';

  if (typeof p.sender !== 'string') throw new InvalidPduError('sender must be a string');
  if (typeof p.type !== 'string') throw new InvalidPduError('type must be a string');
  if (p.state_key !== undefined && typeof p.state_key !== 'string') throw new InvalidPduError('state_key must be a string');
  if (!isObject(p.content)) throw new InvalidPduError('content must be an object');
  if (typeof p.origin_server_ts !== 'number') throw new InvalidPduError('origin_server_ts must be a number');
  if (typeof p.depth !== 'number') throw new InvalidPduError('depth must be a number');
  if (!isObject(p.hashes)) throw new InvalidPduError('hashes must be an object');
  if (!isObject(p.signatures)) throw new InvalidPduError('signatures must be an object');
  if (p.unsigned !== undefined && !isObject(p.unsigned)) throw new InvalidPduError('unsigned must be an object');

  let roomId: string;
  if (isCreateEventWithoutRoomId(p, rules)) {
    if (p.room_id !== undefined) throw new InvalidPduError(`the m.room.create event of room version ${rules.id} has no room_id`);
    roomId = roomIdFromCreateEvent(p, rules);
  } else {
    if (typeof p.room_id !== 'string') throw new InvalidPduError('room_id must be a string');
    roomId = p.room_id;
  }

  let id: string;
  if (legacy) {
    if (typeof p.event_id !== 'string') throw new InvalidPduError(`room version ${rules.id} events carry an event_id`);
    id = p.event_id;
  } else {
    id = eventId ?? computeEventId(p, rules);
  }

  const referenceHashes: Record<string, EventHashes> = {};
  const prevEvents = references(p.prev_events, 'prev_events', legacy, referenceHashes);
  const authEvents = references(p.auth_events, 'auth_events', legacy, referenceHashes);

  let redacts: string | undefined;
  if (rules.redactsInContent) {
    const inContent = p.content.redacts;
    if (typeof inContent === 'string') redacts = inContent;
  } else if (p.redacts !== undefined) {
    if (typeof p.redacts !== 'string') throw new InvalidPduError('redacts must be a string');
    redacts = p.redacts;
  }

  const known = modelled(rules);
  let extra: JsonObject | undefined;
  for (const key of Object.keys(p)) {
    if (known.has(key) || p[key] === undefined) continue;
    extra ??= {};
    extra[key] = p[key] as JsonValue;
  }

  const event: {
    -readonly [K in keyof RoomEvent]: RoomEvent[K];
  } = {
    event_id: id,
    room_id: roomId,
    sender: p.sender,
    type: p.type,
    content: p.content as JsonObject,
    origin_server_ts: p.origin_server_ts,
    depth: p.depth,
    prev_events: prevEvents,
    auth_events: authEvents,
    hashes: p.hashes as EventHashes,
    signatures: p.signatures as Signatures,
    room_version: rules.id,
  };
  if (p.state_key !== undefined) event.state_key = p.state_key as string;
  if (redacts !== undefined) event.redacts = redacts;
  if (p.unsigned !== undefined) event.unsigned = p.unsigned as JsonObject;
  if (extra) event.extra = extra;
  if (legacy) event.reference_hashes = referenceHashes;
  return event;
}

export interface ToPduOptions {
  /**
   * Room versions 1-2: the reference hashes of referenced events not found in
   * `event.reference_hashes` (e.g. for an event being built locally).
   */
  readonly referenceHash?: (eventId: string) => EventHashes | undefined;
  /** Leave `unsigned` out (e.g. before computing a hash or sending a stripped copy). */
  readonly withoutUnsigned?: boolean;
}

function legacyReferences(ids: readonly string[], event: RoomEvent, field: string, options: ToPduOptions): LegacyEventReference[] {
  return ids.map((id) => {
    const hashes = event.reference_hashes?.[id] ?? options.referenceHash?.(id);
    if (!hashes) throw new InvalidPduError(`${field}: no reference hash known for ${id} (room version ${event.room_version} needs one)`);
    return [id, hashes];
  });
}

/** The wire form of `event` for its room version (what is signed, hashed and sent over federation). */
export function toPdu(event: RoomEvent, options: ToPduOptions = {}): Pdu {
  const rules = roomVersion(event.room_version);
  const legacy = rules.eventIdFormat === 'server-generated';
  const pdu: Pdu = {
    ...(event.extra ?? {}),
    sender: event.sender,
    type: event.type,
    content: event.content,
    origin_server_ts: event.origin_server_ts,
    depth: event.depth,
    prev_events: legacy ? legacyReferences(event.prev_events, event, 'prev_events', options) : [...event.prev_events],
    auth_events: legacy ? legacyReferences(event.auth_events, event, 'auth_events', options) : [...event.auth_events],
    hashes: event.hashes,
    signatures: event.signatures,
  };
  if (!isCreateEventWithoutRoomId(event, rules)) pdu.room_id = event.room_id;
  if (legacy) pdu.event_id = event.event_id;
  if (event.state_key !== undefined) pdu.state_key = event.state_key;
  if (!rules.redactsInContent && event.redacts !== undefined) pdu.redacts = event.redacts;
  if (event.unsigned !== undefined && !options.withoutUnsigned) pdu.unsigned = event.unsigned;
  return pdu;
}
