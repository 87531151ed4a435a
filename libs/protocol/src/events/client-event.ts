/**
 * The client format of room events (client-server API, "Room events"; ClientEvent), as clients
 * and application services receive them.
 */
import { roomVersion } from '../room-versions';
import type { JsonObject, Pdu } from './types';

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
