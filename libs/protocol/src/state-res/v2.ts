/**
 * State resolution v2 (rooms/v2.md, "State resolution"; room versions 2-11) and v2.1
 * (rooms/v12.md; room version 12+): the same steps, except that v2.1 adds the conflicted state
 * subgraph to the full conflicted set and starts the first iterative auth checks from an empty
 * state instead of the unconflicted state map.
 */
import { stateKey, type StateKey, type StateMap } from '../events/types';
import type { RoomVersionRules } from '../room-versions';
import { authDifference } from './auth-difference';
import { conflictedEventIds, splitConflictedState } from './conflicted';
import { conflictedStateSubgraph } from './conflicted-subgraph';
import type { EventLookup, StateResolutionOptions } from './events';
import { iterativeAuthChecks, type AuthCheck } from './iterative-auth-checks';
import { mainlineOrdering } from './mainline';
import { sortedConflictedPowerEvents } from './power-ordering';

/**
 * The full conflicted set: the conflicted state set and the auth difference, plus for v2.1 the
 * conflicted state subgraph.
 */
export function fullConflictedSet(
  stateSets: readonly StateMap[],
  conflictedSet: ReadonlySet<string>,
  getEvent: EventLookup,
  rules: RoomVersionRules,
): Set<string> {
  const full = new Set(conflictedSet);
  for (const id of authDifference(stateSets, getEvent, rules)) full.add(id);
  if (rules.stateResolution === 'v2.1') {
    for (const id of conflictedStateSubgraph(conflictedSet, getEvent, rules)) full.add(id);
  }
  return full;
}

export function resolveStateV2(
  stateSets: readonly StateMap[],
  getEvent: EventLookup,
  rules: RoomVersionRules,
  checkAuth: AuthCheck,
  options: StateResolutionOptions = {},
): Map<StateKey, string> {
  const { unconflicted, conflicted } = splitConflictedState(stateSets);
  if (conflicted.size === 0) return unconflicted;
  const full = fullConflictedSet(stateSets, conflictedEventIds(conflicted), getEvent, rules);

  // 1. The power events and their auth chains within the full conflicted set, sorted.
  const powerEvents = sortedConflictedPowerEvents(full, getEvent, rules);
  // 2. Iterative auth checks from the unconflicted state map (v2) or the empty state (v2.1).
  const start: StateMap = rules.stateResolution === 'v2.1' ? new Map() : unconflicted;
  const partial = iterativeAuthChecks(powerEvents, start, getEvent, rules, checkAuth, options);
  // 3. The other events, by mainline ordering based on the resolved power levels.
  const picked = new Set(powerEvents);
  const others = [...full].filter((id) => !picked.has(id));
  const sortedOthers = mainlineOrdering(others, partial.get(stateKey('m.room.power_levels', '')), getEvent, rules);
  // 4. Iterative auth checks on the partially resolved state.
  const resolved = iterativeAuthChecks(sortedOthers, partial, getEvent, rules, checkAuth, options);
  // 5. The unconflicted state map wins.
  for (const [key, id] of unconflicted) resolved.set(key, id);
  return resolved;
}
