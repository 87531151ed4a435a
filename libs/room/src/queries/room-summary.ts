/**
 * GET /_matrix/client/v1/room_summary/{roomIdOrAlias} (client-server API, "Room summary"): what
 * a room shows before joining it (name, topic, avatar, alias, joined members, join rule,
 * history and guest access, type, encryption, version). From the write model for a room this
 * server holds; otherwise from the space hierarchy of the servers `via` names (or the alias
 * resolution gave). A room the requester may not see is M_NOT_FOUND, as one nobody knows:
 * anyone sees public, knockable and world-readable rooms, members (joined, invited, knocking)
 * their room, and members of a room a restricted room allows, that room.
 */
import { Inject, Optional } from '@nestjs/common';
import { Query, QueryHandler, type IQueryHandler } from '@nestjs/cqrs';
import { notFound } from '../errors';
import { FederationRooms } from '../federation/federation-rooms';
import { FederationReads, type SpaceRoomState } from '../federation-queries/federation-reads';
import type { PublicRoomsChunk } from '../federation-queries/queries';
import { RoomWriter } from '../room-writer';
import { ROOM_DATABASE_POOL } from '../tokens';
import type { DatabasePool } from '../write-model/sql';
import { allowedRooms, mayPreview, summaryWithAllowedRooms } from './hierarchy';
import { resolveAlias } from './handlers';

export interface RoomSummaryChunk extends PublicRoomsChunk {
  allowed_room_ids?: string[];
  encryption?: string;
  room_version?: string;
  /** The requester's membership, when it has one (absent without an access token). */
  membership?: string;
}

export class GetRoomSummary extends Query<RoomSummaryChunk> {
  constructor(
    /** The requester; undefined for a request without an access token. */
    readonly userId: string | undefined,
    readonly roomIdOrAlias: string,
    readonly via: readonly string[],
  ) {
    super();
  }
}

const NOT_FOUND = 'Room not found or not accessible';

@QueryHandler(GetRoomSummary)
export class GetRoomSummaryHandler implements IQueryHandler<GetRoomSummary, RoomSummaryChunk> {
  private readonly reads: FederationReads;

  constructor(
    @Inject(ROOM_DATABASE_POOL) pool: DatabasePool,
    private readonly writer: RoomWriter,
    @Optional() @Inject(FederationRooms) private readonly federation: FederationRooms | null,
  ) {
    this.reads = new FederationReads(pool);
  }

  async execute(query: GetRoomSummary): Promise<RoomSummaryChunk> {
    let roomId = query.roomIdOrAlias;
    let via = [...query.via];
    if (roomId.startsWith('#')) {
      const resolved = await resolveAlias(this.writer, this.federation, roomId);
      roomId = resolved.roomId;
      if (via.length === 0) via = resolved.servers;
    }
    const membership = query.userId === undefined ? undefined : await this.writer.reader.membership(roomId, query.userId);
    const held = (await this.reads.spaceRooms([roomId])).get(roomId);
    let summary: { chunk: RoomSummaryChunk; allowedRoomIds: string[] } | undefined;
    if (held) {
      summary = { chunk: localSummary(held), allowedRoomIds: allowedRooms(held.content.get('m.room.join_rules') ?? {}) };
    } else if (this.federation && via.length > 0) {
      const answer = await this.federation.spaces.space(roomId, via.filter((server) => server !== this.writer.serverName), false).catch(() => undefined);
      if (answer) {
        const chunk: RoomSummaryChunk = { ...answer.room.chunk };
        if (chunk.join_rule === 'restricted' || chunk.join_rule === 'knock_restricted') chunk.allowed_room_ids = answer.room.allowedRoomIds;
        summary = { chunk, allowedRoomIds: answer.room.allowedRoomIds };
      }
    }
    if (!summary) throw notFound(NOT_FOUND);
    const { chunk, allowedRoomIds } = summary;
    // The user's joined rooms are read only for a restricted room that allows some.
    const joined =
      query.userId !== undefined && chunk.join_rule === 'restricted' && allowedRoomIds.length > 0
        ? new Set((await this.writer.reader.roomsOfUser(query.userId, ['join'])).map((room) => room.roomId))
        : new Set<string>();
    if (!mayPreview(chunk, allowedRoomIds, membership, (roomId) => joined.has(roomId))) throw notFound(NOT_FOUND);
    return { ...chunk, ...(membership !== undefined ? { membership } : {}) };
  }
}

/** The summary of a room held here, from its current state. */
function localSummary(room: SpaceRoomState): RoomSummaryChunk {
  const summary: RoomSummaryChunk = summaryWithAllowedRooms(room);
  const algorithm = room.content.get('m.room.encryption')?.algorithm;
  if (typeof algorithm === 'string') summary.encryption = algorithm;
  const version = room.content.get('m.room.create')?.room_version;
  summary.room_version = typeof version === 'string' ? version : '1';
  return summary;
}
