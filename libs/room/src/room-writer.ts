/**
 * The write path of every room command: one writer per room (in-process queue), the room's
 * current state from the write model (cached between commands), the command's decision, event
 * building and signing, the authorization rules against the state before each event, and one
 * transaction that appends the facts with the expected stream revision and updates the write
 * model. When another process appended first, the command is decided again on fresh state.
 */
import { randomInt, randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  ROOM_EVENT_ACCEPTED,
  roomStream,
  type LocalSendInfo,
  type RoomAliasDeleted,
  type RoomAliasSet,
  type RoomEventAccepted,
  type RoomForgotten,
  type RoomPurged,
  type RoomVisibilitySet,
  type RoomNetworkVisibilitySet,
  type StateEntry,
  type StateGroupWrite,
} from '@hs/contracts';
import { WrongExpectedRevisionError, type AppendWrites, type ExpectedRevision, type JsonValue, type NewEvent } from '@hs/eventstore';
import { sqlState } from '@hs/persistence';
import {
  BuildEventError,
  buildCreateEvent,
  buildEvent,
  checkAuth,
  choosePrevEvents,
  PDU_MAX_BYTES,
  PDU_MAX_FIELD_BYTES,
  referenceHashOf,
  roomVersion,
  stateKey,
  STRIPPED_STATE_TYPES,
  toPdu,
  type BuiltEvent,
  type JsonObject,
  type Pdu,
  type RoomEvent,
  type RoomVersionRules,
  type SigningKey,
  type StateKey,
} from '@hs/protocol';
import { decideIncoming, MissingPrevEventsError, stateGroupCache, type DagDecision, type DagRoomState, type IncomingPdu, type IngestResult } from './dag/ingest';
import { RoomCommandError, forbidden, invalidParam, notFound } from './errors';
import { RoomQueue } from './room-queue';
import { RoomState } from './room-state';
import type { Clock, TransactionalEventStore } from './tokens';
import { applyRoomRecord, applyRoomRecords, isTimelineEvent, timelineAppendWrites, type RoomStreamRecord } from './write-model/apply';
import { WriteModelReader, type Extremity, type RoomSnapshot } from './write-model/repository';
import { UNIQUE_VIOLATION, type DatabasePool } from './write-model/sql';

/** An event a command wants to send; the writer builds, signs and authorizes it. */
export interface EventTemplate {
  sender: string;
  type: string;
  stateKey?: string;
  content: JsonObject;
  redacts?: string;
  /** The local client transaction that sent it. */
  local?: LocalSendInfo;
}

/** A fact of the room stream that is not a room event. */
export type RoomFact =
  | { type: 'RoomAliasSet'; data: RoomAliasSet }
  | { type: 'RoomAliasDeleted'; data: RoomAliasDeleted }
  | { type: 'RoomVisibilitySet'; data: RoomVisibilitySet }
  | { type: 'RoomNetworkVisibilitySet'; data: RoomNetworkVisibilitySet }
  | { type: 'RoomForgotten'; data: RoomForgotten }
  | { type: 'RoomPurged'; data: RoomPurged };

/** What a command decided: events to send (in order), then other facts. */
export interface RoomPlan {
  events: EventTemplate[];
  facts?: RoomFact[];
  /**
   * With no events: the event already in the room that is what the command asked for (a
   * state event identical to the current one), which the write answers with.
   */
  existing?: RoomEvent;
}

export interface WriteResult {
  roomId: string;
  /** The events appended, in order. */
  events: RoomEvent[];
  /** The plan's `existing` event, when it appended nothing. */
  existing?: RoomEvent;
}

export interface WriteOptions {
  /**
   * Runs on each built event before it is appended and answers its PDU with further
   * signatures (an invite of a remote user, signed by the user's server); throwing cancels
   * the write.
   */
  countersign?: (event: RoomEvent, pdu: Pdu, unsigned: JsonObject | undefined) => Promise<Pdu>;
}

/** A local transaction id is already bound to another event (a concurrent retry). */
export class TransactionIdInUseError extends Error {
  constructor() {
    super('transaction id already used');
    this.name = 'TransactionIdInUseError';
  }
}

export interface RoomWriterDependencies {
  pool: DatabasePool;
  store: TransactionalEventStore;
  serverName: string;
  signingKey: SigningKey;
  clock: Clock;
  /** The room version of new rooms when the client names none. */
  defaultRoomVersion: string;
  /** Attempts when another process appended to the room first (default 10). */
  maxAttempts?: number;
}

const MAX_CACHED_ROOMS = 1000;

/**
 * Another process wrote to the room first: wait a random while (up to 2^attempt ms, at most
 * 256 ms) before deciding again, so that two busy writers of one room stop colliding.
 */
function backOff(attempt: number): Promise<void> {
  return sleep(randomInt(Math.min(2 ** attempt, 256) + 1));
}

/** Facts per append statement of an ingest. */
const INGEST_APPEND_CHUNK = 500;

export class RoomWriter {
  readonly reader: WriteModelReader;
  private readonly queue = new RoomQueue();
  private readonly cache = new Map<string, RoomSnapshot>();
  /** A state map's event ids by key, kept beside the (never changed) state maps of the cache. */
  private readonly stateIdsOf = new WeakMap<ReadonlyMap<StateKey, RoomEvent>, Map<StateKey, string>>();

  constructor(private readonly deps: RoomWriterDependencies) {
    this.reader = new WriteModelReader(deps.pool);
  }

  get serverName(): string {
    return this.deps.serverName;
  }

  get defaultRoomVersion(): string {
    return this.deps.defaultRoomVersion;
  }

  now(): number {
    return this.deps.clock();
  }

  /** Runs `task` as the room's only writer in this process. */
  exclusive<T>(roomId: string, task: () => Promise<T>): Promise<T> {
    return this.queue.run(roomId, task);
  }

  /** The room's state as the writer sees it (cached), or undefined for an unknown room. */
  async state(roomId: string): Promise<RoomState | undefined> {
    const snapshot = await this.snapshot(roomId);
    return snapshot ? new RoomState(roomId, snapshot.rules, snapshot.state) : undefined;
  }

  /**
   * Decides and writes into an existing room as its only writer. `decide` may run more than
   * once (when another process wrote first); it must not have side effects.
   */
  write(roomId: string, decide: (state: RoomState) => RoomPlan | Promise<RoomPlan>, options: WriteOptions = {}): Promise<WriteResult> {
    return this.queue.run(roomId, () => this.writeNow(roomId, decide, options));
  }

  /** Like {@link write}, for a caller already running inside {@link exclusive} for this room. */
  async writeNow(roomId: string, decide: (state: RoomState) => RoomPlan | Promise<RoomPlan>, options: WriteOptions = {}): Promise<WriteResult> {
    const attempts = this.deps.maxAttempts ?? 10;
    for (let attempt = 1; ; attempt++) {
      const snapshot = await this.snapshot(roomId);
      if (!snapshot) throw notFound(`room ${roomId} is not known to this server`);
      const plan = await decide(new RoomState(roomId, snapshot.rules, snapshot.state));
      try {
        return await this.commit(snapshot, plan, undefined, undefined, options);
      } catch (error) {
        if (error instanceof WrongExpectedRevisionError && attempt < attempts) {
          this.cache.delete(roomId);
          await backOff(attempt);
          continue;
        }
        throw error;
      }
    }
  }

  /**
   * Creates a room: the m.room.create event, then the events `rest` decides, all in one append
   * to the new room's stream.
   */
  async create(input: {
    creator: string;
    rules: RoomVersionRules;
    createContent: JsonObject;
    rest: (state: RoomState) => RoomPlan;
    /** The localpart of the room id, chosen ahead (room versions whose ids are not the create event's hash); random without. */
    roomIdLocalpart?: string;
    options?: WriteOptions;
  }): Promise<WriteResult> {
    let built: BuiltEvent;
    try {
      built = buildCreateEvent({
        roomVersion: input.rules,
        sender: input.creator,
        content: input.createContent,
        roomIdLocalpart: input.roomIdLocalpart,
        originServerTs: this.deps.clock(),
        origin: this.deps.serverName,
        signingKey: this.deps.signingKey,
      });
    } catch (error) {
      if (error instanceof BuildEventError) throw invalidParam(error.reason);
      throw error;
    }
    const roomId = built.event.room_id;
    const empty: RoomSnapshot = {
      roomId,
      rules: input.rules,
      creator: input.creator,
      revision: -1n,
      state: new Map(),
      extremities: [],
    };
    return this.queue.run(roomId, () => {
      const plan = { events: [], facts: [] } as RoomPlan;
      return this.commit(empty, plan, built, input.rest, input.options);
    });
  }

  /**
   * Places PDUs built elsewhere (received over federation, or a join's state from a resident
   * server) in the room, parents first: each is accepted, soft-failed, held as an outlier or
   * rejected (see dag/ingest.ts), and all their facts are appended in one transaction. A room
   * this server does not hold yet is started with `roomVersion` (a join, an invite).
   * Throws MissingPrevEventsError when an event's prev events are not held and it brings no
   * state: the caller fetches them first.
   */
  ingest(roomId: string, incoming: readonly IncomingPdu[], options: { roomVersion?: string } = {}): Promise<IngestResult[]> {
    return this.queue.run(roomId, () => this.ingestNow(roomId, incoming, options));
  }

  /** Like {@link ingest}, for a caller already running inside {@link exclusive} for this room. */
  async ingestNow(roomId: string, incoming: readonly IncomingPdu[], options: { roomVersion?: string } = {}): Promise<IngestResult[]> {
    const attempts = this.deps.maxAttempts ?? 10;
    for (let attempt = 1; ; attempt++) {
      const snapshot = await this.snapshot(roomId);
      let room: DagRoomState;
      if (snapshot) {
        const known = this.currentGroupOf.get(snapshot);
        const byId = this.stateEventsFor(snapshot);
        room = {
          roomId,
          rules: snapshot.rules,
          state: this.stateIdsFor(snapshot),
          extremities: snapshot.extremities.map((x) => x.eventId),
          currentGroup: known !== undefined ? (known ?? undefined) : await this.reader.currentStateGroup(roomId),
          knownEvent: (id) => byId.get(id),
        };
      } else {
        if (options.roomVersion === undefined) throw notFound(`room ${roomId} is not known to this server`);
        room = { roomId, rules: roomVersion(options.roomVersion), state: new Map(), extremities: [], currentGroup: undefined };
      }
      const decision = await decideIncoming(this.reader, room, incoming);
      if (decision.records.length === 0) return decision.results;
      const expected: ExpectedRevision = snapshot ? snapshot.revision : 'any';
      let revision = -1n;
      try {
        await this.deps.store.transaction(async (tx) => {
          // A join appends tens of thousands of facts: a few hundred per statement keep each one small.
          let next = expected;
          const records: RoomStreamRecord[] = [];
          const ordered = newestHistoryFirst(decision.records);
          for (let i = 0; i < ordered.length; i += INGEST_APPEND_CHUNK) {
            const chunk = ordered.slice(i, i + INGEST_APPEND_CHUNK);
            const appended = await this.deps.store.appendInTransaction(tx, roomStream(roomId), next, chunk);
            chunk.forEach((record, j) => records.push({ type: record.type, data: record.data, revision: appended.events[j].revision, position: appended.events[j].position }));
            next = revision = appended.nextExpectedRevision;
          }
          await applyRoomRecords(tx, roomId, records);
        });
      } catch (error) {
        this.cache.delete(roomId);
        if (error instanceof WrongExpectedRevisionError && attempt < attempts) {
          await backOff(attempt);
          continue;
        }
        throw error;
      }
      this.rememberIngested(roomId, snapshot, decision, revision);
      return decision.results;
    }
  }

  /**
   * Records an invite of one of our users received from another server: placed in the room
   * when we hold it and its prev events, else held as an outlier whose membership is the
   * user's current one, with the stripped state it came with for the invitee's client.
   */
  async recordRemoteInvite(roomId: string, version: string, invite: IncomingPdu, strippedState: JsonObject[]): Promise<void> {
    if (await this.reader.room(roomId)) {
      try {
        const [result] = await this.ingest(roomId, [invite]);
        if (result.outcome === 'accepted' || result.outcome === 'known') return;
      } catch (error) {
        if (!(error instanceof MissingPrevEventsError)) throw error;
      }
    }
    await this.recordOutOfBand(roomId, version, invite, { invite_room_state: strippedState });
  }

  /** Records our own membership event in a room we do not hold (a declined invite, a leave sent through another server). */
  recordRemoteMembership(roomId: string, version: string, membership: IncomingPdu, unsigned?: JsonObject): Promise<void> {
    return this.recordOutOfBand(roomId, version, membership, unsigned);
  }

  private recordOutOfBand(roomId: string, version: string, item: IncomingPdu, unsigned?: JsonObject): Promise<void> {
    return this.queue.run(roomId, async () => {
      const event = item.event;
      const userId = event.state_key ?? '';
      const previous = await this.reader.currentStateEntry(roomId, 'm.room.member', userId);
      const fact: RoomEventAccepted = {
        v: 1,
        room_id: roomId,
        room_version: version,
        event_id: event.event_id,
        pdu: withoutUnsigned(item.pdu),
        soft_failed: false,
        outlier: true,
        state_delta: {
          added: [{ type: 'm.room.member', state_key: userId, event_id: event.event_id }],
          removed: previous ? [previous] : [],
        },
        forward_extremities: [],
        state_groups: [],
      };
      if (unsigned) fact.unsigned = unsigned;
      const record: NewEvent = { id: event.event_id, type: ROOM_EVENT_ACCEPTED, data: fact as unknown as JsonValue };
      await this.deps.store.transaction(async (tx) => {
        const appended = await this.deps.store.appendInTransaction(tx, roomStream(roomId), 'any', [record]);
        const stored = appended.events[0];
        await applyRoomRecord(tx, roomId, { type: record.type, data: record.data, revision: stored.revision, position: stored.position });
      });
      this.cache.delete(roomId);
    });
  }

  /**
   * After an ingest: the state groups it wrote join the shared cache, and the room's cached
   * snapshot moves on with the facts' state deltas and the new extremities (dropped when an
   * event they name is not at hand).
   */
  private rememberIngested(roomId: string, snapshot: RoomSnapshot | undefined, decision: DagDecision, revision: bigint): void {
    const groups = stateGroupCache(this.reader);
    for (const [group, map] of decision.groups) groups.set(group, map);
    this.cache.delete(roomId);
    if (!snapshot) return;
    let state = snapshot.state;
    let stateIds = this.stateIdsFor(snapshot);
    for (const record of decision.records) {
      if (record.type !== ROOM_EVENT_ACCEPTED) continue;
      const { added, removed } = (record.data as unknown as RoomEventAccepted).state_delta;
      if (added.length === 0 && removed.length === 0) continue;
      if (state === snapshot.state) {
        state = new Map(state);
        stateIds = new Map(stateIds);
      }
      // As the write model applies a delta: entries removed and not replaced go, then the added ones.
      const addedKeys = new Set(added.map((e) => stateKey(e.type, e.state_key)));
      for (const entry of removed) {
        const key = stateKey(entry.type, entry.state_key);
        if (addedKeys.has(key) || stateIds.get(key) !== entry.event_id) continue;
        (state as Map<StateKey, RoomEvent>).delete(key);
        stateIds.delete(key);
      }
      for (const entry of added) {
        const event = decision.events.get(entry.event_id);
        if (!event) return;
        (state as Map<StateKey, RoomEvent>).set(stateKey(entry.type, entry.state_key), event);
        stateIds.set(stateKey(entry.type, entry.state_key), entry.event_id);
      }
    }
    const known = new Map(snapshot.extremities.map((x) => [x.eventId, x]));
    const extremities: Extremity[] = [];
    for (const id of decision.room.extremities) {
      const event = known.get(id)?.event ?? decision.events.get(id);
      if (!event) return;
      extremities.push({ eventId: id, depth: event.depth, event });
    }
    this.stateIdsOf.set(state, stateIds);
    const next: RoomSnapshot = { ...snapshot, revision, state, extremities };
    this.currentGroupOf.set(next, decision.room.currentGroup ?? null);
    this.remember(next);
  }

  /** The room's current state group as of a cached snapshot, when an ingest left it known. */
  private readonly currentGroupOf = new WeakMap<RoomSnapshot, string | null>();

  /** The events of a state map (of a cached snapshot) by id. */
  private readonly stateEventsOf = new WeakMap<ReadonlyMap<StateKey, RoomEvent>, Map<string, RoomEvent>>();

  private stateEventsFor(snapshot: RoomSnapshot): Map<string, RoomEvent> {
    let byId = this.stateEventsOf.get(snapshot.state);
    if (!byId) {
      byId = new Map([...snapshot.state.values()].map((e) => [e.event_id, e]));
      this.stateEventsOf.set(snapshot.state, byId);
    }
    return byId;
  }

  private stateIdsFor(snapshot: RoomSnapshot): Map<StateKey, string> {
    let ids = this.stateIdsOf.get(snapshot.state);
    if (!ids) {
      ids = new Map([...snapshot.state].map(([k, e]) => [k, e.event_id]));
      this.stateIdsOf.set(snapshot.state, ids);
    }
    return ids;
  }

  /** Drops the cached state of every room (after the write model was rebuilt). */
  clearCache(): void {
    this.cache.clear();
  }

  private async snapshot(roomId: string): Promise<RoomSnapshot | undefined> {
    const cached = this.cache.get(roomId);
    if (cached) return cached;
    const loaded = await this.reader.snapshot(roomId);
    if (loaded) this.remember(loaded);
    return loaded;
  }

  private remember(snapshot: RoomSnapshot): void {
    this.cache.delete(snapshot.roomId);
    if (this.cache.size >= MAX_CACHED_ROOMS) {
      const oldest = this.cache.keys().next().value;
      if (oldest !== undefined) this.cache.delete(oldest);
    }
    this.cache.set(snapshot.roomId, snapshot);
  }

  private async commit(
    snapshot: RoomSnapshot,
    plan: RoomPlan,
    createEvent?: BuiltEvent,
    afterCreate?: (state: RoomState) => RoomPlan,
    options: WriteOptions = {},
  ): Promise<WriteResult> {
    const build = new EventBatch(snapshot, this.deps, this.stateIdsFor(snapshot));
    if (createEvent) {
      build.accept(createEvent, undefined);
      plan = afterCreate ? afterCreate(new RoomState(snapshot.roomId, snapshot.rules, build.state)) : plan;
    }
    for (const template of plan.events) build.add(template);
    if (options.countersign) {
      for (const fact of build.facts) {
        const event = build.events.find((e) => e.event_id === fact.event_id);
        if (event) fact.pdu = withoutUnsigned(await options.countersign(event, fact.pdu, fact.unsigned));
      }
    }
    const records: NewEvent[] = [
      ...build.facts.map((fact): NewEvent => ({ id: fact.event_id, type: ROOM_EVENT_ACCEPTED, data: fact as unknown as JsonValue })),
      ...(plan.facts ?? []).map((fact): NewEvent => ({ id: randomUUID(), type: fact.type, data: fact.data as unknown as JsonValue })),
    ];
    if (records.length === 0) return { roomId: snapshot.roomId, events: [], ...(plan.existing ? { existing: plan.existing } : {}) };
    const expected: ExpectedRevision = snapshot.revision < 0n ? 'no_stream' : snapshot.revision;
    let nextRevision = snapshot.revision;
    const fact = build.facts[0];
    try {
      if (!createEvent && records.length === 1 && fact && isTimelineEvent(fact)) {
        // A message: the append and its write-model rows in one statement.
        const event = build.events[0];
        const writes: AppendWrites = timelineAppendWrites(event, fact);
        const appended = await this.deps.store.appendWithWrites(roomStream(snapshot.roomId), expected, records, writes);
        nextRevision = appended.nextExpectedRevision;
      } else {
        await this.deps.store.transaction(async (tx) => {
        const appended = await this.deps.store.appendInTransaction(tx, roomStream(snapshot.roomId), expected, records);
        for (let i = 0; i < records.length; i++) {
          const stored = appended.events[i];
          await applyRoomRecord(tx, snapshot.roomId, {
            type: records[i].type,
            data: records[i].data,
            revision: stored.revision,
            position: stored.position,
          });
        }
        nextRevision = appended.nextExpectedRevision;
      });
      }
    } catch (error) {
      const mapped = mapCommitError(error);
      // A transaction id already bound left nothing written: the cached state still holds.
      if (!(mapped instanceof TransactionIdInUseError)) this.cache.delete(snapshot.roomId);
      throw mapped;
    }
    this.stateIdsOf.set(build.state, build.stateIds);
    this.remember({ ...snapshot, revision: nextRevision, state: build.state, extremities: build.extremities });
    return { roomId: snapshot.roomId, events: build.events };
  }
}

function mapCommitError(error: unknown): unknown {
  if (sqlState(error) !== UNIQUE_VIOLATION) return error;
  const text = describe(error);
  if (text.includes('aliases_pkey')) return new RoomCommandError('M_ROOM_IN_USE', 'the room alias is already in use');
  if (text.includes('client_transactions_pkey')) return new TransactionIdInUseError();
  return error;
}

function describe(error: unknown): string {
  const parts: string[] = [];
  let current: unknown = error;
  for (let depth = 0; depth < 4 && current instanceof Error; depth++) {
    parts.push(current.message, String((current as Error & { constraint?: unknown }).constraint ?? ''));
    current = (current as Error & { cause?: unknown }).cause;
  }
  return parts.join(' ');
}

/** The events of one command, built one after the other on the evolving state. */
class EventBatch {
  /** The state after the batch's events; the snapshot's own map until a state event is accepted. */
  state: Map<StateKey, RoomEvent>;
  /** The same state as event ids, what auth events are selected from. */
  stateIds: Map<StateKey, string>;
  private stateCopied = false;
  extremities: Extremity[];
  readonly events: RoomEvent[] = [];
  readonly facts: RoomEventAccepted[] = [];
  /** Events of the batch and the snapshot's extremities, by id (reference hashes, room versions 1-2). */
  private readonly known = new Map<string, RoomEvent>();
  /** The snapshot's state events by id, indexed on first use (room versions 1-2 only). */
  private stateById: Map<string, RoomEvent> | undefined;

  /** `stateIds` is the snapshot's state as event ids; neither map is changed. */
  constructor(
    private readonly snapshot: RoomSnapshot,
    private readonly deps: RoomWriterDependencies,
    stateIds: Map<StateKey, string>,
  ) {
    this.state = snapshot.state;
    this.stateIds = stateIds;
    this.extremities = [...snapshot.extremities];
    for (const extremity of snapshot.extremities) this.known.set(extremity.eventId, extremity.event);
  }

  private eventById(id: string): RoomEvent | undefined {
    const known = this.known.get(id);
    if (known) return known;
    this.stateById ??= new Map([...this.snapshot.state.values()].map((e) => [e.event_id, e]));
    return this.stateById.get(id);
  }

  /** Copies the state maps before the first change (the snapshot's maps are shared and cached). */
  private writableState(): void {
    if (this.stateCopied) return;
    this.state = new Map(this.state);
    this.stateIds = new Map(this.stateIds);
    this.stateCopied = true;
  }

  add(template: EventTemplate): void {
    const rules = this.snapshot.rules;
    if (template.type === 'm.room.create') throw forbidden('a room has exactly one m.room.create event');
    checkFieldSizes(template, this.snapshot.roomId);
    let built: BuiltEvent;
    try {
      built = buildEvent({
        roomVersion: rules,
        roomId: this.snapshot.roomId,
        sender: template.sender,
        type: template.type,
        stateKey: template.stateKey,
        content: template.content,
        redacts: template.redacts,
        prevEvents: this.extremities,
        state: this.stateIds,
        originServerTs: this.deps.clock(),
        origin: this.deps.serverName,
        signingKey: this.deps.signingKey,
        referenceHash: (id) => {
          const event = this.eventById(id);
          return event ? referenceHashOf(toPdu(event), rules) : undefined;
        },
      });
    } catch (error) {
      if (error instanceof BuildEventError) throw invalidParam(error.reason);
      throw error;
    }
    const auth = checkAuth(built.event, (type, key) => this.state.get(stateKey(type, key)), rules);
    if (!auth.allowed) throw forbidden(auth.reason, auth.rule);
    this.accept(built, template);
  }

  accept(built: BuiltEvent, template: EventTemplate | undefined): void {
    const event = built.event;
    const size = built.size;
    if (size > PDU_MAX_BYTES) {
      throw new RoomCommandError('M_TOO_LARGE', `the event is ${size} bytes, more than the ${PDU_MAX_BYTES} bytes allowed`);
    }
    const added: StateEntry[] = [];
    const removed: StateEntry[] = [];
    let unsigned: JsonObject | undefined;
    if (typeof event.state_key === 'string') {
      const key = stateKey(event.type, event.state_key);
      const previous = this.state.get(key);
      if (previous) removed.push({ type: previous.type, state_key: event.state_key, event_id: previous.event_id });
      added.push({ type: event.type, state_key: event.state_key, event_id: event.event_id });
      if (event.type === 'm.room.member' && event.content.membership === 'invite') unsigned = { invite_room_state: this.strippedState(event) };
      this.writableState();
      this.state.set(key, event);
      this.stateIds.set(key, event.event_id);
    }
    const referenced = new Set(choosePrevEvents(this.extremities).map((p) => p.eventId));
    this.extremities = [...this.extremities.filter((p) => !referenced.has(p.eventId)), { eventId: event.event_id, depth: event.depth, event }];
    this.known.set(event.event_id, event);
    this.events.push(event);
    const fact: RoomEventAccepted = {
      v: 1,
      room_id: event.room_id,
      room_version: this.snapshot.rules.id,
      event_id: event.event_id,
      pdu: withoutUnsigned(built.pdu),
      soft_failed: false,
      outlier: false,
      state_delta: { added, removed },
      forward_extremities: this.extremities.map((p) => p.eventId),
    };
    if (template?.local) fact.local = template.local;
    if (unsigned) fact.unsigned = unsigned;
    this.facts.push(fact);
  }

  /** Stripped state for an invite: the room's summary events and the inviter's membership. */
  private strippedState(invite: RoomEvent): JsonObject[] {
    const events = STRIPPED_STATE_TYPES.map((type) => this.state.get(stateKey(type, ''))).filter((e): e is RoomEvent => e !== undefined);
    const inviter = this.state.get(stateKey('m.room.member', invite.sender));
    if (inviter) events.push(inviter);
    return events.map((e) => ({ type: e.type, state_key: e.state_key ?? '', sender: e.sender, content: e.content }));
  }
}

function withoutUnsigned(pdu: Pdu): Pdu {
  const copy: Pdu = { ...pdu };
  delete copy.unsigned;
  return copy;
}

function checkFieldSizes(template: EventTemplate, roomId: string): void {
  const fields: [string, string | undefined][] = [
    ['type', template.type],
    ['state_key', template.stateKey],
    ['sender', template.sender],
    ['room_id', roomId],
  ];
  for (const [name, value] of fields) {
    if (value !== undefined && Buffer.byteLength(value, 'utf8') > PDU_MAX_FIELD_BYTES) {
      throw new RoomCommandError('M_TOO_LARGE', `${name} is longer than ${PDU_MAX_FIELD_BYTES} bytes`);
    }
  }
}

/**
 * The records of an ingest in the order they are appended: backfilled history (decided oldest
 * first) last and newest first, so that each older event gets a later position (read models
 * order history by position negated); every other record first, as decided.
 */
function newestHistoryFirst(records: readonly NewEvent[]): NewEvent[] {
  const backfilled = (record: NewEvent) => record.type === ROOM_EVENT_ACCEPTED && (record.data as { backfilled?: unknown }).backfilled === true;
  if (!records.some(backfilled)) return [...records];
  // A state group may build on one an older event made: every group of the ingest travels, in
  // the order decided, with the first record appended, so each is written before it is used.
  type WithGroups = { state_groups?: StateGroupWrite[] };
  const groups = records.flatMap((record) => (record.data as WithGroups).state_groups ?? []);
  const ordered = [...records.filter((r) => !backfilled(r)), ...records.filter(backfilled).reverse()].map((record) => {
    const data = record.data as WithGroups;
    return data.state_groups === undefined ? record : { ...record, data: { ...data, state_groups: [] } as unknown as JsonValue };
  });
  ordered[0] = { ...ordered[0], data: { ...(ordered[0].data as WithGroups), state_groups: groups } as unknown as JsonValue };
  return ordered;
}
