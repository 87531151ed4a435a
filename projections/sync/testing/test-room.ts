/**
 * Builds rooms for projection tests: signed events (the protocol's buildCreateEvent and
 * buildEvent) appended as `RoomEventAccepted` facts with correct state deltas and forward
 * extremities, the way the write side records them.
 */
import { randomUUID } from 'node:crypto';
import {
  buildCreateEvent,
  buildEvent,
  generateSigningKey,
  stateKey,
  type BuiltEvent,
  type JsonObject,
  type SigningKey,
  type StateKey,
} from '@hs/protocol';
import type { EventStore, JsonValue } from '@hs/eventstore';
import {
  RECEIPT_RECORDED,
  ROOM_EVENT_ACCEPTED,
  ROOM_FORGOTTEN,
  ROOM_PURGED,
  receiptsStream,
  roomStream,
  type LocalSendInfo,
  type ReceiptRecorded,
  type ReceiptType,
  type RoomEventAccepted,
  type RoomForgotten,
  type RoomPurged,
  type StateEntry,
} from '@hs/contracts';

const keys = new Map<string, SigningKey>();

function keyFor(server: string): SigningKey {
  let key = keys.get(server);
  if (!key) {
    key = generateSigningKey('test');
    keys.set(server, key);
  }
  return key;
}

function serverOf(userId: string): string {
  return userId.slice(userId.indexOf(':') + 1);
}

export interface SendOptions {
  stateKey?: string;
  redacts?: string;
  local?: LocalSendInfo;
  softFailed?: boolean;
  outlier?: boolean;
  /**
   * Build on these events instead of the forward extremities, and leave the extremities as
   * they are: an event of a branch that arrives late (a healed split), or history.
   */
  prevEvents?: readonly { eventId: string; depth: number }[];
  /** Record it as history fetched from another server (`backfilled`). */
  backfilled?: boolean;
}

export interface Sent {
  eventId: string;
  position: bigint;
  /** The event's depth (undefined for facts that carry no event of their own). */
  depth?: number;
}

export interface TestRoomOptions {
  version?: string;
  /** Public join rules, so other users may join (default true). */
  public?: boolean;
  historyVisibility?: 'shared' | 'invited' | 'joined' | 'world_readable';
  name?: string;
}

/** A room whose events go straight to the store as accepted facts. */
export class TestRoom {
  private readonly state = new Map<StateKey, string>();
  private extremities: { eventId: string; depth: number }[] = [];
  private clock: number;

  private constructor(
    private readonly store: EventStore,
    readonly roomId: string,
    readonly version: string,
    readonly creator: string,
    startTs: number,
  ) {
    this.clock = startTs;
  }

  /** Creates the room: create event, the creator's join, power levels, join rules and history visibility. */
  static async create(store: EventStore, creator: string, options: TestRoomOptions = {}): Promise<TestRoom> {
    const version = options.version ?? '11';
    const startTs = 1_700_000_000_000;
    const built = buildCreateEvent({
      roomVersion: version,
      sender: creator,
      originServerTs: startTs,
      origin: serverOf(creator),
      signingKey: keyFor(serverOf(creator)),
    });
    const room = new TestRoom(store, built.event.room_id, version, creator, startTs + 1);
    await room.record(built.event.event_id, built.pdu, built.event.depth, { stateKey: '' });
    await room.membership(creator, creator, 'join');
    await room.state_(creator, 'm.room.power_levels', { users: { [creator]: 100 }, users_default: 0, redact: 50 });
    await room.state_(creator, 'm.room.join_rules', { join_rule: options.public === false ? 'invite' : 'public' });
    await room.state_(creator, 'm.room.history_visibility', { history_visibility: options.historyVisibility ?? 'shared' });
    if (options.name) await room.state_(creator, 'm.room.name', { name: options.name });
    return room;
  }

  stateEventId(type: string, key = ''): string | undefined {
    return this.state.get(stateKey(type, key));
  }

  async send(sender: string, type: string, content: JsonObject, options: SendOptions = {}): Promise<Sent> {
    return this.prepare(sender, type, content, options).append();
  }

  /**
   * Builds and signs an event now and appends it when `append` is called, as an event that
   * reaches the server late (e.g. over federation after a redaction of it).
   */
  prepare(sender: string, type: string, content: JsonObject, options: SendOptions = {}): { eventId: string; append(): Promise<Sent> } {
    const built = this.build(sender, type, content, options);
    return {
      eventId: built.event.event_id,
      append: () => this.record(built.event.event_id, built.pdu, built.event.depth, options),
    };
  }

  message(sender: string, body: string, extra: JsonObject = {}, options: SendOptions = {}): Promise<Sent> {
    return this.send(sender, 'm.room.message', { msgtype: 'm.text', body, ...extra }, options);
  }

  state_(sender: string, type: string, content: JsonObject, key = ''): Promise<Sent> {
    return this.send(sender, type, content, { stateKey: key });
  }

  membership(sender: string, target: string, membership: string, extra: JsonObject = {}): Promise<Sent> {
    return this.send(sender, 'm.room.member', { membership, ...extra }, { stateKey: target });
  }

  join(user: string, displayname?: string): Promise<Sent> {
    return this.membership(user, user, 'join', displayname ? { displayname } : {});
  }

  invite(sender: string, target: string): Promise<Sent> {
    return this.membership(sender, target, 'invite');
  }

  leave(user: string): Promise<Sent> {
    return this.membership(user, user, 'leave');
  }

  redact(sender: string, eventId: string): Promise<Sent> {
    return this.send(sender, 'm.room.redaction', {}, { redacts: eventId });
  }

  /** Appends a state-only change (as a state resolution after a fork would): removes entries from the state. */
  async resetState(sender: string, entries: { type: string; stateKey: string }[]): Promise<Sent> {
    const removed: StateEntry[] = [];
    for (const entry of entries) {
      const k = stateKey(entry.type, entry.stateKey);
      const id = this.state.get(k);
      if (id) removed.push({ type: entry.type, state_key: entry.stateKey, event_id: id });
    }
    const server = serverOf(sender);
    const built = buildEvent({
      roomVersion: this.version,
      roomId: this.roomId,
      sender,
      type: 'm.room.message',
      content: { msgtype: 'm.notice', body: 'fork merged' },
      prevEvents: this.extremities,
      state: this.state,
      originServerTs: this.clock++,
      origin: server,
      signingKey: keyFor(server),
    });
    for (const entry of removed) this.state.delete(stateKey(entry.type, entry.state_key));
    this.extremities = [{ eventId: built.event.event_id, depth: built.event.depth }];
    return this.appendFact({
      v: 1,
      room_id: this.roomId,
      room_version: this.version,
      event_id: built.event.event_id,
      pdu: built.pdu,
      soft_failed: false,
      outlier: false,
      state_delta: { added: [], removed },
      forward_extremities: [built.event.event_id],
    });
  }

  /**
   * Appends a message whose fact adds the given state entries to the current state, as the
   * fact of a join over federation adds the whole state the resident server gave (its events
   * held before as outliers).
   */
  async placeOnState(sender: string, added: readonly StateEntry[]): Promise<Sent> {
    const built = this.build(sender, 'm.room.message', { msgtype: 'm.notice', body: 'placed on the state' });
    const eventId = built.event.event_id;
    const removed: StateEntry[] = [];
    for (const entry of added) {
      const k = stateKey(entry.type, entry.state_key);
      const previous = this.state.get(k);
      if (previous !== undefined && previous !== entry.event_id) removed.push({ type: entry.type, state_key: entry.state_key, event_id: previous });
      this.state.set(k, entry.event_id);
    }
    this.extremities = [{ eventId, depth: built.event.depth }];
    return this.appendFact({
      v: 1,
      room_id: this.roomId,
      room_version: this.version,
      event_id: eventId,
      pdu: built.pdu,
      soft_failed: false,
      outlier: false,
      state_delta: { added: [...added], removed },
      forward_extremities: [eventId],
    });
  }

  private build(sender: string, type: string, content: JsonObject, options: SendOptions = {}): BuiltEvent {
    const server = serverOf(sender);
    return buildEvent({
      roomVersion: this.version,
      roomId: this.roomId,
      sender,
      type,
      ...(options.stateKey !== undefined ? { stateKey: options.stateKey } : {}),
      content,
      ...(options.redacts !== undefined ? { redacts: options.redacts } : {}),
      prevEvents: options.prevEvents ?? this.extremities,
      state: this.state,
      originServerTs: this.clock++,
      origin: server,
      signingKey: keyFor(server),
    });
  }

  async forget(userId: string): Promise<bigint> {
    const data: RoomForgotten = { v: 1, room_id: this.roomId, user_id: userId };
    const result = await this.store.append(roomStream(this.roomId), 'any', [
      { id: randomUUID(), type: ROOM_FORGOTTEN, data: data as unknown as JsonValue },
    ]);
    return result.position;
  }

  /** A server admin purged the room: the read models forget it. */
  async purge(by: string): Promise<bigint> {
    const data: RoomPurged = { v: 1, room_id: this.roomId, by };
    const result = await this.store.append(roomStream(this.roomId), 'any', [{ id: randomUUID(), type: ROOM_PURGED, data: data as unknown as JsonValue }]);
    return result.position;
  }

  async receipt(userId: string, eventId: string, type: ReceiptType = 'm.read', ts = this.clock++, threadId?: string): Promise<bigint> {
    const data: ReceiptRecorded = { v: 1, room_id: this.roomId, user_id: userId, receipt_type: type, event_id: eventId, ts, ...(threadId !== undefined ? { thread_id: threadId } : {}) };
    const result = await this.store.append(receiptsStream(this.roomId), 'any', [
      { id: randomUUID(), type: RECEIPT_RECORDED, data: data as unknown as JsonValue },
    ]);
    return result.position;
  }

  private async record(eventId: string, pdu: RoomEventAccepted['pdu'], depth: number, options: SendOptions): Promise<Sent> {
    const excluded = options.softFailed === true || options.outlier === true;
    const added: StateEntry[] = [];
    const removed: StateEntry[] = [];
    if (options.stateKey !== undefined && !excluded) {
      const k = stateKey(pdu.type, options.stateKey);
      const previous = this.state.get(k);
      if (previous) removed.push({ type: pdu.type, state_key: options.stateKey, event_id: previous });
      added.push({ type: pdu.type, state_key: options.stateKey, event_id: eventId });
      this.state.set(k, eventId);
    }
    if (!excluded && options.prevEvents === undefined) this.extremities = [{ eventId, depth }];
    const fact: RoomEventAccepted = {
      v: 1,
      room_id: this.roomId,
      room_version: this.version,
      event_id: eventId,
      pdu,
      soft_failed: options.softFailed === true,
      outlier: options.outlier === true,
      state_delta: { added, removed },
      forward_extremities: this.extremities.map((e) => e.eventId),
      ...(options.local ? { local: options.local } : {}),
      ...(options.backfilled ? { backfilled: true } : {}),
    };
    return { ...(await this.appendFact(fact)), depth };
  }

  private async appendFact(fact: RoomEventAccepted): Promise<Sent> {
    const result = await this.store.append(roomStream(this.roomId), 'any', [
      { id: fact.event_id, type: ROOM_EVENT_ACCEPTED, data: fact as unknown as JsonValue },
    ]);
    return { eventId: fact.event_id, position: result.position };
  }
}
