/**
 * What every rule needs to know about the event and the state it is checked against.
 */
import type { RoomEvent } from '../events/types';
import type { RoomVersionRules } from '../room-versions';
import { PowerLevels } from './power-levels';
import type { AuthEventLookup } from './types';

export class AuthContext {
  private powerLevelsCache: PowerLevels | undefined;

  constructor(
    readonly event: RoomEvent,
    readonly lookup: AuthEventLookup,
    readonly rules: RoomVersionRules,
  ) {}

  get create(): RoomEvent | undefined {
    return this.lookup('m.room.create', '');
  }

  get powerLevels(): PowerLevels {
    this.powerLevelsCache ??= PowerLevels.fromAuthEvents(this.lookup, this.rules);
    return this.powerLevelsCache;
  }

  /** A user's current membership (`join`, `invite`, `leave`, `ban`, `knock`), or undefined when they have none. */
  membership(userId: string): string | undefined {
    const m = this.lookup('m.room.member', userId)?.content.membership;
    return typeof m === 'string' ? m : undefined;
  }

  /**
   * The current join rule. The spec gives no default when the room has no m.room.join_rules
   * event; like the other major implementations, such a room is treated as `invite`.
   */
  get joinRule(): string | undefined {
    const ev = this.lookup('m.room.join_rules', '');
    if (!ev) return 'invite';
    const rule = ev.content.join_rule ?? 'invite';
    return typeof rule === 'string' ? rule : undefined;
  }

  get senderLevel(): number {
    return this.powerLevels.userLevel(this.event.sender);
  }

  userLevel(userId: string): number {
    return this.powerLevels.userLevel(userId);
  }
}
