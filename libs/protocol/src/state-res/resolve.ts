/**
 * The state resolution entry point: picks v1, v2 or v2.1 from the room version's rules.
 *
 * The algorithms are synchronous. The caller first loads the events they can need, asking
 * `missingEventIdsForResolution` until it returns nothing, then calls `resolveState`.
 */
import { checkAuth } from '../auth';
import { splitStateKey, type StateKey, type StateMap } from '../events/types';
import type { RoomVersionRules } from '../room-versions';
import { missingAuthClosure } from './auth-chain';
import { splitConflictedState, splitConflictedStateV1 } from './conflicted';
import { EventRoomMismatchError, InvalidStateSetError, MissingEventsError } from './errors';
import { authEventIds, type EventLookup, type StateResolutionOptions } from './events';
import { resolveStateV1 } from './v1';
import { resolveStateV2 } from './v2';

function hasConflicts(stateSets: readonly StateMap[], rules: RoomVersionRules): boolean {
  if (stateSets.length < 2) return false;
  const split = rules.stateResolution === 'v1' ? splitConflictedStateV1(stateSets) : splitConflictedState(stateSets);
  return split.conflicted.size > 0;
}

function stateSetEventIds(stateSets: readonly StateMap[]): Set<string> {
  const ids = new Set<string>();
  for (const set of stateSets) for (const id of set.values()) ids.add(id);
  return ids;
}

/**
 * The ids of events `resolveState` will need that `getEvent` cannot supply yet. Nothing is needed
 * when the state sets do not conflict. v1 needs the events of the state sets; v2 and v2.1 also
 * need their auth chains, which are only known once the events are loaded: load what this
 * returns and ask again until it returns an empty list.
 */
export function missingEventIdsForResolution(
  stateSets: readonly StateMap[],
  getEvent: EventLookup,
  rules: RoomVersionRules,
): string[] {
  if (!hasConflicts(stateSets, rules)) return [];
  const ids = stateSetEventIds(stateSets);
  if (rules.stateResolution === 'v1') return [...ids].filter((id) => getEvent(id) === undefined);
  return missingAuthClosure(ids, getEvent, rules);
}

/**
 * Checks that every needed event is available, that every state set entry is a state event
 * filed under its own (type, state_key), and that all events belong to one room.
 */
function validate(stateSets: readonly StateMap[], getEvent: EventLookup, rules: RoomVersionRules): void {
  const missing = missingEventIdsForResolution(stateSets, getEvent, rules);
  if (missing.length > 0) throw new MissingEventsError(missing);
  let roomId: string | undefined;
  const checkRoom = (id: string, actual: string): void => {
    if (roomId === undefined) roomId = actual;
    else if (actual !== roomId) throw new EventRoomMismatchError(id, roomId, actual);
  };
  const checked = new Set<string>();
  const stack: string[] = [];
  for (const set of stateSets) {
    for (const [key, id] of set as ReadonlyMap<StateKey, string>) {
      const event = getEvent(id);
      if (event === undefined) continue;
      const [type, stateKeyValue] = splitStateKey(key);
      if (typeof event.state_key !== 'string') throw new InvalidStateSetError(id, 'not a state event');
      if (event.type !== type || event.state_key !== stateKeyValue) {
        throw new InvalidStateSetError(id, `filed under (${type}, ${stateKeyValue}) but is (${event.type}, ${event.state_key})`);
      }
      if (!checked.has(id)) {
        checked.add(id);
        checkRoom(id, event.room_id);
        stack.push(id);
      }
    }
  }
  if (rules.stateResolution === 'v1') return;
  for (let id = stack.pop(); id !== undefined; id = stack.pop()) {
    const event = getEvent(id);
    if (event === undefined) continue;
    for (const authId of authEventIds(event, rules)) {
      if (checked.has(authId)) continue;
      checked.add(authId);
      const auth = getEvent(authId);
      if (auth === undefined) continue;
      checkRoom(authId, auth.room_id);
      stack.push(authId);
    }
  }
}

/**
 * The resolution of a set of room states under the room version's state resolution algorithm
 * (rooms/v1.md, rooms/v2.md, rooms/v12.md). Throws a StateResolutionError subclass when
 * events are missing or the input is inconsistent.
 */
export function resolveState(
  stateSets: readonly StateMap[],
  getEvent: EventLookup,
  rules: RoomVersionRules,
  options: StateResolutionOptions = {},
): StateMap {
  if (stateSets.length === 0) return new Map();
  if (!hasConflicts(stateSets, rules)) {
    return rules.stateResolution === 'v1' ? splitConflictedStateV1(stateSets).unconflicted : splitConflictedState(stateSets).unconflicted;
  }
  validate(stateSets, getEvent, rules);
  if (rules.stateResolution === 'v1') return resolveStateV1(stateSets, getEvent, rules, checkAuth);
  return resolveStateV2(stateSets, getEvent, rules, checkAuth, options);
}
