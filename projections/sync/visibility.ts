/**
 * History visibility (client-server API, "Room History Visibility", server behaviour), decided
 * from the state of the room at each event:
 *  1. `world_readable` at the event: allow.
 *  2. The user's membership at the event was `join`: allow.
 *  3. `shared` at the event and the user joined the room at any point after it: allow.
 *  4. The user's membership at the event was `invite` and the visibility `invited`: allow.
 *  5. Otherwise deny.
 * History fetched from other servers (held below position 0) is judged by the visibility in
 * force where the history this server held begins.
 * A history_visibility event is visible if the rules allow it with the value before or after
 * it. The user's own member events are always visible to them (the spec's rule allows those
 * that join or leave a joined membership; invites, knocks, rejections and bans of the user
 * are shown too, so that clients learn of them).
 */

export type HistoryVisibility = 'world_readable' | 'shared' | 'invited' | 'joined';

/** One change of a state entry at a store position (`value` undefined when it left the state). */
export interface ValueChange {
  position: bigint;
  value: string | undefined;
}

export function historyVisibilityOf(value: unknown): HistoryVisibility {
  return value === 'world_readable' || value === 'invited' || value === 'joined' ? value : 'shared';
}

/** Value in force just before `position` (changes sorted by position). */
function valueBefore(changes: readonly ValueChange[], position: bigint): string | undefined {
  let value: string | undefined;
  for (const change of changes) {
    if (change.position >= position) break;
    value = change.value;
  }
  return value;
}

function valueAt(changes: readonly ValueChange[], position: bigint): string | undefined {
  let value: string | undefined;
  for (const change of changes) {
    if (change.position > position) break;
    value = change.value;
  }
  return value;
}

export interface VisibilityEvent {
  position: bigint;
  type: string;
  state_key: string | null;
}

/** Visibility of one room's events for one user. */
export class RoomVisibility {
  constructor(
    readonly userId: string,
    /** Changes of `m.room.history_visibility` (value: its history_visibility), by position. */
    private readonly visibility: readonly ValueChange[],
    /** Changes of the user's `m.room.member` (value: membership), by position. */
    private readonly membership: readonly ValueChange[],
  ) {}

  /** Whether the user was ever in the room (any membership) or the room is world readable now. */
  mayPeek(): boolean {
    const last = this.visibility[this.visibility.length - 1];
    return historyVisibilityOf(last?.value) === 'world_readable';
  }

  membershipNow(): string | undefined {
    return this.membership[this.membership.length - 1]?.value;
  }

  /** The user's membership after the fact at `position` was applied (undefined: never a member). */
  membershipAt(position: bigint): string | undefined {
    return valueAt(this.membership, position);
  }

  /** Whether the user joined the room in (`after`, `upTo`]. */
  joinedBetween(after: bigint, upTo: bigint): boolean {
    return this.membership.some((c) => c.position > after && c.position <= upTo && c.value === 'join');
  }

  canSee(event: VisibilityEvent): boolean {
    const p = event.position;
    // History fetched from other servers (below position 0, older than anything held) is
    // judged by the visibility in force where the held history begins.
    const visBefore = historyVisibilityOf(p < 0n ? this.visibility[0]?.value : valueBefore(this.visibility, p));
    const memBefore = valueBefore(this.membership, p);
    if (this.allowed(visBefore, memBefore, p)) return true;
    if (event.type === 'm.room.history_visibility' && event.state_key === '') {
      return this.allowed(historyVisibilityOf(valueAt(this.visibility, p)), memBefore, p);
    }
    if (event.type === 'm.room.member' && event.state_key === this.userId) {
      // The user's own invites, knocks, leaves and bans are always theirs to see: a client must
      // learn of an invite, and of a rejected invite or a kick, to show the room's change.
      return true;
    }
    return false;
  }

  private allowed(visibility: HistoryVisibility, membership: string | undefined, position: bigint): boolean {
    if (visibility === 'world_readable') return true;
    if (membership === 'join') return true;
    if (visibility === 'shared' && this.membership.some((c) => c.position > position && c.value === 'join')) return true;
    if (membership === 'invite' && visibility === 'invited') return true;
    return false;
  }
}

/** What a server admin sees through the admin API: every event of the room. */
export class AdminVisibility extends RoomVisibility {
  constructor(userId: string) {
    super(userId, [], []);
  }

  override mayPeek(): boolean {
    return true;
  }

  override canSee(): boolean {
    return true;
  }
}
