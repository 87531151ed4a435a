import { Inject, Optional } from '@nestjs/common';
import { QueryHandler, type IQueryHandler } from '@nestjs/cqrs';
import { isValidEventId, parseRoomAlias, serverNameOf, type RoomEvent } from '@hs/protocol';
import { invalidParam, notFound } from '../errors';
import { FederationRooms } from '../federation/federation-rooms';
import { FederationReads } from '../federation-queries/federation-reads';
import { publishedRoomsPage, writeModelPublishedRooms, type PublishedRoomsSource } from '../federation-queries/handlers';
import type { PublicRoomsPage } from '../federation-queries/queries';
import { spaceHierarchy, type HierarchyPage } from './hierarchy';
import { ROOM_DATABASE_POOL, ROOM_PUBLISHED_ROOMS } from '../tokens';
import type { DatabasePool } from '../write-model/sql';
import { RoomWriter } from '../room-writer';
import type { StoredEvent, WriteModelReader } from '../write-model/repository';
import {
  GetAuthChain,
  GetEvent,
  GetMembership,
  GetPublicRooms,
  GetRoomAliases,
  GetRoomHierarchy,
  GetRoomDirectoryVisibility,
  GetRoomState,
  GetRoomVersion,
  GetRoomsOfUser,
  GetStateEvent,
  IsJoined,
  IsRoomForgotten,
  ResolveRoomAlias,
} from './queries';

/** Resolves a room alias of this server; other servers' aliases need federation and are not found here. */
export async function resolveLocalAlias(writer: RoomWriter, alias: string): Promise<{ roomId: string; servers: string[] }> {
  let serverName: string;
  try {
    serverName = parseRoomAlias(alias).serverName;
  } catch {
    throw invalidParam(`${alias} is not a valid room alias`);
  }
  const found = serverName === writer.serverName ? await writer.reader.alias(alias) : undefined;
  if (!found) throw notFound(`room alias ${alias} not found`);
  return { roomId: found.roomId, servers: [writer.serverName] };
}

/** An alias of this server from the write model; another server's through its directory (query/directory) when rooms federate. */
export function resolveAlias(writer: RoomWriter, federation: FederationRooms | null, alias: string): Promise<{ roomId: string; servers: string[] }> {
  const server = serverNameOf(alias);
  if (federation && server !== undefined && server !== writer.serverName) return federation.resolveRemoteAlias(alias);
  return resolveLocalAlias(writer, alias);
}

@QueryHandler(GetRoomState)
export class GetRoomStateHandler implements IQueryHandler<GetRoomState, RoomEvent[]> {
  constructor(private readonly writer: RoomWriter) {}

  async execute(query: GetRoomState): Promise<RoomEvent[]> {
    const reader = this.writer.reader;
    if (!(await reader.room(query.roomId))) throw notFound(`room ${query.roomId} is not known to this server`);
    if (query.atEventId === undefined) {
      const entries = await reader.currentStateEntries(query.roomId);
      return reader.events(entries.map((e) => e.event_id)).then(sortState);
    }
    return (await stateAfterEvent(reader, query.roomId, query.atEventId)).state;
  }
}

/**
 * The room's state right after one of its timeline events (the state group the write model
 * holds for it), sorted by type and state key, with the event. M_NOT_FOUND for an id that is
 * not valid (it reaches no query), not known, not of the room, or of an event without state.
 */
export async function stateAfterEvent(reader: WriteModelReader, roomId: string, eventId: string): Promise<{ event: RoomEvent; state: RoomEvent[] }> {
  const at = isValidEventId(eventId) ? await reader.event(eventId) : undefined;
  if (!at || at.event.room_id !== roomId || at.stateGroup === undefined) throw notFound(`event ${eventId} is not known in room ${roomId}`);
  const entries = await reader.stateGroupEntries(at.stateGroup);
  return { event: at.event, state: sortState(await reader.events(entries.map((e) => e.event_id))) };
}

function sortState(events: RoomEvent[]): RoomEvent[] {
  return events.sort((a, b) => (a.type === b.type ? cmp(a.state_key ?? '', b.state_key ?? '') : cmp(a.type, b.type)));
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

@QueryHandler(GetStateEvent)
export class GetStateEventHandler implements IQueryHandler<GetStateEvent, RoomEvent> {
  constructor(private readonly writer: RoomWriter) {}

  async execute(query: GetStateEvent): Promise<RoomEvent> {
    const event = await this.writer.reader.stateEvent(query.roomId, query.type, query.stateKey);
    if (!event) {
      if (!(await this.writer.reader.room(query.roomId))) throw notFound(`room ${query.roomId} is not known to this server`);
      throw notFound(`the room has no state event (${query.type}, ${query.stateKey})`);
    }
    return event;
  }
}

@QueryHandler(GetEvent)
export class GetEventHandler implements IQueryHandler<GetEvent, StoredEvent> {
  constructor(private readonly writer: RoomWriter) {}

  async execute(query: GetEvent): Promise<StoredEvent> {
    const stored = await this.writer.reader.event(query.eventId);
    if (!stored) throw notFound(`event ${query.eventId} not found`);
    return stored;
  }
}

@QueryHandler(GetRoomVersion)
export class GetRoomVersionHandler implements IQueryHandler<GetRoomVersion, string> {
  constructor(private readonly writer: RoomWriter) {}

  async execute(query: GetRoomVersion): Promise<string> {
    const room = await this.writer.reader.room(query.roomId);
    if (!room) throw notFound(`room ${query.roomId} is not known to this server`);
    return room.roomVersion;
  }
}

@QueryHandler(GetRoomDirectoryVisibility)
export class GetRoomDirectoryVisibilityHandler implements IQueryHandler<GetRoomDirectoryVisibility, 'public' | 'private'> {
  constructor(private readonly writer: RoomWriter) {}

  async execute(query: GetRoomDirectoryVisibility): Promise<'public' | 'private'> {
    const room = await this.writer.reader.room(query.roomId);
    if (!room) throw notFound(`room ${query.roomId} is not known to this server`);
    return room.published ? 'public' : 'private';
  }
}

@QueryHandler(IsJoined)
export class IsJoinedHandler implements IQueryHandler<IsJoined, boolean> {
  constructor(private readonly writer: RoomWriter) {}

  async execute(query: IsJoined): Promise<boolean> {
    return (await this.writer.reader.membership(query.roomId, query.userId)) === 'join';
  }
}

@QueryHandler(GetMembership)
export class GetMembershipHandler implements IQueryHandler<GetMembership, string | null> {
  constructor(private readonly writer: RoomWriter) {}

  async execute(query: GetMembership): Promise<string | null> {
    return (await this.writer.reader.membership(query.roomId, query.userId)) ?? null;
  }
}

@QueryHandler(GetRoomsOfUser)
export class GetRoomsOfUserHandler implements IQueryHandler<GetRoomsOfUser, { roomId: string; membership: string }[]> {
  constructor(private readonly writer: RoomWriter) {}

  execute(query: GetRoomsOfUser): Promise<{ roomId: string; membership: string }[]> {
    return this.writer.reader.roomsOfUser(query.userId, query.memberships);
  }
}

@QueryHandler(ResolveRoomAlias)
export class ResolveRoomAliasHandler implements IQueryHandler<ResolveRoomAlias, { roomId: string; servers: string[] }> {
  constructor(
    private readonly writer: RoomWriter,
    @Optional() @Inject(FederationRooms) private readonly federation: FederationRooms | null,
  ) {}

  execute(query: ResolveRoomAlias): Promise<{ roomId: string; servers: string[] }> {
    return resolveAlias(this.writer, this.federation, query.alias);
  }
}

@QueryHandler(GetRoomAliases)
export class GetRoomAliasesHandler implements IQueryHandler<GetRoomAliases, string[]> {
  constructor(private readonly writer: RoomWriter) {}

  async execute(query: GetRoomAliases): Promise<string[]> {
    if (!(await this.writer.reader.room(query.roomId))) throw notFound(`room ${query.roomId} is not known to this server`);
    return this.writer.reader.aliasesOfRoom(query.roomId);
  }
}

@QueryHandler(IsRoomForgotten)
export class IsRoomForgottenHandler implements IQueryHandler<IsRoomForgotten, boolean> {
  constructor(private readonly writer: RoomWriter) {}

  execute(query: IsRoomForgotten): Promise<boolean> {
    return this.writer.reader.isForgotten(query.userId, query.roomId);
  }
}

@QueryHandler(GetAuthChain)
export class GetAuthChainHandler implements IQueryHandler<GetAuthChain, string[]> {
  constructor(private readonly writer: RoomWriter) {}

  execute(query: GetAuthChain): Promise<string[]> {
    return this.writer.reader.authChain(query.eventIds);
  }
}

@QueryHandler(GetPublicRooms)
export class GetPublicRoomsHandler implements IQueryHandler<GetPublicRooms, PublicRoomsPage> {
  private readonly source: PublishedRoomsSource;

  constructor(
    @Inject(ROOM_DATABASE_POOL) pool: DatabasePool,
    private readonly writer: RoomWriter,
    @Optional() @Inject(FederationRooms) private readonly federation: FederationRooms | null,
    @Optional() @Inject(ROOM_PUBLISHED_ROOMS) source: PublishedRoomsSource | null,
  ) {
    this.source = source ?? writeModelPublishedRooms(new FederationReads(pool));
  }

  /** Ours from the directory (the write model without one); another server's through its federation API (none without federation). */
  execute(query: GetPublicRooms): Promise<PublicRoomsPage> {
    if (query.server === undefined || query.server === this.writer.serverName) return publishedRoomsPage(this.source, query.request);
    if (!this.federation) return Promise.reject(notFound(`the room directory of ${query.server} cannot be reached: this server does not federate`));
    return this.federation.remotePublicRooms(query.server, query.request);
  }
}

@QueryHandler(GetRoomHierarchy)
export class GetRoomHierarchyHandler implements IQueryHandler<GetRoomHierarchy, HierarchyPage> {
  private readonly reads: FederationReads;

  constructor(
    @Inject(ROOM_DATABASE_POOL) pool: DatabasePool,
    private readonly writer: RoomWriter,
    @Optional() @Inject(FederationRooms) private readonly federation: FederationRooms | null,
  ) {
    this.reads = new FederationReads(pool);
  }

  /** From the write model (the rooms this server holds), and for the rooms it does not hold, from the servers their parents name. */
  async execute(query: GetRoomHierarchy): Promise<HierarchyPage> {
    const rooms = await this.writer.reader.roomsOfUser(query.userId, ['join', 'invite']);
    const viewer = { memberships: new Map(rooms.map((r) => [r.roomId, r.membership])) };
    return spaceHierarchy(this.reads, query.roomId, viewer, query.request, this.federation?.spaces);
  }
}

export const QUERY_HANDLERS = [
  GetRoomHierarchyHandler,
  GetPublicRoomsHandler,
  GetAuthChainHandler,
  GetRoomStateHandler,
  GetStateEventHandler,
  GetEventHandler,
  GetRoomVersionHandler,
  GetRoomDirectoryVisibilityHandler,
  IsJoinedHandler,
  GetMembershipHandler,
  GetRoomsOfUserHandler,
  ResolveRoomAliasHandler,
  GetRoomAliasesHandler,
  IsRoomForgottenHandler,
];
