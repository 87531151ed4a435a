/**
 * Whether another server may see an event of a room (server-server API: /event, /state,
 * /state_ids, /event_auth, /backfill, /get_missing_events), from the room's state at the event.
 *
 * The spec gives no separate rule for servers; this applies the history visibility rules of
 * users (client-server API, "History visibility") to the requesting server's users as a whole:
 *
 * 1. `world_readable` at the event: any server may see it.
 * 2. One of the server's users is joined in the state at the event: it may.
 * 3. `invited` at the event and one of its users is invited then: it may.
 * 4. `shared` at the event (also when unset or unknown, as the spec says) and one of its users
 *    is joined to the room now: it may. For users the rule is "joined at any point after the
 *    event"; being joined now is a stricter form of it that needs no membership history.
 * 5. Otherwise it may not (`joined`, or `invited` without an invite, and no member joined then).
 *
 * The state at the event is the write model's state group of the event: the state after it,
 * so a server's own join event is visible to it.
 */

export type HistoryVisibility = 'world_readable' | 'shared' | 'invited' | 'joined';

/** The history visibility of an m.room.history_visibility content value; unset or unknown is `shared`. */
export function historyVisibilityOf(value: unknown): HistoryVisibility {
  return value === 'world_readable' || value === 'invited' || value === 'joined' ? value : 'shared';
}

/** What a state says about one server: the history visibility and its users' memberships. */
export interface ServerView {
  historyVisibility: HistoryVisibility;
  /** The membership of each of the server's users that has an m.room.member event in the state. */
  memberships: readonly string[];
}

/** Rules 1-5 above; `joinedNow` is whether one of the server's users is joined in the current state. */
export function serverMaySee(view: ServerView, joinedNow: boolean): boolean {
  if (view.historyVisibility === 'world_readable') return true;
  if (view.memberships.includes('join')) return true;
  if (view.historyVisibility === 'invited' && view.memberships.includes('invite')) return true;
  return view.historyVisibility === 'shared' && joinedNow;
}

/** Whether rule 4 could decide: the view alone does not allow, and only being joined now might. */
export function needsCurrentMembership(view: ServerView): boolean {
  return !serverMaySee(view, false) && view.historyVisibility === 'shared';
}
