/**
 * The auth difference (rooms/v2.md, "Auth difference"): with C_i the full auth chain of state set
 * S_i (the union of the auth chains of the events in S_i), the events in ∪C_i − ∩C_i.
 */
import type { StateMap } from '../events/types';
import type { RoomVersionRules } from '../room-versions';
import { authChain } from './auth-chain';
import type { EventLookup } from './events';

/** The full auth chain of one state set: the union of the auth chains of its events. */
export function fullAuthChain(stateSet: StateMap, getEvent: EventLookup, rules: RoomVersionRules): Set<string> {
  return authChain(stateSet.values(), getEvent, rules);
}

/** The auth difference of the given state sets. */
export function authDifference(
  stateSets: readonly StateMap[],
  getEvent: EventLookup,
  rules: RoomVersionRules,
): Set<string> {
  const chains = stateSets.map((set) => fullAuthChain(set, getEvent, rules));
  const counts = new Map<string, number>();
  for (const chain of chains) for (const id of chain) counts.set(id, (counts.get(id) ?? 0) + 1);
  const difference = new Set<string>();
  for (const [id, count] of counts) if (count < chains.length) difference.add(id);
  return difference;
}
