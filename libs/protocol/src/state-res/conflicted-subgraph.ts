/**
 * The conflicted state subgraph of state resolution v2.1 (rooms/v12.md, "Conflicted state
 * subgraph"): the union of all `auth_events` paths between any two events of the conflicted
 * state set, endpoints included.
 */
import type { RoomVersionRules } from '../room-versions';
import { authEventIds, requireEvent, type EventLookup } from './events';

/**
 * An event lies on such a path exactly when it is the conflicted event X itself or in X's auth
 * chain (reachable backwards from a conflicted event) and some conflicted event Y is itself or in
 * its auth chain (it reaches a conflicted event). Both sets are found by linear walks.
 */
export function conflictedStateSubgraph(
  conflictedSet: ReadonlySet<string>,
  getEvent: EventLookup,
  rules: RoomVersionRules,
): Set<string> {
  // Backwards: the conflicted events and their auth chains, remembering the reverse edges.
  const backwards = new Set<string>(conflictedSet);
  const citedBy = new Map<string, string[]>();
  const stack = [...conflictedSet];
  for (let id = stack.pop(); id !== undefined; id = stack.pop()) {
    for (const authId of authEventIds(requireEvent(getEvent, id), rules)) {
      const citers = citedBy.get(authId);
      if (citers) citers.push(id);
      else citedBy.set(authId, [id]);
      if (!backwards.has(authId)) {
        backwards.add(authId);
        stack.push(authId);
      }
    }
  }
  // Forwards within that set: everything that reaches a conflicted event.
  const subgraph = new Set<string>(conflictedSet);
  const queue = [...conflictedSet];
  for (let id = queue.pop(); id !== undefined; id = queue.pop()) {
    for (const citer of citedBy.get(id) ?? []) {
      if (!subgraph.has(citer)) {
        subgraph.add(citer);
        queue.push(citer);
      }
    }
  }
  return subgraph;
}
