/**
 * The authorization rules of room versions 1-12 (rooms/v1.md … rooms/v12.md, "Authorisation
 * rules"), as one sequence of small checks. Rule numbers in comments are v1-5 / v6-11 / v12.
 */
import type { RoomEvent } from '../events/types';
import type { RoomVersionRules } from '../room-versions';
import { AuthContext } from './context';
import { checkCreate } from './rules/create';
import { checkMember } from './rules/member';
import { checkPowerLevels } from './rules/power-levels';
import {
  checkAliases,
  checkAuthEventsRoom,
  checkCreateEventPresent,
  checkFederate,
  checkRedactionV1,
  checkRequiredPowerLevel,
  checkSenderJoined,
  checkThirdPartyInviteEvent,
  checkUserStateKey,
} from './rules/room';
import { checkAuthEventsSelection } from './selection';
import { ALLOW, type AuthEventLookup, type AuthResult, deny } from './types';

/**
 * Runs the authorization rules of `rules` on `event` against the state given by `authEvents`.
 * The caller decides which state that is (the event's auth_events, the state before it, or the
 * current state) and passes only accepted events; from room version 12 the lookup must also
 * return the room's m.room.create event, which auth_events no longer list.
 */
export function checkAuth(event: RoomEvent, authEvents: AuthEventLookup, rules: RoomVersionRules): AuthResult {
  // 1. m.room.create.
  if (event.type === 'm.room.create') return checkCreate(event, rules);

  const ctx = new AuthContext(event, authEvents, rules);
  const steps: Array<(c: AuthContext) => AuthResult> = [
    // v12 rule 2; v1-11 rule 2.4: the create event.
    checkCreateEventPresent,
    // 2.5 / 2.5 / 3.5: every auth event belongs to this room.
    checkAuthEventsRoom,
    // 3 / 3 / 4: m.federate.
    checkFederate,
  ];
  for (const step of steps) {
    const r = step(ctx);
    if (!r.allowed) return r;
  }

  // 4 (v1-5): m.room.aliases.
  if (event.type === 'm.room.aliases' && rules.specialCaseAliasesAuth) return checkAliases(ctx);
  // 5 / 4 / 5: m.room.member.
  if (event.type === 'm.room.member') return checkMember(ctx);

  // 6 / 5 / 6: the sender must be joined.
  const joined = checkSenderJoined(ctx);
  if (!joined.allowed) return joined;
  // 7 / 6 / 7: m.room.third_party_invite.
  if (event.type === 'm.room.third_party_invite') return checkThirdPartyInviteEvent(ctx);

  for (const step of [checkRequiredPowerLevel, checkUserStateKey]) {
    // 8 / 7 / 8: required power level; 9 / 8 / 9: state keys that are user ids.
    const r = step(ctx);
    if (!r.allowed) return r;
  }
  // 10 / 9 / 10: m.room.power_levels.
  if (event.type === 'm.room.power_levels') return checkPowerLevels(ctx);
  // 11 (v1-2): m.room.redaction.
  if (event.type === 'm.room.redaction' && rules.redactionSenderDomainAuth) return checkRedactionV1(ctx);
  // 12 / 10 / 11: otherwise, allow.
  return ALLOW;
}

/** A lookup over a list of events by (type, state_key). */
export function authEventLookup(events: Iterable<RoomEvent>): AuthEventLookup {
  const map = new Map<string, RoomEvent>();
  for (const e of events) {
    if (typeof e.state_key === 'string') map.set(`${e.type}\u0000${e.state_key}`, e);
  }
  return (type, key) => map.get(`${type}\u0000${key}`);
}

/**
 * Step 4 of the checks on receipt of a PDU: the authorization rules against the event's own
 * auth_events, including the checks on which auth events it lists (rule 2 / 2 / 3).
 * `authEvents` are the events the event's auth_events name, all accepted; room version 12+
 * needs `createEvent`, the m.room.create event its room id names.
 */
export function checkAuthAgainstAuthEvents(
  event: RoomEvent,
  authEvents: readonly RoomEvent[],
  rules: RoomVersionRules,
  createEvent?: RoomEvent,
): AuthResult {
  if (event.type !== 'm.room.create') {
    const known = new Set(authEvents.map((e) => e.event_id));
    const missing = event.auth_events.find((id) => !known.has(id));
    if (missing !== undefined) return deny('auth_events.missing', `auth event ${missing} is not available`);
  }
  const listed = authEvents.filter((e) => event.auth_events.includes(e.event_id));
  const selection = checkAuthEventsSelection(event, listed, rules);
  if (!selection.allowed) return selection;
  const lookupEvents = rules.roomIdFromCreateEvent && createEvent ? [createEvent, ...listed] : listed;
  return checkAuth(event, authEventLookup(lookupEvents), rules);
}
