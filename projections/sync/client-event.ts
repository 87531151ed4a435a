/**
 * The client format of room events (client-server API, "Room events"; ClientEvent) and the
 * fields the server adds to `unsigned` when serving one.
 */
import type { ClientEvent, JsonObject, JsonValue } from '@hs/protocol';

export { clientEventOf, type ClientEvent } from '@hs/protocol';

/** An event stripped to the keys allowed in `invite_room_state` / `knock_room_state`. */
export interface StrippedStateEvent {
  type: string;
  state_key: string;
  sender: string;
  content: JsonObject;
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
