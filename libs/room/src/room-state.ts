/**
 * A read-only view of a room's current state for the `decide` functions: memberships, power
 * levels and state events by (type, state_key).
 */
import {
  PowerLevels,
  roomCreators,
  stateKey,
  type AuthEventLookup,
  type JsonObject,
  type RoomEvent,
  type RoomVersionRules,
  type StateKey,
} from '@hs/protocol';

export type Membership = 'join' | 'invite' | 'leave' | 'ban' | 'knock';

export class RoomState {
  constructor(
    readonly roomId: string,
    readonly rules: RoomVersionRules,
    private readonly state: ReadonlyMap<StateKey, RoomEvent>,
  ) {}

  get roomVersion(): string {
    return this.rules.id;
  }

  /** The state event of (type, state_key), if any. */
  event(type: string, key = ''): RoomEvent | undefined {
    return this.state.get(stateKey(type, key));
  }

  /** The content of the state event of (type, state_key), if any. */
  content(type: string, key = ''): JsonObject | undefined {
    return this.event(type, key)?.content;
  }

  /** The user's membership, or undefined when the room has no member event for them. */
  membership(userId: string): Membership | undefined {
    const value = this.content('m.room.member', userId)?.membership;
    return typeof value === 'string' ? (value as Membership) : undefined;
  }

  isJoined(userId: string): boolean {
    return this.membership(userId) === 'join';
  }

  /** The users whose membership is `membership`. */
  members(membership: Membership = 'join'): string[] {
    const users: string[] = [];
    for (const event of this.state.values()) {
      if (event.type === 'm.room.member' && typeof event.state_key === 'string' && event.content.membership === membership) {
        users.push(event.state_key);
      }
    }
    return users.sort();
  }

  /** Every state event, in no particular order. */
  events(): RoomEvent[] {
    return [...this.state.values()];
  }

  powerLevels(): PowerLevels {
    return PowerLevels.fromAuthEvents(this.lookup, this.rules);
  }

  creators(): Set<string> {
    return roomCreators(this.event('m.room.create'), this.rules);
  }

  readonly lookup: AuthEventLookup = (type, key) => this.state.get(stateKey(type, key));
}
