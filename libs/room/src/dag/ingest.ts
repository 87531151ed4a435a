/**
 * The DAG path of the write side: accepting PDUs built elsewhere (received over federation, or
 * the join of a remote room) into a room's stream. For each event, in the order given (parents
 * first): the auth rules against its own auth events, the state before it (the state after its
 * prev events, resolved when they are more than one, or the state a join or a gap fill brings),
 * the auth rules against that state, then a soft-fail check against the room's current state.
 * The outcome of each is one fact: accepted (with the state groups it creates, its own group,
 * the current state's delta and group, and the forward extremities), soft-failed, held as an
 * outlier, or rejected. A replay of the facts reaches the same tables without deciding again.
 */
import {
  ROOM_EVENT_ACCEPTED,
  ROOM_EVENT_REJECTED,
  type RoomEventAccepted,
  type RoomEventRejected,
  type StateEntry,
  type StateGroupWrite,
} from '@hs/contracts';
import type { JsonValue, NewEvent } from '@hs/eventstore';
import {
  authEventKeys,
  checkAuth,
  checkAuthAgainstAuthEvents,
  missingEventIdsForResolution,
  resolveState,
  splitStateKey,
  stateKey,
  StateResolutionError,
  type Pdu,
  type RoomEvent,
  type RoomVersionRules,
  type StateKey,
  type StateMap,
} from '@hs/protocol';
import type { EventPlace, WriteModelReader } from '../write-model/repository';
import { MAX_STATE_GROUP_CHAIN } from '../write-model/sql';

/** A PDU that passed the format, signature and hash checks, to be placed in the room. */
export interface IncomingPdu {
  /** Normalized, with its event id (redacted when its content hash failed). */
  event: RoomEvent;
  /** The wire form as it is kept (without `unsigned`). */
  pdu: Pdu;
  /** Hold it for its auth or state role only: not part of the timeline, no state of its own. */
  outlier?: boolean;
  /**
   * The state before the event, when its prev events are not held (the state a send_join
   * answer gives for a join; the state a gap fill fetched).
   */
  stateBefore?: ReadonlyMap<StateKey, string>;
  /**
   * History fetched with /backfill: older than what the room holds. It is checked against the
   * state before it and held in the timeline with that state, but changes neither the current
   * state nor the forward extremities (and is not soft-failed against the current state).
   */
  backfilled?: boolean;
  /**
   * The state after each prev event that is not held with a state, by its id (fetched from
   * another server for a gap in the DAG). The state before the event is then the resolution of
   * these with the states after its prev events that are held.
   */
  stateAfterPrevs?: ReadonlyMap<string, ReadonlyMap<StateKey, string>>;
}

export type IngestOutcome = 'accepted' | 'soft_failed' | 'outlier' | 'rejected' | 'known';

/** The state before an event and the group it was read from (the first prev event's). */
interface StateBefore {
  before: ReadonlyMap<StateKey, string>;
  base: { group: string; map: ReadonlyMap<StateKey, string> } | undefined;
  /** The event has one prev event and `before` is its group's state. */
  single: boolean;
}

/** The state before a rejected event: its group, the groups written for it, and the map. */
interface RejectedState {
  group: string;
  groups: StateGroupWrite[];
  map: ReadonlyMap<StateKey, string>;
}

export interface IngestResult {
  eventId: string;
  outcome: IngestOutcome;
  /** Why it was rejected (a stable rule name and a sentence). */
  reason?: string;
}

/** The prev events of an event are not all held, and it came without the state before it. */
export class MissingPrevEventsError extends Error {
  constructor(
    readonly eventId: string,
    readonly missing: string[],
  ) {
    super(`the prev events ${missing.join(', ')} of ${eventId} are not known`);
    this.name = 'MissingPrevEventsError';
  }
}

/** What the DAG path starts from: the room's current state and extremities (empty for a room being joined). */
export interface DagRoomState {
  roomId: string;
  rules: RoomVersionRules;
  /** The current state as event ids. */
  state: ReadonlyMap<StateKey, string>;
  extremities: readonly string[];
  /** The current state's group (undefined for a room being joined). */
  currentGroup: string | undefined;
  /** Events at hand (the current state's), spared a read. */
  knownEvent?: (eventId: string) => RoomEvent | undefined;
}

export interface DagDecision {
  records: NewEvent[];
  results: IngestResult[];
  /** The room once the facts are applied: its current state, forward extremities and current group. */
  room: Omit<DagRoomState, 'roomId' | 'rules'>;
  /** The events the decision read or accepted, by id (the current state's events among them when they changed). */
  events: ReadonlyMap<string, RoomEvent>;
  /** The state groups the facts create, as maps (to remember once they are written). */
  groups: ReadonlyMap<string, ReadonlyMap<StateKey, string>>;
}

/**
 * Decides the facts of `incoming` on top of `room`, reading what it needs from the write model:
 * where the batch's events and their parents stand, and the auth events it names, in one query
 * each before the first event; state groups through a cache of the groups already written
 * (a group never changes).
 */
export async function decideIncoming(reader: WriteModelReader, room: DagRoomState, incoming: readonly IncomingPdu[]): Promise<DagDecision> {
  const dag = new DagBuilder(reader, room);
  await dag.prefetch(incoming);
  for (const item of incoming) await dag.add(item);
  return dag.decision();
}

/**
 * State groups already written, as maps, shared by the decisions on one database (one cache
 * per WriteModelReader): a group never changes once written, and the group of a room's current
 * state is what most received events are placed on. Bounded by the entries it holds.
 */
export class StateGroupCache {
  private readonly maps = new Map<string, ReadonlyMap<StateKey, string>>();
  private readonly chains = new Map<string, number>();
  private entries = 0;

  constructor(private readonly maxEntries = 200_000) {}

  get(group: string): ReadonlyMap<StateKey, string> | undefined {
    const map = this.maps.get(group);
    if (map) {
      // Most recently used last.
      this.maps.delete(group);
      this.maps.set(group, map);
    }
    return map;
  }

  set(group: string, map: ReadonlyMap<StateKey, string>): void {
    if (map.size > this.maxEntries || this.maps.has(group)) return;
    this.maps.set(group, map);
    this.entries += map.size;
    for (const [oldest, old] of this.maps) {
      if (this.entries <= this.maxEntries) break;
      this.maps.delete(oldest);
      this.entries -= old.size;
    }
  }

  chainLength(group: string): number | undefined {
    return this.chains.get(group);
  }

  setChainLength(group: string, length: number): void {
    if (this.chains.size >= 10_000) this.chains.clear();
    this.chains.set(group, length);
  }
}

const groupCaches = new WeakMap<WriteModelReader, StateGroupCache>();

/** The state group cache of a database (of its reader). */
export function stateGroupCache(reader: WriteModelReader): StateGroupCache {
  let cache = groupCaches.get(reader);
  if (!cache) {
    cache = new StateGroupCache();
    groupCaches.set(reader, cache);
  }
  return cache;
}

class DagBuilder {
  readonly records: NewEvent[] = [];
  readonly results: IngestResult[] = [];
  private readonly rules: RoomVersionRules;
  private readonly events = new Map<string, RoomEvent>();
  private readonly places = new Map<string, EventPlace>();
  /** Ids asked of the write model that it does not hold (nor did when asked). */
  private readonly absent = new Set<string>();
  private readonly groupMaps = new Map<string, ReadonlyMap<StateKey, string>>();
  /** The groups the facts create. */
  private readonly newGroups = new Map<string, ReadonlyMap<StateKey, string>>();
  private readonly groupCache: StateGroupCache;
  private current: ReadonlyMap<StateKey, string>;
  private extremities: string[];
  private currentGroup: string | undefined;

  constructor(
    private readonly reader: WriteModelReader,
    private readonly room: DagRoomState,
  ) {
    this.rules = room.rules;
    this.current = room.state;
    this.extremities = [...room.extremities];
    this.currentGroup = room.currentGroup;
    this.groupCache = stateGroupCache(reader);
  }

  decision(): DagDecision {
    return {
      records: this.records,
      results: this.results,
      room: { state: this.current, extremities: this.extremities, currentGroup: this.currentGroup },
      events: this.events,
      groups: this.newGroups,
    };
  }

  /**
   * Reads at once what the events of the batch will ask for: where their ids, prev events and
   * auth events stand, and the auth events held before the batch.
   */
  async prefetch(incoming: readonly IncomingPdu[]): Promise<void> {
    if (incoming.length < 2) return;
    const ids = new Set<string>();
    const own = new Set<string>();
    for (const { event } of incoming) {
      own.add(event.event_id);
      ids.add(event.event_id);
      for (const id of event.prev_events) ids.add(id);
      for (const id of event.auth_events) ids.add(id);
    }
    await this.loadPlaces([...ids]);
    const held = [...ids].filter((id) => !own.has(id) && this.places.get(id)?.rejected === false);
    const authIds = new Set(incoming.flatMap(({ event }) => event.auth_events));
    await this.loadEvents(held.filter((id) => authIds.has(id)));
  }

  async add(item: IncomingPdu): Promise<void> {
    const event = item.event;
    const id = event.event_id;
    await this.loadPlaces([id, ...event.prev_events, ...event.auth_events]);
    const known = this.places.get(id);
    if (known && (known.rejected || !known.outlier || item.outlier)) {
      this.results.push({ eventId: id, outcome: 'known' });
      return;
    }
    if (event.room_id !== this.room.roomId) return this.reject(item, 'wrong_room', `the event belongs to ${event.room_id}`);
    // An auth event of another room authorises nothing here.
    const foreign = event.auth_events.find((a) => this.places.has(a) && this.places.get(a)?.roomId !== this.room.roomId);
    if (foreign !== undefined) return this.reject(item, 'auth_events_room', `the auth event ${foreign} belongs to another room`);

    // Auth rules against the event's own auth events (rejected ones do not count).
    const authIds = event.auth_events.filter((a) => this.places.get(a)?.rejected !== true);
    await this.loadEvents(authIds);
    const authEvents = authIds.map((a) => this.events.get(a)).filter((e): e is RoomEvent => e !== undefined);
    const create = this.rules.roomIdFromCreateEvent ? await this.createEvent() : undefined;
    const own = checkAuthAgainstAuthEvents(event, authEvents, this.rules, create);
    if (!own.allowed) {
      const state = item.outlier ? undefined : await this.stateBeforeIfHeld(item);
      return this.reject(item, own.rule ?? 'auth', own.reason ?? 'not allowed by its auth events', state);
    }

    if (item.outlier) return this.accept(item, { outlier: true });
    // The event takes part in the resolutions below (as part of the state after it).
    this.events.set(id, event);

    // The state before the event.
    const found = await this.stateBefore(item);
    if (found === 'missing') throw new MissingPrevEventsError(id, this.missingPrevs(event));
    if (found === 'unresolved') return this.reject(item, 'state_resolution', 'the state before the event could not be resolved');
    const { before, base } = found;

    // Auth rules against the state before the event.
    const againstBefore = await this.checkAgainst(event, before, create);
    if (!againstBefore.allowed) {
      return this.reject(item, againstBefore.rule ?? 'auth', againstBefore.reason ?? 'not allowed by the state before it', await this.beforeGroup(id, found));
    }

    // The state after the event (the same map for an event without a state key).
    const after = typeof event.state_key === 'string' ? new Map(before).set(stateKey(event.type, event.state_key), id) : before;
    const groups: StateGroupWrite[] = [];
    let eventGroup: string;
    if (base && typeof event.state_key !== 'string' && event.prev_events.length === 1) {
      eventGroup = base.group;
    } else {
      eventGroup = id;
      groups.push(await this.groupWrite(id, after, base));
    }

    if (item.backfilled) return this.accept(item, { groups, eventGroup, after, backfilled: true });

    // Soft-fail: the event must also pass against the room's current state.
    // (A room being joined has no current state yet: the state before the join is all there is.)
    const againstCurrent = this.current.size === 0 || sameState(before, this.current) ? againstBefore : await this.checkAgainst(event, this.current, create);
    if (!againstCurrent.allowed) {
      return this.accept(item, { softFailed: true, groups, eventGroup, after });
    }

    // The forward extremities and the current state after the event.
    const prevs = new Set(event.prev_events);
    const replacesAll = this.extremities.every((x) => prevs.has(x));
    this.extremities = [...this.extremities.filter((x) => !prevs.has(x)), id];
    let next: ReadonlyMap<StateKey, string>;
    let currentGroup: string;
    if (replacesAll || this.currentGroup === undefined) {
      next = after;
      currentGroup = eventGroup;
    } else {
      const resolved = await this.resolve([this.current, after]);
      next = resolved ?? this.current;
      if (sameState(next, after)) currentGroup = eventGroup;
      else if (sameState(next, this.current)) currentGroup = this.currentGroup;
      else {
        currentGroup = `${id}~current`;
        groups.push(await this.groupWrite(currentGroup, next, { group: this.currentGroup, map: this.current }));
      }
    }
    const delta = sameState(this.current, next) ? { added: [], removed: [] } : stateDelta(this.current, next);
    this.current = next;
    this.currentGroup = currentGroup;
    return this.accept(item, { groups, eventGroup, currentGroup, delta, after });
  }

  private accept(
    item: IncomingPdu,
    options: {
      outlier?: boolean;
      softFailed?: boolean;
      groups?: StateGroupWrite[];
      eventGroup?: string;
      currentGroup?: string;
      delta?: { added: StateEntry[]; removed: StateEntry[] };
      after?: ReadonlyMap<StateKey, string>;
      backfilled?: boolean;
    },
  ): void {
    const event = item.event;
    const fact: RoomEventAccepted = {
      v: 1,
      room_id: event.room_id,
      room_version: this.rules.id,
      event_id: event.event_id,
      pdu: withoutUnsigned(item.pdu),
      soft_failed: options.softFailed === true,
      outlier: options.outlier === true,
      state_delta: options.delta ?? { added: [], removed: [] },
      forward_extremities: [...this.extremities],
      state_groups: options.groups ?? [],
    };
    if (options.eventGroup !== undefined) fact.event_group = options.eventGroup;
    if (options.currentGroup !== undefined) fact.current_group = options.currentGroup;
    if (options.backfilled) fact.backfilled = true;
    // An event held as an outlier before (its record bears the event id) joins the timeline
    // under a record id of its own.
    const heldBefore = this.places.get(event.event_id)?.outlier === true && options.outlier !== true;
    this.records.push({ id: heldBefore ? `${event.event_id}~timeline` : event.event_id, type: ROOM_EVENT_ACCEPTED, data: fact as unknown as JsonValue });
    this.events.set(event.event_id, event);
    this.places.set(event.event_id, {
      eventId: event.event_id,
      roomId: event.room_id,
      stateGroup: options.eventGroup,
      outlier: options.outlier === true,
      rejected: false,
      softFailed: options.softFailed === true,
      depth: event.depth,
    });
    if (options.eventGroup !== undefined && options.after) this.groupMaps.set(options.eventGroup, options.after);
    if (options.currentGroup !== undefined && !this.groupMaps.has(options.currentGroup)) this.groupMaps.set(options.currentGroup, this.current);
    for (const group of options.groups ?? []) {
      const map = this.groupMaps.get(group.id);
      if (map) this.newGroups.set(group.id, map);
    }
    const outcome: IngestOutcome = options.outlier ? 'outlier' : options.softFailed ? 'soft_failed' : 'accepted';
    this.results.push({ eventId: event.event_id, outcome });
  }

  /** The prev events of `event` that are not held with a state in this room. */
  private missingPrevs(event: RoomEvent): string[] {
    return event.prev_events.filter((prev) => this.heldGroup(prev) === undefined);
  }

  /** The state group of a prev event held with a state in this room. */
  private heldGroup(prev: string): string | undefined {
    const place = this.places.get(prev);
    return place?.roomId === this.room.roomId ? place.stateGroup : undefined;
  }

  /**
   * The state before an event: the state brought with it, else its prev event's state group,
   * else the resolution of its prev events' groups. `missing` when a prev event is not held
   * with a state (a rejected one counts with the state before it: it changed nothing).
   */
  private async stateBefore(item: IncomingPdu): Promise<StateBefore | 'missing' | 'unresolved'> {
    if (item.stateBefore) return { before: item.stateBefore, base: undefined, single: false };
    const event = item.event;
    // The room's create event (no prev events) comes before any state.
    if (event.prev_events.length === 0) return { before: new Map(), base: undefined, single: false };
    const given = item.stateAfterPrevs;
    if (this.missingPrevs(event).some((prev) => !given?.has(prev))) return 'missing';
    const prevs = [...new Set(event.prev_events)];
    const prevGroups = prevs.map((prev) => this.heldGroup(prev));
    const maps = await Promise.all(prevs.map((prev, i) => (prevGroups[i] !== undefined ? this.groupMap(prevGroups[i]) : (given?.get(prev) as ReadonlyMap<StateKey, string>))));
    const base = prevGroups[0] !== undefined ? { group: prevGroups[0], map: maps[0] } : undefined;
    if (maps.length === 1) return { before: maps[0], base, single: base !== undefined };
    const resolved = await this.resolve(maps);
    if (!resolved) return 'unresolved';
    return { before: resolved, base, single: false };
  }

  /** The state before a rejected event, when it can be had without fetching anything. */
  private async stateBeforeIfHeld(item: IncomingPdu): Promise<RejectedState | undefined> {
    const found = await this.stateBefore(item);
    if (found === 'missing' || found === 'unresolved') return undefined;
    return this.beforeGroup(item.event.event_id, found);
  }

  /** A state group holding the state before an event: its prev event's, or one written for it (named by the event). */
  private async beforeGroup(eventId: string, found: StateBefore): Promise<RejectedState> {
    if (found.single && found.base) return { group: found.base.group, groups: [], map: found.before };
    return { group: eventId, groups: [await this.groupWrite(eventId, found.before, found.base)], map: found.before };
  }

  private reject(item: IncomingPdu, rule: string, reason: string, state?: RejectedState): void {
    const event = item.event;
    const fact: RoomEventRejected = {
      v: 1,
      room_id: event.room_id,
      room_version: this.rules.id,
      event_id: event.event_id,
      pdu: withoutUnsigned(item.pdu),
      reason: `${rule}: ${reason}`,
    };
    if (state) {
      if (state.groups.length > 0) fact.state_groups = state.groups;
      fact.event_group = state.group;
      if (!this.groupMaps.has(state.group)) this.groupMaps.set(state.group, state.map);
      for (const group of state.groups) this.newGroups.set(group.id, state.map);
    }
    this.records.push({ id: event.event_id, type: ROOM_EVENT_REJECTED, data: fact as unknown as JsonValue });
    this.places.set(event.event_id, {
      eventId: event.event_id,
      roomId: event.room_id,
      stateGroup: state?.group,
      outlier: false,
      rejected: true,
      softFailed: false,
      depth: event.depth,
    });
    this.results.push({ eventId: event.event_id, outcome: 'rejected', reason: `${rule}: ${reason}` });
  }

  /** The auth rules for `event` against a state map (its auth events selected from the state). */
  private async checkAgainst(event: RoomEvent, state: ReadonlyMap<StateKey, string>, create: RoomEvent | undefined) {
    const keys = authEventKeys(event.type, event.state_key, event.sender, event.content, this.rules);
    const ids = keys.map((k) => state.get(k)).filter((v): v is string => v !== undefined);
    await this.loadEvents(ids);
    const byKey = new Map<StateKey, RoomEvent>();
    for (const k of keys) {
      const id = state.get(k);
      const found = id === undefined ? undefined : this.events.get(id);
      if (found) byKey.set(k, found);
    }
    if (create) byKey.set(stateKey('m.room.create', ''), create);
    return checkAuth(event, (type, key) => byKey.get(stateKey(type, key)), this.rules);
  }

  /** Room versions 12+: the room's create event, which auth_events no longer list. */
  private async createEvent(): Promise<RoomEvent | undefined> {
    const id = this.current.get(stateKey('m.room.create', ''));
    if (id !== undefined) {
      await this.loadEvents([id]);
      return this.events.get(id);
    }
    for (const event of this.events.values()) if (event.type === 'm.room.create' && event.state_key === '') return event;
    return undefined;
  }

  private async resolve(maps: readonly ReadonlyMap<StateKey, string>[]): Promise<ReadonlyMap<StateKey, string> | undefined> {
    const get = (id: string) => this.events.get(id);
    try {
      for (let round = 0; round < 1000; round++) {
        const missing = missingEventIdsForResolution(maps as StateMap[], get, this.rules);
        if (missing.length === 0) break;
        const before = this.events.size;
        await this.loadEvents(missing);
        if (this.events.size === before) return undefined;
      }
      return resolveState(maps as StateMap[], get, this.rules);
    } catch (error) {
      if (error instanceof StateResolutionError) return undefined;
      throw error;
    }
  }

  /** A new group holding `state`: a delta on `base` while its chain is short, else a full map. */
  private async groupWrite(id: string, state: ReadonlyMap<StateKey, string>, base: { group: string; map: ReadonlyMap<StateKey, string> } | undefined): Promise<StateGroupWrite> {
    const chain = base ? await this.chainLength(base.group) : undefined;
    if (!base || chain === undefined || chain + 1 > MAX_STATE_GROUP_CHAIN) {
      return { id, prev: null, entries: [...state].map(([k, eventId]) => entry(k, eventId)) };
    }
    const entries: StateGroupWrite['entries'] = [];
    for (const [k, eventId] of state) if (base.map.get(k) !== eventId) entries.push(entry(k, eventId));
    for (const k of base.map.keys()) if (!state.has(k)) entries.push(entry(k, null));
    return { id, prev: base.group, entries, chain_length: chain + 1 };
  }

  /** Chain lengths of the groups this decision creates. */
  private readonly chains = new Map<string, number>();

  private async chainLength(group: string): Promise<number | undefined> {
    const known = this.chains.get(group) ?? this.groupCache.chainLength(group);
    if (known !== undefined) return known;
    const pending = this.records
      .flatMap((r) => ((r.data as unknown as RoomEventAccepted).state_groups ?? []))
      .find((g) => g.id === group);
    if (pending) {
      const length = pending.prev === null ? 0 : ((await this.chainLength(pending.prev)) ?? 0) + 1;
      this.chains.set(group, length);
      return length;
    }
    const length = await this.reader.stateGroupChainLength(group);
    if (length !== undefined) this.groupCache.setChainLength(group, length);
    return length;
  }

  private async groupMap(group: string): Promise<ReadonlyMap<StateKey, string>> {
    const known = this.groupMaps.get(group) ?? this.groupCache.get(group);
    if (known) return known;
    const map = await this.reader.stateGroupMap(group);
    this.groupMaps.set(group, map);
    // Only groups read from the write model are shared: the decision's own are not written yet.
    this.groupCache.set(group, map);
    return map;
  }

  private async loadPlaces(ids: readonly string[]): Promise<void> {
    const wanted = [...new Set(ids)].filter((id) => !this.places.has(id) && !this.absent.has(id));
    if (wanted.length === 0) return;
    const found = await this.reader.eventPlaces(wanted);
    for (const id of wanted) {
      const place = found.get(id);
      if (place) this.places.set(id, place);
      else this.absent.add(id);
    }
  }

  private async loadEvents(ids: readonly string[]): Promise<void> {
    const wanted: string[] = [];
    for (const id of new Set(ids)) {
      if (this.events.has(id)) continue;
      const known = this.room.knownEvent?.(id);
      if (known) this.events.set(id, known);
      else wanted.push(id);
    }
    if (wanted.length === 0) return;
    for (const event of await this.reader.events(wanted)) this.events.set(event.event_id, event);
  }
}

function entry(k: StateKey, eventId: string | null): StateGroupWrite['entries'][number] {
  const [type, key] = splitStateKey(k);
  return { type, state_key: key, event_id: eventId };
}

/**
 * Pairs of state maps found equal. The maps of this path are never changed once made (the
 * writer's state maps, the cached groups, the maps after each event), so a pair found equal
 * stays equal: the current state of a large room is compared with the group of each new
 * event's prev event once, not once per event.
 */
const equalStates = new WeakMap<ReadonlyMap<StateKey, string>, WeakSet<ReadonlyMap<StateKey, string>>>();

function sameState(a: ReadonlyMap<StateKey, string>, b: ReadonlyMap<StateKey, string>): boolean {
  if (a === b) return true;
  if (a.size !== b.size) return false;
  if (equalStates.get(a)?.has(b)) return true;
  for (const [k, v] of a) if (b.get(k) !== v) return false;
  for (const [x, y] of [
    [a, b],
    [b, a],
  ]) {
    const known = equalStates.get(x) ?? new WeakSet();
    known.add(y);
    equalStates.set(x, known);
  }
  return true;
}

/** The change from one current state to the next. */
function stateDelta(from: ReadonlyMap<StateKey, string>, to: ReadonlyMap<StateKey, string>): { added: StateEntry[]; removed: StateEntry[] } {
  const added: StateEntry[] = [];
  const removed: StateEntry[] = [];
  for (const [k, id] of to) {
    const old = from.get(k);
    if (old === id) continue;
    const [type, key] = splitStateKey(k);
    if (old !== undefined) removed.push({ type, state_key: key, event_id: old });
    added.push({ type, state_key: key, event_id: id });
  }
  for (const [k, id] of from) {
    if (to.has(k)) continue;
    const [type, key] = splitStateKey(k);
    removed.push({ type, state_key: key, event_id: id });
  }
  return { added, removed };
}

function withoutUnsigned(pdu: Pdu): Pdu {
  const copy: Pdu = { ...pdu };
  delete copy.unsigned;
  return copy;
}
