/**
 * The client format of room events (client-server API, "Room events"; ClientEvent) and the
 * fields the server adds to `unsigned` when serving one.
 */
import { roomVersion, type JsonObject, type JsonValue, type Pdu } from '@hs/protocol';

/** A room event as clients see it. `unsigned` is added when the event is served. */
export interface ClientEvent {
  event_id: string;
  type: string;
  sender: string;
  content: JsonObject;
  state_key?: string;
  origin_server_ts: number;
  room_id: string;
  /** Redaction events: the redacted event id (also in content from room version 11). */
  redacts?: string;
  unsigned?: JsonObject;
}

/** An event stripped to the keys allowed in `invite_room_state` / `knock_room_state`. */
export interface StrippedStateEvent {
  type: string;
  state_key: string;
  sender: string;
  content: JsonObject;
}

/** The client form of an accepted PDU (without `unsigned`). */
export function clientEventOf(pdu: Pdu, eventId: string, roomId: string, version: string): ClientEvent {
  const rules = roomVersion(version);
  const event: ClientEvent = {
    event_id: eventId,
    type: pdu.type,
    sender: pdu.sender,
    content: pdu.content,
    origin_server_ts: pdu.origin_server_ts,
    room_id: roomId,
  };
  if (typeof pdu.state_key === 'string') event.state_key = pdu.state_key;
  if (pdu.type === 'm.room.redaction') {
    const redacts = rules.redactsInContent ? pdu.content.redacts : pdu.redacts;
    if (typeof redacts === 'string') event.redacts = redacts;
  }
  return event;
}

export function strippedStateOf(event: ClientEvent): StrippedStateEvent {
  return { type: event.type, state_key: event.state_key ?? '', sender: event.sender, content: event.content };
}

/** True when the content carries an `url` key (the `contains_url` filter). */
export function containsUrl(content: JsonObject): boolean {
  return typeof content.url === 'string';
}

export function isJsonObject(value: JsonValue | undefined): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
