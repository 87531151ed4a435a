/**
 * Shared shapes of the authorization rules (server-server API, "Authorization rules";
 * rooms/v1.md … rooms/v12.md, "Authorisation rules").
 */
import type { RoomEvent } from '../events/types';

/** The outcome of running the authorization rules on one event. */
export type AuthResult =
  | { readonly allowed: true }
  | {
      readonly allowed: false;
      /** A stable identifier of the numbered rule that denied the event, e.g. `member.join.banned`. */
      readonly rule: string;
      /** A human-readable explanation. */
      readonly reason: string;
    };

/**
 * The state an event is checked against, looked up by (type, state_key). For "auth against the
 * event's auth_events" it is built from the auth_events (plus, from room version 12, the
 * m.room.create event the room id names); for "auth against the state before the event" or
 * "the current state" it is built from that state. It must only return accepted (not rejected)
 * events.
 */
export type AuthEventLookup = (type: string, stateKey: string) => RoomEvent | undefined;

export const ALLOW: AuthResult = Object.freeze({ allowed: true });

export function deny(rule: string, reason: string): AuthResult {
  return { allowed: false, rule, reason };
}

/** The event types whose state affects authorization. */
export const AUTH_EVENT_TYPES: ReadonlySet<string> = new Set([
  'm.room.create',
  'm.room.member',
  'm.room.join_rules',
  'm.room.power_levels',
  'm.room.third_party_invite',
]);
