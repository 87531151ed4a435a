/**
 * Auth chains (rooms/v2.md, "Auth chain"): the events reachable from an event by following
 * `auth_events` links, not including the event itself.
 */
import type { RoomVersionRules } from '../room-versions';
import { MissingEventsError } from './errors';
import { authEventIds, type EventLookup } from './events';

/**
 * The union of the auth chains of the given events (the events themselves are included only
 * when one is in another's auth chain). Throws MissingEventsError naming every event id that is
 * reachable but not available.
 */
export function authChain(ids: Iterable<string>, getEvent: EventLookup, rules: RoomVersionRules): Set<string> {
  const chain = new Set<string>();
  const missing = new Set<string>();
  const stack: string[] = [];
  const expand = (id: string): void => {
    const event = getEvent(id);
    if (event === undefined) {
      missing.add(id);
      return;
    }
    for (const authId of authEventIds(event, rules)) {
      if (!chain.has(authId)) {
        chain.add(authId);
        stack.push(authId);
      }
    }
  };
  for (const id of ids) expand(id);
  for (let id = stack.pop(); id !== undefined; id = stack.pop()) expand(id);
  if (missing.size > 0) throw new MissingEventsError([...missing]);
  return chain;
}

/**
 * The ids reachable from `ids` through `auth_events` (the starting ids included) that `getEvent`
 * cannot supply. Never throws for missing events.
 */
export function missingAuthClosure(ids: Iterable<string>, getEvent: EventLookup, rules: RoomVersionRules): string[] {
  const seen = new Set<string>();
  const missing: string[] = [];
  const stack: string[] = [];
  for (const id of ids) {
    if (!seen.has(id)) {
      seen.add(id);
      stack.push(id);
    }
  }
  for (let id = stack.pop(); id !== undefined; id = stack.pop()) {
    const event = getEvent(id);
    if (event === undefined) {
      missing.push(id);
      continue;
    }
    for (const authId of authEventIds(event, rules)) {
      if (!seen.has(authId)) {
        seen.add(authId);
        stack.push(authId);
      }
    }
  }
  return missing;
}
