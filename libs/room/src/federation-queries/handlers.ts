/** The handlers of the federation queries (./queries.ts), on the write model. */
import { Inject, Injectable, Optional } from '@nestjs/common';
import type { PublishedRoomsQuery } from '@hs/contracts';
import { QueryHandler, type IQueryHandler } from '@nestjs/cqrs';
import { isServerAllowedByAcl, parseRoomAlias, redactEvent, SERVER_ACL_EVENT_TYPE, type Pdu } from '@hs/protocol';
import { forbidden, invalidParam, notFound } from '../errors';
import { assertServerAllowedInRoom } from '../federation/server-acl';
import { ROOM_PUBLISHED_ROOMS, ROOM_SERVER_NAME } from '../tokens';
import { WriteModelReader, type StoredEvent } from '../write-model/repository';
import { FederationReads, type WalkedEvent } from './federation-reads';
import {
  GetFederationBackfill,
  GetFederationEvent,
  GetFederationEventAuth,
  GetFederationMissingEvents,
  GetFederationPublicRooms,
  GetFederationRoomState,
  GetFederationEventNearTimestamp,
  GetFederationHierarchy,
  type FederationHierarchy,
  GetFederationRoomStateIds,
  QueryFederationRoomAlias,
  type FederationPdu,
  type PublicRoomsChunk,
  type PublicRoomsPage,
  type PublicRoomsRequest,
  type RoomStateAtEvent,
  type RoomStateIdsAtEvent,
} from './queries';
import { needsCurrentMembership, serverMaySee } from './visibility';
import { federationHierarchy } from '../queries/hierarchy';
import { publicRoomsChunkOf } from './summary';

/** The largest page of the published room directory. */
export const MAX_PUBLIC_ROOMS_PAGE = 500;

/** Which events of a room a server may see, by the state group after each (./visibility.ts). */
@Injectable()
export class ServerEventAccess {
  constructor(
    private readonly reads: FederationReads,
    private readonly reader: WriteModelReader,
  ) {}

  /** The ones of these state groups of the room whose events `origin` may see. */
  async visibleGroups(origin: string, roomId: string, groups: Iterable<string>): Promise<Set<string>> {
    // A server the room's current server ACL denies sees nothing of it.
    const acl = await this.reader.stateEvent(roomId, SERVER_ACL_EVENT_TYPE, '');
    if (acl && !isServerAllowedByAcl(acl.content, origin)) return new Set();
    const views = await this.reads.serverViews([...new Set(groups)], origin);
    let joinedNow: boolean | undefined;
    const visible = new Set<string>();
    for (const [group, view] of views) {
      if (needsCurrentMembership(view)) joinedNow ??= await this.reads.hasJoinedMember(roomId, origin);
      if (serverMaySee(view, joinedNow ?? false)) visible.add(group);
    }
    return visible;
  }

  /** M_FORBIDDEN unless `origin` may see the event. */
  async assertVisible(origin: string, stored: StoredEvent & { stateGroup: string }): Promise<void> {
    const visible = await this.visibleGroups(origin, stored.event.room_id, [stored.stateGroup]);
    if (!visible.has(stored.stateGroup)) throw forbidden(`${origin} may not see event ${stored.event.event_id}`);
  }

  /** The events' PDUs, redacted where `origin` may not see them (they stay usable as graph links). */
  async pdusFor(origin: string, roomId: string, events: readonly WalkedEvent[]): Promise<Pdu[]> {
    const visible = await this.visibleGroups(origin, roomId, events.map((e) => e.stateGroup));
    return events.map((e) => (visible.has(e.stateGroup) ? e.pdu : (redactEvent(e.pdu, e.roomVersion) as Pdu)));
  }
}

/** Reads events of a room as the federation queries need them. */
@Injectable()
export class FederationRoomEvents {
  constructor(
    readonly reader: WriteModelReader,
    private readonly reads: FederationReads,
  ) {}

  async requireRoom(roomId: string): Promise<void> {
    if (!(await this.reader.room(roomId))) throw notFound(`room ${roomId} is not known to this server`);
  }

  /** The room must be known, and its server ACL must let `origin` in (M_FORBIDDEN otherwise). */
  async requireRoomFor(origin: string, roomId: string): Promise<void> {
    await this.requireRoom(roomId);
    await assertServerAllowedInRoom(this.reader, roomId, origin);
  }

  /** An accepted event of the room with the state after it; M_NOT_FOUND otherwise. */
  async requireEvent(roomId: string, eventId: string): Promise<StoredEvent & { stateGroup: string }> {
    const stored = await this.reader.event(eventId);
    if (!stored || stored.rejected || stored.event.room_id !== roomId) throw notFound(`event ${eventId} is not known in room ${roomId}`);
    return withState(stored);
  }

  /**
   * The state group of the state before the event ("the state of the room at the given event",
   * prior to any change the event makes): the state after it for an event that is not a state
   * event; for a state event, the state after its prev event when it has one, else the state the
   * write side accepted it on. Undefined for the empty state before m.room.create.
   */
  async stateGroupBefore(stored: StoredEvent & { stateGroup: string }): Promise<string | undefined> {
    const event = stored.event;
    if (event.state_key === undefined) return stored.stateGroup;
    if (event.prev_events.length === 1) {
      const prev = await this.reader.event(event.prev_events[0]);
      if (prev && !prev.rejected && prev.event.room_id === event.room_id && prev.stateGroup !== undefined) return prev.stateGroup;
    }
    return this.reads.groupBeforeRevision(event.room_id, stored.streamRevision);
  }

  /** The wire forms of events, in the order of `eventIds` (ids the write model lacks are left out). */
  async pdus(eventIds: readonly string[]): Promise<Pdu[]> {
    const byId = new Map((await this.reader.wireEvents(eventIds)).map((e) => [e.eventId, e.pdu]));
    return eventIds.map((id) => byId.get(id)).filter((pdu): pdu is Pdu => pdu !== undefined);
  }
}

function withState(stored: StoredEvent): StoredEvent & { stateGroup: string } {
  if (stored.stateGroup === undefined) throw notFound(`no room state is known at event ${stored.event.event_id}`);
  return stored as StoredEvent & { stateGroup: string };
}

@QueryHandler(GetFederationEvent)
export class GetFederationEventHandler implements IQueryHandler<GetFederationEvent, FederationPdu> {
  constructor(
    private readonly events: FederationRoomEvents,
    private readonly access: ServerEventAccess,
  ) {}

  async execute(query: GetFederationEvent): Promise<FederationPdu> {
    const stored = await this.events.reader.event(query.eventId);
    if (!stored || stored.rejected) throw notFound(`event ${query.eventId} not found`);
    const known = withState(stored);
    await this.access.assertVisible(query.origin, known);
    return { roomVersion: known.event.room_version, pdu: known.pdu };
  }
}

/** The state before an event and its auth chain, as ids, once the server may see the event. */
async function stateIdsAt(
  events: FederationRoomEvents,
  access: ServerEventAccess,
  query: { origin: string; roomId: string; eventId: string },
): Promise<RoomStateIdsAtEvent> {
  await events.requireRoomFor(query.origin, query.roomId);
  const stored = await events.requireEvent(query.roomId, query.eventId);
  await access.assertVisible(query.origin, stored);
  const group = await events.stateGroupBefore(stored);
  const entries = group === undefined ? [] : await events.reader.stateGroupEntries(group);
  const pduIds = entries.map((e) => e.event_id);
  return { pduIds, authChainIds: await events.reader.authChain(pduIds) };
}

@QueryHandler(GetFederationRoomStateIds)
export class GetFederationRoomStateIdsHandler implements IQueryHandler<GetFederationRoomStateIds, RoomStateIdsAtEvent> {
  constructor(
    private readonly events: FederationRoomEvents,
    private readonly access: ServerEventAccess,
  ) {}

  execute(query: GetFederationRoomStateIds): Promise<RoomStateIdsAtEvent> {
    return stateIdsAt(this.events, this.access, query);
  }
}

@QueryHandler(GetFederationRoomState)
export class GetFederationRoomStateHandler implements IQueryHandler<GetFederationRoomState, RoomStateAtEvent> {
  constructor(
    private readonly events: FederationRoomEvents,
    private readonly access: ServerEventAccess,
  ) {}

  async execute(query: GetFederationRoomState): Promise<RoomStateAtEvent> {
    const ids = await stateIdsAt(this.events, this.access, query);
    const [pdus, authChain] = await Promise.all([this.events.pdus(ids.pduIds), this.events.pdus(ids.authChainIds)]);
    return { pdus, authChain };
  }
}

@QueryHandler(GetFederationEventAuth)
export class GetFederationEventAuthHandler implements IQueryHandler<GetFederationEventAuth, Pdu[]> {
  constructor(
    private readonly events: FederationRoomEvents,
    private readonly access: ServerEventAccess,
  ) {}

  async execute(query: GetFederationEventAuth): Promise<Pdu[]> {
    await this.events.requireRoomFor(query.origin, query.roomId);
    const stored = await this.events.requireEvent(query.roomId, query.eventId);
    await this.access.assertVisible(query.origin, stored);
    return this.events.pdus(await this.events.reader.authChain([query.eventId]));
  }
}

/**
 * The starting events of a walk that the write model holds in the room; each must be visible
 * to the server (M_FORBIDDEN otherwise).
 */
async function knownVisibleStarts(events: FederationRoomEvents, access: ServerEventAccess, origin: string, roomId: string, ids: readonly string[]): Promise<StoredEvent[]> {
  const known: (StoredEvent & { stateGroup: string })[] = [];
  for (const id of new Set(ids)) {
    const stored = await events.reader.event(id);
    if (stored && !stored.rejected && stored.event.room_id === roomId && stored.stateGroup !== undefined) known.push(stored as StoredEvent & { stateGroup: string });
  }
  const visible = await access.visibleGroups(origin, roomId, known.map((e) => e.stateGroup));
  const hidden = known.find((e) => !visible.has(e.stateGroup));
  if (hidden) throw forbidden(`${origin} may not see event ${hidden.event.event_id}`);
  return known;
}

@QueryHandler(GetFederationBackfill)
export class GetFederationBackfillHandler implements IQueryHandler<GetFederationBackfill, Pdu[]> {
  constructor(
    private readonly events: FederationRoomEvents,
    private readonly reads: FederationReads,
    private readonly access: ServerEventAccess,
  ) {}

  async execute(query: GetFederationBackfill): Promise<Pdu[]> {
    await this.events.requireRoomFor(query.origin, query.roomId);
    const starts = await knownVisibleStarts(this.events, this.access, query.origin, query.roomId, query.from);
    // Events unknown here or of another room start no walk: nothing to answer (as Synapse does;
    // an event id never lets a walk cross into another room).
    if (starts.length === 0) return [];
    const walked = await this.reads.walkPrevEvents({
      roomId: query.roomId,
      from: starts.map((e) => e.event.event_id),
      exclude: [],
      minDepth: 0,
      limit: query.limit,
    });
    return this.access.pdusFor(query.origin, query.roomId, walked);
  }
}

@QueryHandler(GetFederationMissingEvents)
export class GetFederationMissingEventsHandler implements IQueryHandler<GetFederationMissingEvents, Pdu[]> {
  constructor(
    private readonly events: FederationRoomEvents,
    private readonly reads: FederationReads,
    private readonly access: ServerEventAccess,
  ) {}

  async execute(query: GetFederationMissingEvents): Promise<Pdu[]> {
    await this.events.requireRoomFor(query.origin, query.roomId);
    const latest = await knownVisibleStarts(this.events, this.access, query.origin, query.roomId, query.latest);
    const walked = await this.reads.walkPrevEvents({
      roomId: query.roomId,
      from: [...new Set(latest.flatMap((e) => e.event.prev_events))],
      exclude: [...query.earliest, ...query.latest],
      minDepth: query.minDepth,
      limit: query.limit,
    });
    walked.sort((a, b) => a.depth - b.depth || (a.streamRevision < b.streamRevision ? -1 : a.streamRevision > b.streamRevision ? 1 : 0));
    return this.access.pdusFor(query.origin, query.roomId, walked);
  }
}

@QueryHandler(QueryFederationRoomAlias)
export class QueryFederationRoomAliasHandler implements IQueryHandler<QueryFederationRoomAlias, { roomId: string; servers: string[] }> {
  constructor(
    private readonly reader: WriteModelReader,
    private readonly reads: FederationReads,
    @Inject(ROOM_SERVER_NAME) private readonly serverName: string,
  ) {}

  async execute(query: QueryFederationRoomAlias): Promise<{ roomId: string; servers: string[] }> {
    let serverName: string;
    try {
      serverName = parseRoomAlias(query.alias).serverName;
    } catch {
      throw invalidParam(`${query.alias} is not a valid room alias`);
    }
    const found = serverName === this.serverName ? await this.reader.alias(query.alias) : undefined;
    if (!found) throw notFound(`room alias ${query.alias} not found`);
    const joined = (await this.reads.joinedServers(found.roomId)).map((s) => s.serverName);
    const servers = joined.includes(this.serverName) ? [this.serverName, ...joined.filter((s) => s !== this.serverName)] : joined;
    return { roomId: found.roomId, servers };
  }
}

const PAGE_TOKEN = /^o(0|[1-9][0-9]{0,8})$/;

/** Where this server's published rooms are read from. */
export type { PublishedRoomsQuery } from '@hs/contracts';

export interface PublishedRoomsSource {
  /** Published rooms matching, largest first then by room id: `limit` of them from `offset`, and how many match in all. */
  published(query: PublishedRoomsQuery): Promise<{ chunk: PublicRoomsChunk[]; total: number }>;
}

function matches(chunk: PublicRoomsChunk, term: string | undefined, roomTypes: readonly (string | null)[] | undefined): boolean {
  if (roomTypes !== undefined && roomTypes.length > 0 && !roomTypes.includes(chunk.room_type ?? null)) return false;
  if (term === undefined || term === '') return true;
  const needle = term.toLowerCase();
  return [chunk.name, chunk.topic, chunk.canonical_alias].some((field) => field !== undefined && field.toLowerCase().includes(needle));
}

/**
 * The write model as the source: every published room read, filtered and sorted for each
 * request. Servers run the directory projection instead (`RoomModuleDependencies.publishedRooms`).
 */
export function writeModelPublishedRooms(reads: FederationReads): PublishedRoomsSource {
  return {
    async published(query) {
      // The write model keeps the main directory only.
      if (query.network !== undefined) return { chunk: [], total: 0 };
      const rooms = (await reads.publishedRooms()).map(publicRoomsChunkOf).filter((chunk) => matches(chunk, query.term, query.roomTypes));
      rooms.sort((a, b) => b.num_joined_members - a.num_joined_members || (a.room_id < b.room_id ? -1 : a.room_id > b.room_id ? 1 : 0));
      return { chunk: rooms.slice(query.offset, query.offset + query.limit), total: rooms.length };
    },
  };
}

/**
 * A page of this server's published room directory: largest rooms first, then by room id, a
 * stable order for the pagination tokens (`o<offset>`).
 */
export async function publishedRoomsPage(source: PublishedRoomsSource, request: PublicRoomsRequest): Promise<PublicRoomsPage> {
  let offset = 0;
  if (request.since !== undefined) {
    const token = PAGE_TOKEN.exec(request.since);
    if (!token) throw invalidParam('since is not a pagination token of this server');
    offset = Number(token[1]);
  }
  const limit = Math.min(request.limit === undefined || request.limit <= 0 ? MAX_PUBLIC_ROOMS_PAGE : request.limit, MAX_PUBLIC_ROOMS_PAGE);
  const { chunk, total } = await source.published({
    offset,
    limit,
    ...(request.genericSearchTerm !== undefined ? { term: request.genericSearchTerm } : {}),
    ...(request.roomTypes ? { roomTypes: request.roomTypes } : {}),
    ...(request.thirdPartyInstanceId !== undefined ? { network: request.thirdPartyInstanceId } : {}),
    ...(request.allNetworks ? { allNetworks: true } : {}),
  });
  const page: PublicRoomsPage = { chunk, total_room_count_estimate: total };
  if (offset + limit < total) page.next_batch = `o${offset + limit}`;
  if (offset > 0) page.prev_batch = `o${Math.max(0, offset - limit)}`;
  return page;
}

@QueryHandler(GetFederationPublicRooms)
export class GetFederationPublicRoomsHandler implements IQueryHandler<GetFederationPublicRooms, PublicRoomsPage> {
  private readonly source: PublishedRoomsSource;

  constructor(reads: FederationReads, @Optional() @Inject(ROOM_PUBLISHED_ROOMS) source: PublishedRoomsSource | null) {
    this.source = source ?? writeModelPublishedRooms(reads);
  }

  execute(query: GetFederationPublicRooms): Promise<PublicRoomsPage> {
    return publishedRoomsPage(this.source, query.request);
  }
}

/** Events looked at a time by timestamp_to_event. */
const TIMESTAMP_CANDIDATES = 50;

@QueryHandler(GetFederationEventNearTimestamp)
export class GetFederationEventNearTimestampHandler implements IQueryHandler<GetFederationEventNearTimestamp, { event_id: string; origin_server_ts: number }> {
  constructor(
    private readonly events: FederationRoomEvents,
    private readonly reads: FederationReads,
    private readonly access: ServerEventAccess,
  ) {}

  /** The closest timeline event in the direction asked whose state lets `origin` see it; M_NOT_FOUND when none. */
  async execute(query: GetFederationEventNearTimestamp): Promise<{ event_id: string; origin_server_ts: number }> {
    await this.events.requireRoom(query.roomId);
    let after: { ts: number; position: string } | undefined;
    for (;;) {
      const candidates = await this.reads.eventsNearTimestamp(query.roomId, query.ts, query.dir, TIMESTAMP_CANDIDATES, after);
      const visible = await this.access.visibleGroups(query.origin, query.roomId, candidates.map((c) => c.stateGroup));
      const found = candidates.find((c) => visible.has(c.stateGroup));
      if (found) return { event_id: found.eventId, origin_server_ts: found.ts };
      if (candidates.length < TIMESTAMP_CANDIDATES) throw notFound(`no event of ${query.roomId} ${query.dir === 'f' ? 'at or after' : 'at or before'} ${query.ts}`);
      const last = candidates[candidates.length - 1];
      after = { ts: last.ts, position: last.position };
    }
  }
}

@QueryHandler(GetFederationHierarchy)
export class GetFederationHierarchyHandler implements IQueryHandler<GetFederationHierarchy, FederationHierarchy> {
  constructor(
    private readonly reads: FederationReads,
    private readonly reader: WriteModelReader,
  ) {}

  async execute(query: GetFederationHierarchy): Promise<FederationHierarchy> {
    await assertServerAllowedInRoom(this.reader, query.roomId, query.origin);
    return federationHierarchy(this.reads, query.origin, query.roomId, query.suggestedOnly);
  }
}

export const FEDERATION_QUERY_HANDLERS = [
  GetFederationHierarchyHandler,
  GetFederationEventNearTimestampHandler,
  GetFederationEventHandler,
  GetFederationRoomStateIdsHandler,
  GetFederationRoomStateHandler,
  GetFederationEventAuthHandler,
  GetFederationBackfillHandler,
  GetFederationMissingEventsHandler,
  QueryFederationRoomAliasHandler,
  GetFederationPublicRoomsHandler,
];
