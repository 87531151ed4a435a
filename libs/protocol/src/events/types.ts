/**
 * Event shapes. `Pdu` is the wire form (it differs across room versions); `RoomEvent` is one
 * normalized form every rule in this library works on: event id known, references as id lists.
 */

export type JsonValue = null | boolean | number | string | JsonValue[] | JsonObject;
export interface JsonObject {
  [key: string]: JsonValue;
}

export type Signatures = Record<string, Record<string, string>>;
export interface EventHashes {
  sha256: string;
  [algorithm: string]: string;
}

/** A reference in room versions 1-2: [event_id, {sha256: ...}]. */
export type LegacyEventReference = [string, EventHashes];

/** A persistent data unit as it travels over federation (any room version). */
export interface Pdu {
  /** Present in room versions 1-2 only. */
  event_id?: string;
  /** Absent on the m.room.create event of room version 12. */
  room_id?: string;
  sender: string;
  type: string;
  state_key?: string;
  content: JsonObject;
  origin_server_ts: number;
  depth: number;
  prev_events: string[] | LegacyEventReference[];
  auth_events: string[] | LegacyEventReference[];
  /** Top-level in room versions 1-10; in content from v11. */
  redacts?: string;
  hashes: EventHashes;
  signatures: Signatures;
  unsigned?: JsonObject;
  /** Legacy fields some servers still send. */
  origin?: string;
  membership?: string;
  prev_state?: unknown;
  [extra: string]: unknown;
}

/** A PDU in normalized form: what auth rules, state resolution and storage work with. */
export interface RoomEvent {
  readonly event_id: string;
  readonly room_id: string;
  readonly sender: string;
  readonly type: string;
  readonly state_key?: string;
  readonly content: JsonObject;
  readonly origin_server_ts: number;
  readonly depth: number;
  readonly prev_events: readonly string[];
  readonly auth_events: readonly string[];
  /** The event a redaction redacts, from the top level (v1-10) or content (v11+). */
  readonly redacts?: string;
  readonly hashes: EventHashes;
  readonly signatures: Signatures;
  readonly unsigned?: JsonObject;
  /** The room version the event belongs to. */
  readonly room_version: string;
  /**
   * Top-level keys of the wire form not modelled above (e.g. `origin`, `membership`,
   * `prev_state` in older room versions, or a top-level `redacts` in v11+). The content hash
   * covers them, so they are kept to rebuild the PDU exactly.
   */
  readonly extra?: JsonObject;
  /** Room versions 1-2: the reference hashes sent beside each prev/auth event id, by event id. */
  readonly reference_hashes?: Readonly<Record<string, EventHashes>>;
}

/** A (type, state_key) pair packed into one string, usable as a Map key. */
export type StateKey = string & { readonly __brand: 'StateKey' };

export function stateKey(type: string, key: string): StateKey {
  return `${type}\u0000${key}` as StateKey;
}

export function splitStateKey(k: StateKey): [type: string, stateKey: string] {
  const i = k.indexOf('\u0000');
  return [k.slice(0, i), k.slice(i + 1)];
}

/** State of a room at some point: (type, state_key) -> event id. */
export type StateMap = ReadonlyMap<StateKey, string>;

export function isStateEvent(e: { state_key?: unknown }): boolean {
  return typeof e.state_key === 'string';
}
