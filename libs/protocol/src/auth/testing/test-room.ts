/**
 * A compact builder of rooms for tests of the authorization rules: RoomEvents with fake ids,
 * hashes and signatures (the rules need neither real hashes nor real signatures), auth_events
 * picked by the selection algorithm, prev_events chained from the latest event.
 *
 *   const r = room('10').join(ALICE).powerLevels(ALICE, { users: { [ALICE]: 100 } }).joinRules(ALICE, 'public');
 *   expect(r.check({ sender: BOB, type: 'm.room.member', state_key: BOB, content: { membership: 'join' } }).allowed).toBe(true);
 */
import { type JsonObject, type RoomEvent, type Signatures, type StateKey, stateKey } from '../../events/types';
import { roomVersion, type RoomVersionRules } from '../../room-versions';
import { authEventLookup, checkAuth } from '../check-auth';
import { roomIdFromCreateEventId } from '../rules/create';
import { selectAuthEvents } from '../selection';
import type { AuthEventLookup, AuthResult } from '../types';
import { domainOf } from '../user-id';

export const ALICE = '@alice:a.test';
export const BOB = '@bob:b.test';
export const CAROL = '@carol:c.test';
export const DAVE = '@dave:a.test';

export interface EventDraft {
  sender: string;
  type: string;
  state_key?: string;
  content?: JsonObject;
  redacts?: string;
  /** Defaults to the latest event of the room. */
  prev_events?: string[];
  /** Defaults to the selection algorithm over the current state. */
  auth_events?: string[];
  /** Defaults to a signature entry of the sender's server. */
  signatures?: Signatures;
  event_id?: string;
  room_id?: string;
}

let counter = 0;

export class TestRoom {
  readonly rules: RoomVersionRules;
  readonly roomId: string;
  readonly create: RoomEvent;
  private readonly stateEvents = new Map<StateKey, RoomEvent>();
  private readonly byId = new Map<string, RoomEvent>();
  private latest: string[] = [];
  private depth = 1;

  constructor(version: string, creator: string, createContent: JsonObject = {}) {
    this.rules = roomVersion(version);
    const content: JsonObject = this.rules.implicitRoomCreator
      ? { room_version: version, ...createContent }
      : { creator, room_version: version, ...createContent };
    const eventId = this.newEventId(creator);
    this.roomId = this.rules.roomIdFromCreateEvent
      ? roomIdFromCreateEventId(eventId)
      : `!room${++counter}:${domainOf(creator)}`;
    this.create = this.event({ sender: creator, type: 'm.room.create', state_key: '', content, event_id: eventId, prev_events: [] });
    this.append(this.create);
  }

  private newEventId(sender: string): string {
    counter += 1;
    // Room versions 1-2 carry server-generated ids with the origin's domain.
    return this.rules.eventIdFormat === 'server-generated' ? `$ev${counter}:${domainOf(sender)}` : `$ev${counter}`;
  }

  /** Builds an event on top of the current state without adding it. */
  event(draft: EventDraft): RoomEvent {
    const content = draft.content ?? {};
    const state = new Map<StateKey, string>();
    for (const [k, e] of this.stateEvents) state.set(k, e.event_id);
    const authEvents =
      draft.auth_events ?? selectAuthEvents(draft.type, draft.state_key, draft.sender, content, state, this.rules).eventIds;
    const redacts = draft.redacts ?? (typeof content.redacts === 'string' ? content.redacts : undefined);
    const ev: RoomEvent = {
      event_id: draft.event_id ?? this.newEventId(draft.sender),
      room_id: draft.room_id ?? this.roomId,
      sender: draft.sender,
      type: draft.type,
      ...(draft.state_key !== undefined ? { state_key: draft.state_key } : {}),
      content: this.rules.redactsInContent && draft.redacts !== undefined ? { ...content, redacts: draft.redacts } : content,
      origin_server_ts: 1_700_000_000_000 + counter,
      depth: this.depth,
      prev_events: draft.prev_events ?? [...this.latest],
      auth_events: authEvents,
      ...(redacts !== undefined ? { redacts } : {}),
      hashes: { sha256: 'fakehash' },
      signatures: draft.signatures ?? { [domainOf(draft.sender) ?? '']: { 'ed25519:1': 'fakesig' } },
      room_version: this.rules.id,
    };
    return ev;
  }

  /** The current state as an auth event lookup. */
  get lookup(): AuthEventLookup {
    return authEventLookup(this.stateEvents.values());
  }

  /** Runs the authorization rules for a draft (or built event) against the current state. */
  check(draft: EventDraft | RoomEvent): AuthResult {
    const ev = 'event_id' in draft && 'hashes' in draft ? (draft as RoomEvent) : this.event(draft);
    return checkAuth(ev, this.lookup, this.rules);
  }

  /** Adds an event that must pass the authorization rules against the current state. */
  add(draft: EventDraft): this {
    const ev = this.event(draft);
    const result = checkAuth(ev, this.lookup, this.rules);
    if (!result.allowed) throw new Error(`test room setup: ${ev.type} denied by ${result.rule}: ${result.reason}`);
    this.append(ev);
    return this;
  }

  /** Adds an event without checking it (to set up states the rules would not produce). */
  force(draft: EventDraft): this {
    this.append(this.event(draft));
    return this;
  }

  private append(ev: RoomEvent): void {
    this.byId.set(ev.event_id, ev);
    if (typeof ev.state_key === 'string') this.stateEvents.set(stateKey(ev.type, ev.state_key), ev);
    this.latest = [ev.event_id];
    this.depth += 1;
  }

  get(type: string, key = ''): RoomEvent | undefined {
    return this.stateEvents.get(stateKey(type, key));
  }

  getById(eventId: string): RoomEvent | undefined {
    return this.byId.get(eventId);
  }

  get stateMap(): Map<StateKey, string> {
    return new Map([...this.stateEvents].map(([k, e]) => [k, e.event_id]));
  }

  member(sender: string, target: string, membership: string, extra: JsonObject = {}): EventDraft {
    return { sender, type: 'm.room.member', state_key: target, content: { membership, ...extra } };
  }

  join(user: string, extra: JsonObject = {}): this {
    return this.add(this.member(user, user, 'join', extra));
  }
  invite(sender: string, target: string): this {
    return this.add(this.member(sender, target, 'invite'));
  }
  leave(sender: string, target = sender): this {
    return this.add(this.member(sender, target, 'leave'));
  }
  ban(sender: string, target: string): this {
    return this.add(this.member(sender, target, 'ban'));
  }
  knock(user: string): this {
    return this.add(this.member(user, user, 'knock'));
  }
  powerLevels(sender: string, content: JsonObject): this {
    return this.add({ sender, type: 'm.room.power_levels', state_key: '', content });
  }
  joinRules(sender: string, joinRule: string, extra: JsonObject = {}): this {
    return this.add({ sender, type: 'm.room.join_rules', state_key: '', content: { join_rule: joinRule, ...extra } });
  }
  state(sender: string, type: string, key: string, content: JsonObject): this {
    return this.add({ sender, type, state_key: key, content });
  }
}

/** A new room of `version` created by `creator` (only the m.room.create event). */
export function room(version: string, creator = ALICE, createContent: JsonObject = {}): TestRoom {
  return new TestRoom(version, creator, createContent);
}

/** Every room version id, for parameterized tests. */
export const ALL_VERSIONS = ['1', '2', '3', '4', '5', '6', '7', '8', '9', '10', '11', '12'];

/** The versions where a room-version flag has the given value. */
export function versionsWhere(pred: (r: RoomVersionRules) => boolean): string[] {
  return ALL_VERSIONS.filter((v) => pred(roomVersion(v)));
}

/**
 * A room of `version` in the usual shape: created by ALICE, ALICE joined, power levels giving
 * ALICE 100 (v12: ALICE is a creator and is not listed), join rule `joinRule`.
 */
export function standardRoom(version: string, joinRule = 'public', levels: JsonObject = {}): TestRoom {
  const r = room(version).join(ALICE);
  const users: JsonObject = r.rules.privilegedCreators ? {} : { [ALICE]: 100 };
  const extraUsers = (levels.users ?? {}) as JsonObject;
  r.powerLevels(ALICE, { ...levels, users: { ...users, ...extraUsers } });
  return r.joinRules(ALICE, joinRule);
}
