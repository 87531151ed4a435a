/**
 * Auth events selection (server-server API, "Auth events selection") and the check that an
 * event's auth_events are the ones that algorithm allows (rule 2 of rooms v1-11, rule 3 of v12).
 */
import { type JsonObject, type RoomEvent, type StateKey, type StateMap, stateKey } from '../events/types';
import type { RoomVersionRules } from '../room-versions';
import { roomIdFromCreateEventId } from './rules/create';
import { ALLOW, type AuthResult, deny } from './types';

/** The user id named by `content.join_authorised_via_users_server` of a restricted join, where the room version has restricted joins. */
export function joinAuthorisingUser(
  eventType: string,
  content: JsonObject,
  rules: RoomVersionRules,
): string | undefined {
  if (eventType !== 'm.room.member' || !rules.restrictedJoins || content.membership !== 'join') return undefined;
  const via = content.join_authorised_via_users_server;
  return typeof via === 'string' ? via : undefined;
}

/** The token of `content.third_party_invite.signed.token` of an invite, if any. */
export function thirdPartyInviteToken(content: JsonObject): string | undefined {
  const tpi = content.third_party_invite;
  if (typeof tpi !== 'object' || tpi === null || Array.isArray(tpi)) return undefined;
  const signed = tpi.signed;
  if (typeof signed !== 'object' || signed === null || Array.isArray(signed)) return undefined;
  return typeof signed.token === 'string' ? signed.token : undefined;
}

/**
 * The (type, state_key) pairs an event's auth_events may hold, in selection order. Empty for
 * m.room.create. The create event is listed before room version 12 only.
 */
export function authEventKeys(
  eventType: string,
  eventStateKey: string | undefined,
  sender: string,
  content: JsonObject,
  rules: RoomVersionRules,
): StateKey[] {
  if (eventType === 'm.room.create') return [];
  const keys: StateKey[] = [];
  const add = (k: StateKey): void => {
    if (!keys.includes(k)) keys.push(k);
  };
  if (!rules.roomIdFromCreateEvent) add(stateKey('m.room.create', ''));
  add(stateKey('m.room.power_levels', ''));
  add(stateKey('m.room.member', sender));
  if (eventType === 'm.room.member' && typeof eventStateKey === 'string') {
    add(stateKey('m.room.member', eventStateKey));
    const membership = content.membership;
    if (membership === 'join' || membership === 'invite' || membership === 'knock') {
      add(stateKey('m.room.join_rules', ''));
    }
    if (membership === 'invite') {
      const token = thirdPartyInviteToken(content);
      if (token !== undefined) add(stateKey('m.room.third_party_invite', token));
    }
    const via = joinAuthorisingUser(eventType, content, rules);
    if (via !== undefined) add(stateKey('m.room.member', via));
  }
  return keys;
}

/** The result of auth events selection: the pairs that were found in the state, and their event ids. */
export interface SelectedAuthEvents {
  readonly keys: StateKey[];
  readonly eventIds: string[];
}

/**
 * Picks the auth_events of a new event from the room state before it: the create event (before
 * room version 12), the current power levels, the sender's membership and, for m.room.member,
 * the target's membership, the join rules (join/invite/knock), the third-party invite named by
 * the invite's token, and the authorising user's membership of a restricted join.
 */
export function selectAuthEvents(
  eventType: string,
  eventStateKey: string | undefined,
  sender: string,
  content: JsonObject,
  state: StateMap,
  rules: RoomVersionRules,
): SelectedAuthEvents {
  const keys: StateKey[] = [];
  const eventIds: string[] = [];
  for (const k of authEventKeys(eventType, eventStateKey, sender, content, rules)) {
    const id = state.get(k);
    if (id !== undefined && !eventIds.includes(id)) {
      keys.push(k);
      eventIds.push(id);
    }
  }
  return { keys, eventIds };
}

/**
 * Rule 2 (v1-11) / rule 3 (v12) on the event's auth_events: no two entries for one
 * (type, state_key); only entries the selection algorithm allows (v12: never m.room.create);
 * v1-11: an m.room.create entry is present; every entry belongs to the event's room.
 * The caller passes only auth events that were not themselves rejected (rule 2.3 / 3.3).
 */
export function checkAuthEventsSelection(
  event: RoomEvent,
  authEvents: readonly RoomEvent[],
  rules: RoomVersionRules,
): AuthResult {
  // Rule 1 decides m.room.create before auth_events are considered.
  if (event.type === 'm.room.create') return ALLOW;
  const allowed = new Set(
    authEventKeys(event.type, event.state_key, event.sender, event.content, rules),
  );
  const seen = new Set<StateKey>();
  let hasCreate = false;
  for (const ae of authEvents) {
    if (typeof ae.state_key !== 'string') {
      return deny('auth_events.not_state', `auth event ${ae.event_id} is not a state event`);
    }
    const k = stateKey(ae.type, ae.state_key);
    // 2.1 / 3.1 If there are duplicate entries for a given type and state_key pair, reject.
    if (seen.has(k)) {
      return deny('auth_events.duplicate', `auth_events has two entries for (${ae.type}, ${ae.state_key})`);
    }
    seen.add(k);
    // 2.2 / 3.2 Entries whose type and state_key are not selected by the algorithm, reject.
    if (!allowed.has(k)) {
      return deny('auth_events.unexpected', `auth_events must not contain (${ae.type}, ${JSON.stringify(ae.state_key)})`);
    }
    if (ae.type === 'm.room.create') hasCreate = true;
    // 2.5 / 3.5 If any event in auth_events has a room_id which does not match, reject.
    if (ae.room_id !== event.room_id) {
      return deny('auth_events.room_id', `auth event ${ae.event_id} belongs to another room`);
    }
  }
  // 2.4 (v1-11) If there is no m.room.create event among the entries, reject.
  if (!rules.roomIdFromCreateEvent && !hasCreate) {
    return deny('auth_events.no_create', 'auth_events has no m.room.create event');
  }
  return ALLOW;
}

/** Whether a create event is the one a room version 12+ room id names. */
export function isCreateEventOfRoom(create: RoomEvent, roomId: string): boolean {
  return roomIdFromCreateEventId(create.event_id) === roomId;
}
