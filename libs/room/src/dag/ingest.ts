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
}

export type IngestOutcome = 'accepted' | 'soft_failed' | 'outlier' | 'rejected' | 'known';

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
}

export interface DagDecision {
  records: NewEvent[];
  results: IngestResult[];
}

/** Decides the facts of `incoming` on top of `room`, reading what it needs from the write model. */
export async function decideIncoming(reader: WriteModelReader, room: DagRoomState, incoming: readonly IncomingPdu[]): Promise<DagDecision> {
  const dag = new DagBuilder(reader, room);
  for (const item of incoming) await dag.add(item);
  return { records: dag.records, results: dag.results };
}

class DagBuilder {
  readonly records: NewEvent[] = [];
  readonly results: IngestResult[] = [];
  private readonly rules: RoomVersionRules;
  private readonly events = new Map<string, RoomEvent>();
  private readonly places = new Map<string, EventPlace>();
  private readonly groupMaps = new Map<string, ReadonlyMap<StateKey, string>>();
  private current: Map<StateKey, string>;
  private extremities: string[];
  private currentGroup: string | undefined;

  constructor(
    private readonly reader: WriteModelReader,
    private readonly room: DagRoomState,
  ) {
    this.rules = room.rules;
    this.current = new Map(room.state);
    this.extremities = [...room.extremities];
    this.currentGroup = room.currentGroup;
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

    // Auth rules against the event's own auth events (rejected ones do not count).
    const authIds = event.auth_events.filter((a) => this.places.get(a)?.rejected !== true);
    await this.loadEvents(authIds);
    const authEvents = authIds.map((a) => this.events.get(a)).filter((e): e is RoomEvent => e !== undefined);
    const create = this.rules.roomIdFromCreateEvent ? await this.createEvent() : undefined;
    const own = checkAuthAgainstAuthEvents(event, authEvents, this.rules, create);
    if (!own.allowed) return this.reject(item, own.rule ?? 'auth', own.reason ?? 'not allowed by its auth events');

    if (item.outlier) return this.accept(item, { outlier: true });
    // The event takes part in the resolutions below (as part of the state after it).
    this.events.set(id, event);

    // The state before the event.
    let before: ReadonlyMap<StateKey, string>;
    let base: { group: string; map: ReadonlyMap<StateKey, string> } | undefined;
    if (item.stateBefore) {
      before = item.stateBefore;
    } else {
      const prevGroups: string[] = [];
      const missing: string[] = [];
      for (const prev of event.prev_events) {
        const place = this.places.get(prev);
        if (!place || place.stateGroup === undefined || place.rejected) missing.push(prev);
        else prevGroups.push(place.stateGroup);
      }
      if (missing.length > 0) throw new MissingPrevEventsError(id, missing);
      const maps = await Promise.all(prevGroups.map((g) => this.groupMap(g)));
      base = { group: prevGroups[0], map: maps[0] };
      if (maps.length === 1) before = maps[0];
      else {
        const resolved = await this.resolve(maps);
        if (!resolved) return this.reject(item, 'state_resolution', 'the state before the event could not be resolved');
        before = resolved;
      }
    }

    // Auth rules against the state before the event.
    const againstBefore = await this.checkAgainst(event, before, create);
    if (!againstBefore.allowed) return this.reject(item, againstBefore.rule ?? 'auth', againstBefore.reason ?? 'not allowed by the state before it');

    const after = new Map(before);
    if (typeof event.state_key === 'string') after.set(stateKey(event.type, event.state_key), id);
    const groups: StateGroupWrite[] = [];
    let eventGroup: string;
    if (base && typeof event.state_key !== 'string' && event.prev_events.length === 1) {
      eventGroup = base.group;
    } else {
      eventGroup = id;
      groups.push(await this.groupWrite(id, after, base));
    }

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
    const delta = stateDelta(this.current, next);
    this.current = new Map(next);
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
    this.records.push({ id: event.event_id, type: ROOM_EVENT_ACCEPTED, data: fact as unknown as JsonValue });
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
    if (options.currentGroup !== undefined && !this.groupMaps.has(options.currentGroup)) this.groupMaps.set(options.currentGroup, new Map(this.current));
    const outcome: IngestOutcome = options.outlier ? 'outlier' : options.softFailed ? 'soft_failed' : 'accepted';
    this.results.push({ eventId: event.event_id, outcome });
  }

  private reject(item: IncomingPdu, rule: string, reason: string): void {
    const event = item.event;
    const fact: RoomEventRejected = {
      v: 1,
      room_id: event.room_id,
      room_version: this.rules.id,
      event_id: event.event_id,
      pdu: withoutUnsigned(item.pdu),
      reason: `${rule}: ${reason}`,
    };
    this.records.push({ id: event.event_id, type: ROOM_EVENT_REJECTED, data: fact as unknown as JsonValue });
    this.places.set(event.event_id, {
      eventId: event.event_id,
      roomId: event.room_id,
      stateGroup: undefined,
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
    return { id, prev: base.group, entries };
  }

  private readonly chains = new Map<string, number>();

  private async chainLength(group: string): Promise<number | undefined> {
    const known = this.chains.get(group);
    if (known !== undefined) return known;
    const pending = this.records
      .flatMap((r) => ((r.data as unknown as RoomEventAccepted).state_groups ?? []))
      .find((g) => g.id === group);
    let length: number | undefined;
    if (pending) length = pending.prev === null ? 0 : ((await this.chainLength(pending.prev)) ?? 0) + 1;
    else length = await this.reader.stateGroupChainLength(group);
    if (length !== undefined) this.chains.set(group, length);
    return length;
  }

  private async groupMap(group: string): Promise<ReadonlyMap<StateKey, string>> {
    const known = this.groupMaps.get(group);
    if (known) return known;
    const map = await this.reader.stateGroupMap(group);
    this.groupMaps.set(group, map);
    return map;
  }

  private async loadPlaces(ids: readonly string[]): Promise<void> {
    const wanted = ids.filter((id) => !this.places.has(id));
    if (wanted.length === 0) return;
    for (const [id, place] of await this.reader.eventPlaces(wanted)) this.places.set(id, place);
  }

  private async loadEvents(ids: readonly string[]): Promise<void> {
    const wanted = [...new Set(ids)].filter((id) => !this.events.has(id));
    if (wanted.length === 0) return;
    for (const event of await this.reader.events(wanted)) this.events.set(event.event_id, event);
  }
}

function entry(k: StateKey, eventId: string | null): StateGroupWrite['entries'][number] {
  const [type, key] = splitStateKey(k);
  return { type, state_key: key, event_id: eventId };
}

function sameState(a: ReadonlyMap<StateKey, string>, b: ReadonlyMap<StateKey, string>): boolean {
  if (a === b) return true;
  if (a.size !== b.size) return false;
  for (const [k, v] of a) if (b.get(k) !== v) return false;
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
