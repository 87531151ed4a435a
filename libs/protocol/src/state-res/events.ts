/**
 * Small helpers over room events shared by the steps of state resolution.
 */
import type { RoomEvent } from '../events/types';
import type { RoomVersionRules } from '../room-versions';
import { MissingEventsError } from './errors';

/** Looks an event up by id; `undefined` when it is not available. */
export type EventLookup = (eventId: string) => RoomEvent | undefined;

/** Options shared by the resolution entry points. */
export interface StateResolutionOptions {
  /**
   * Whether an event was rejected on receipt. Rejected events are never used as auth events in
   * the iterative auth checks (rooms/v2.md, "Rejected events"). Defaults to "nothing is rejected".
   */
  readonly isRejected?: (eventId: string) => boolean;
}

/** The event, or a MissingEventsError naming it. */
export function requireEvent(getEvent: EventLookup, eventId: string): RoomEvent {
  const event = getEvent(eventId);
  if (event === undefined) throw new MissingEventsError([eventId]);
  return event;
}

/**
 * The id of the m.room.create event a room id names (room version 12: the room id is the create
 * event's id with the sigil `!` instead of `$`).
 */
export function createEventIdFromRoomId(roomId: string): string {
  return `$${roomId.slice(1)}`;
}

/**
 * The ids of an event's auth events. From room version 12 the m.room.create event is not listed
 * in `auth_events` but implied by the room id; it is added here so that auth chains, sender power
 * levels and the iterative auth checks see it.
 */
export function authEventIds(event: RoomEvent, rules: RoomVersionRules): readonly string[] {
  if (!rules.roomIdFromCreateEvent || event.type === 'm.room.create') return event.auth_events;
  const createId = createEventIdFromRoomId(event.room_id);
  return event.auth_events.includes(createId) ? event.auth_events : [...event.auth_events, createId];
}

/** The first auth event of the given type with the empty state key, if any. */
export function findAuthEvent(
  event: RoomEvent,
  type: string,
  getEvent: EventLookup,
  rules: RoomVersionRules,
): RoomEvent | undefined {
  for (const id of authEventIds(event, rules)) {
    const auth = requireEvent(getEvent, id);
    if (auth.type === type && auth.state_key === '') return auth;
  }
  return undefined;
}

/**
 * A power event (rooms/v2.md, "Definitions"): m.room.power_levels, m.room.join_rules, or an
 * m.room.member whose membership is leave or ban and whose sender is not its state key (a kick
 * or a ban): events that may take away someone's ability to do something in the room.
 */
export function isPowerEvent(event: RoomEvent): boolean {
  if (typeof event.state_key !== 'string') return false;
  if (event.type === 'm.room.power_levels' || event.type === 'm.room.join_rules') return event.state_key === '';
  if (event.type === 'm.room.member') {
    const membership = event.content['membership'];
    return (membership === 'leave' || membership === 'ban') && event.sender !== event.state_key;
  }
  return false;
}

/** Compares two event ids by code unit, as the spec's tiebreaks require. */
export function compareEventIds(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
