/**
 * State resolution v1 (rooms/v1.md, "State resolution"; room version 1).
 */
import { createHash } from 'node:crypto';
import { splitStateKey, stateKey, type RoomEvent, type StateKey, type StateMap } from '../events/types';
import type { RoomVersionRules } from '../room-versions';
import { splitConflictedStateV1 } from './conflicted';
import { compareEventIds, requireEvent, type EventLookup } from './events';
import type { AuthCheck } from './iterative-auth-checks';

const POWER_LEVELS_KEY = stateKey('m.room.power_levels', '');

/** sha1 of an event id, hex encoded: the v1 tiebreak. */
export function eventIdSha1(eventId: string): string {
  return createHash('sha1').update(eventId, 'utf8').digest('hex');
}

/**
 * Ascending depth, then descending sha1(event_id): the order in which conflicting
 * m.room.power_levels, m.room.join_rules and m.room.member events are replayed.
 */
export function v1AuthEventOrder(events: readonly RoomEvent[]): RoomEvent[] {
  const hashes = new Map(events.map((e) => [e.event_id, eventIdSha1(e.event_id)] as const));
  return [...events].sort((a, b) => {
    if (a.depth !== b.depth) return a.depth - b.depth;
    return -compareEventIds(hashes.get(a.event_id) as string, hashes.get(b.event_id) as string);
  });
}

/** Descending depth, then ascending sha1(event_id): the preference among other conflicting events. */
export function v1OtherEventOrder(events: readonly RoomEvent[]): RoomEvent[] {
  return v1AuthEventOrder(events).reverse();
}

type Lookup = (type: string, key: string) => RoomEvent | undefined;

function lookupIn(state: ReadonlyMap<StateKey, string>, getEvent: EventLookup): Lookup {
  return (type, key) => {
    const id = state.get(stateKey(type, key));
    return id === undefined ? undefined : requireEvent(getEvent, id);
  };
}

/**
 * Resolves one conflicted key of an auth type: the first event of the ordered list is taken; each
 * following one replaces it while it is allowed in R (with the key's current winner in place);
 * the first one that is not allowed ends the replay.
 */
function resolveAuthKey(
  key: StateKey,
  events: readonly RoomEvent[],
  state: ReadonlyMap<StateKey, string>,
  getEvent: EventLookup,
  rules: RoomVersionRules,
  checkAuth: AuthCheck,
): string {
  const ordered = v1AuthEventOrder(events);
  const r = new Map(state);
  let winner = ordered[0] as RoomEvent;
  for (const event of ordered.slice(1)) {
    r.set(key, winner.event_id);
    if (!checkAuth(event, lookupIn(r, getEvent), rules).allowed) break;
    winner = event;
  }
  return winner.event_id;
}

/**
 * Resolves one other conflicted key: the highest depth, then lowest sha1(event_id), that is
 * allowed in R. When none is allowed the last of that order (lowest depth) is kept, as the
 * established implementations do; the spec leaves that case open.
 */
function resolveOtherKey(
  events: readonly RoomEvent[],
  state: ReadonlyMap<StateKey, string>,
  getEvent: EventLookup,
  rules: RoomVersionRules,
  checkAuth: AuthCheck,
): string {
  const ordered = v1OtherEventOrder(events);
  const lookup = lookupIn(state, getEvent);
  for (const event of ordered) if (checkAuth(event, lookup, rules).allowed) return event.event_id;
  return (ordered[ordered.length - 1] as RoomEvent).event_id;
}

export function resolveStateV1(
  stateSets: readonly StateMap[],
  getEvent: EventLookup,
  rules: RoomVersionRules,
  checkAuth: AuthCheck,
): Map<StateKey, string> {
  if (stateSets.length === 1) return new Map(stateSets[0]);
  const { unconflicted, conflicted } = splitConflictedStateV1(stateSets);
  const r = new Map(unconflicted);
  if (conflicted.size === 0) return r;
  const eventsOf = (key: StateKey): RoomEvent[] =>
    [...(conflicted.get(key) ?? [])].map((id) => requireEvent(getEvent, id));
  const keys = [...conflicted.keys()].sort();
  const ofType = (type: string): StateKey[] =>
    keys.filter((k) => k !== POWER_LEVELS_KEY && splitStateKey(k)[0] === type);

  // Power levels first, then join rules, then memberships; each stage sees R as the previous
  // stages left it, and the keys of one stage are each replayed against that same R.
  const stages = [[POWER_LEVELS_KEY].filter((k) => conflicted.has(k)), ofType('m.room.join_rules'), ofType('m.room.member')];
  const done = new Set<StateKey>();
  for (const stage of stages) {
    const before = new Map(r);
    for (const key of stage) {
      r.set(key, resolveAuthKey(key, eventsOf(key), before, getEvent, rules, checkAuth));
      done.add(key);
    }
  }
  // Everything else, against R with the auth events resolved.
  const afterAuth = new Map(r);
  for (const key of keys) {
    if (!done.has(key)) r.set(key, resolveOtherKey(eventsOf(key), afterAuth, getEvent, rules, checkAuth));
  }
  return r;
}
