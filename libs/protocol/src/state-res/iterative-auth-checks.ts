/**
 * The iterative auth checks (rooms/v2.md, "Iterative auth checks"): starting from a state,
 * apply each event of a sorted list whose authorization rules pass against that state; when a
 * (type, state_key) the rules need is not in the state, the event's own (not rejected) auth
 * event for it is used.
 */
import { stateKey, type RoomEvent, type StateKey, type StateMap } from '../events/types';
import type { RoomVersionRules } from '../room-versions';
import { InvalidStateSetError } from './errors';
import { authEventIds, requireEvent, type EventLookup, type StateResolutionOptions } from './events';

/** The authorization rules as state resolution calls them (server-server API, "Authorization rules"). */
export type AuthCheck = (
  event: RoomEvent,
  authEvents: (type: string, stateKey: string) => RoomEvent | undefined,
  rules: RoomVersionRules,
) => { readonly allowed: boolean };

export function iterativeAuthChecks(
  sortedEventIds: readonly string[],
  initialState: StateMap,
  getEvent: EventLookup,
  rules: RoomVersionRules,
  checkAuth: AuthCheck,
  options: StateResolutionOptions = {},
): Map<StateKey, string> {
  const isRejected = options.isRejected ?? ((): boolean => false);
  const state = new Map(initialState);
  for (const id of sortedEventIds) {
    const event = requireEvent(getEvent, id);
    if (typeof event.state_key !== 'string') throw new InvalidStateSetError(id, 'not a state event');
    let ownAuthEvents: Map<StateKey, RoomEvent> | undefined;
    const lookup = (type: string, key: string): RoomEvent | undefined => {
      const k = stateKey(type, key);
      const inState = state.get(k);
      if (inState !== undefined && !isRejected(inState)) return requireEvent(getEvent, inState);
      if (ownAuthEvents === undefined) {
        ownAuthEvents = new Map();
        for (const authId of authEventIds(event, rules)) {
          if (isRejected(authId)) continue;
          const auth = requireEvent(getEvent, authId);
          if (typeof auth.state_key === 'string') ownAuthEvents.set(stateKey(auth.type, auth.state_key), auth);
        }
      }
      return ownAuthEvents.get(k);
    };
    if (checkAuth(event, lookup, rules).allowed) state.set(stateKey(event.type, event.state_key), id);
  }
  return state;
}
