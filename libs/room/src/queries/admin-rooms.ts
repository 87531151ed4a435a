/**
 * Rooms as server admins see them (`/_synapse/admin/v1/rooms...`), read from the write model:
 * exact, so a change an admin just made is always in the answer. Purged rooms are left out.
 */
import { Inject } from '@nestjs/common';
import { Query, QueryHandler, type IQueryHandler } from '@nestjs/cqrs';
import { z } from 'zod';
import type { RoomEvent } from '@hs/protocol';
import { notFound } from '../errors';
import { FederationReads } from '../federation-queries/federation-reads';
import { stateAfterEvent } from './handlers';
import { RoomWriter } from '../room-writer';
import { ROOM_DATABASE_POOL } from '../tokens';
import { int8, sql, type DatabasePool } from '../write-model/sql';

/** A room's row of GET /_synapse/admin/v1/rooms (Synapse's field names). */
export interface AdminRoom {
  room_id: string;
  name: string | null;
  canonical_alias: string | null;
  joined_members: number;
  joined_local_members: number;
  version: string;
  creator: string;
  encryption: string | null;
  federatable: boolean;
  public: boolean;
  join_rules: string | null;
  guest_access: string | null;
  history_visibility: string | null;
  state_events: number;
  room_type: string | null;
}

/** GET /_synapse/admin/v1/rooms/{roomId}: the row of the list and more. */
export interface AdminRoomDetails extends AdminRoom {
  avatar: string | null;
  topic: string | null;
  joined_local_devices: number;
  forgotten: boolean;
  blocked: boolean;
}

export const ADMIN_ROOM_ORDERS = [
  'name',
  'canonical_alias',
  'joined_members',
  'joined_local_members',
  'version',
  'creator',
  'encryption',
  'federatable',
  'public',
  'join_rules',
  'guest_access',
  'history_visibility',
  'state_events',
] as const;
export type AdminRoomOrder = (typeof ADMIN_ROOM_ORDERS)[number];

export interface AdminRoomsRequest {
  from: number;
  limit: number;
  orderBy: AdminRoomOrder;
  dir: 'f' | 'b';
  /** Matches the room's name, canonical alias or id (case-insensitive substring). */
  searchTerm?: string;
}

/** GET /_synapse/admin/v1/rooms */
export class ListRoomsForAdmin extends Query<{ rooms: AdminRoom[]; total: number }> {
  constructor(readonly request: AdminRoomsRequest) {
    super();
  }
}

/** GET /_synapse/admin/v1/rooms/{roomId} (M_NOT_FOUND for unknown and purged rooms). */
export class GetRoomForAdmin extends Query<AdminRoomDetails> {
  constructor(readonly roomId: string) {
    super();
  }
}

/** GET /_synapse/admin/v1/rooms/{roomId}/members: the joined members. */
export class GetRoomMembersForAdmin extends Query<string[]> {
  constructor(readonly roomId: string) {
    super();
  }
}

/** GET /_synapse/admin/v1/rooms/{roomId}/block */
export class GetRoomBlock extends Query<{ by: string; ts: number } | undefined> {
  constructor(readonly roomId: string) {
    super();
  }
}

const roomRow = z.object({
  room_id: z.string(),
  name: z.string().nullable(),
  canonical_alias: z.string().nullable(),
  joined_members: int8,
  joined_local_members: int8,
  version: z.string(),
  creator: z.string(),
  encryption: z.string().nullable(),
  federatable: z.boolean(),
  public: z.boolean(),
  join_rules: z.string().nullable(),
  guest_access: z.string().nullable(),
  history_visibility: z.string().nullable(),
  state_events: int8,
  room_type: z.string().nullable(),
  avatar: z.string().nullable(),
  topic: z.string().nullable(),
  total: int8,
});

/** A text field of a current state event's content (null when absent or not a string). */
function stateField(type: string, field: string) {
  return sql.fragment`(SELECT CASE WHEN jsonb_typeof(e.pdu->'content'->${field}) = 'string' THEN e.pdu->'content'->>${field} END
      FROM room.current_state c JOIN room.events e ON e.event_id = c.event_id
     WHERE c.room_id = r.room_id AND c.type = ${type} AND c.state_key = '')`;
}

/** One row per room (not purged), every column of {@link AdminRoomDetails} but the per-room extras. */
function roomsQuery(serverName: string) {
  return sql.fragment`
    SELECT r.room_id, r.room_version AS version, r.creator, r.published AS public,
           ${stateField('m.room.name', 'name')} AS name,
           ${stateField('m.room.canonical_alias', 'alias')} AS canonical_alias,
           ${stateField('m.room.encryption', 'algorithm')} AS encryption,
           ${stateField('m.room.join_rules', 'join_rule')} AS join_rules,
           ${stateField('m.room.guest_access', 'guest_access')} AS guest_access,
           ${stateField('m.room.history_visibility', 'history_visibility')} AS history_visibility,
           ${stateField('m.room.create', 'type')} AS room_type,
           ${stateField('m.room.avatar', 'url')} AS avatar,
           ${stateField('m.room.topic', 'topic')} AS topic,
           COALESCE((SELECT (e.pdu->'content'->'m.federate') <> 'false'::jsonb
              FROM room.current_state c JOIN room.events e ON e.event_id = c.event_id
             WHERE c.room_id = r.room_id AND c.type = 'm.room.create' AND c.state_key = ''), true) AS federatable,
           (SELECT count(*) FROM room.current_state c WHERE c.room_id = r.room_id) AS state_events,
           (SELECT count(*) FROM room.current_state c
             WHERE c.room_id = r.room_id AND c.type = 'm.room.member' AND c.membership = 'join') AS joined_members,
           (SELECT count(*) FROM room.current_state c
             WHERE c.room_id = r.room_id AND c.type = 'm.room.member' AND c.membership = 'join'
               AND right(c.state_key, ${serverName.length + 1}) = ${`:${serverName}`}) AS joined_local_members
      FROM room.rooms r
     WHERE NOT r.purged`;
}

function toAdminRoom(row: z.infer<typeof roomRow>): AdminRoom {
  return {
    room_id: row.room_id,
    name: row.name,
    canonical_alias: row.canonical_alias,
    joined_members: Number(row.joined_members),
    joined_local_members: Number(row.joined_local_members),
    version: row.version,
    creator: row.creator,
    encryption: row.encryption,
    federatable: row.federatable,
    public: row.public,
    join_rules: row.join_rules,
    guest_access: row.guest_access,
    history_visibility: row.history_visibility,
    state_events: Number(row.state_events),
    room_type: row.room_type,
  };
}

@QueryHandler(ListRoomsForAdmin)
export class ListRoomsForAdminHandler implements IQueryHandler<ListRoomsForAdmin, { rooms: AdminRoom[]; total: number }> {
  constructor(
    @Inject(ROOM_DATABASE_POOL) private readonly pool: DatabasePool,
    private readonly writer: RoomWriter,
  ) {}

  async execute({ request }: ListRoomsForAdmin): Promise<{ rooms: AdminRoom[]; total: number }> {
    const order = sql.identifier([request.orderBy]);
    const direction = request.dir === 'b' ? sql.fragment`DESC` : sql.fragment`ASC`;
    const search = request.searchTerm
      ? sql.fragment`WHERE strpos(lower(concat_ws(' ', room_id, name, canonical_alias)), ${request.searchTerm.toLowerCase()}) > 0`
      : sql.fragment``;
    const rows = await this.pool.any(sql.type(roomRow)`
      SELECT *, count(*) OVER () AS total FROM (${roomsQuery(this.writer.serverName)}) rooms ${search}
       ORDER BY ${order} ${direction} NULLS LAST, room_id ${direction}
       LIMIT ${request.limit} OFFSET ${request.from}`);
    const total = rows.length > 0 ? Number(rows[0].total) : await this.count(request);
    return { rooms: rows.map(toAdminRoom), total };
  }

  /** The number of matching rooms, for a page past the end. */
  private async count(request: AdminRoomsRequest): Promise<number> {
    if (request.from === 0 && request.limit > 0) return 0;
    const search = request.searchTerm
      ? sql.fragment`WHERE strpos(lower(concat_ws(' ', room_id, name, canonical_alias)), ${request.searchTerm.toLowerCase()}) > 0`
      : sql.fragment``;
    const total = await this.pool.oneFirst(sql.type(z.object({ total: int8 }))`
      SELECT count(*) AS total FROM (${roomsQuery(this.writer.serverName)}) rooms ${search}`);
    return Number(total);
  }
}

@QueryHandler(GetRoomForAdmin)
export class GetRoomForAdminHandler implements IQueryHandler<GetRoomForAdmin, AdminRoomDetails> {
  constructor(
    @Inject(ROOM_DATABASE_POOL) private readonly pool: DatabasePool,
    private readonly writer: RoomWriter,
  ) {}

  async execute({ roomId }: GetRoomForAdmin): Promise<AdminRoomDetails> {
    const serverName = this.writer.serverName;
    const row = await this.pool.maybeOne(sql.type(roomRow.extend({ joined_local_devices: int8, forgotten: z.boolean(), blocked: z.boolean() }))`
      SELECT rooms.*, 1 AS total,
             (SELECT count(*) FROM accounts.devices d JOIN room.current_state c ON c.state_key = d.user_id
               WHERE c.room_id = rooms.room_id AND c.type = 'm.room.member' AND c.membership = 'join') AS joined_local_devices,
             NOT EXISTS (SELECT 1 FROM room.current_state c
               WHERE c.room_id = rooms.room_id AND c.type = 'm.room.member' AND c.membership = 'join'
                 AND right(c.state_key, ${serverName.length + 1}) = ${`:${serverName}`})
               AND EXISTS (SELECT 1 FROM room.forgotten f WHERE f.room_id = rooms.room_id) AS forgotten,
             EXISTS (SELECT 1 FROM room.blocked_rooms b WHERE b.room_id = rooms.room_id) AS blocked
        FROM (${roomsQuery(serverName)} AND r.room_id = ${roomId}) rooms`);
    if (!row) throw notFound(`room ${roomId} is not known to this server`);
    return {
      ...toAdminRoom(row),
      avatar: row.avatar,
      topic: row.topic,
      joined_local_devices: Number(row.joined_local_devices),
      forgotten: row.forgotten,
      blocked: row.blocked,
    };
  }
}

@QueryHandler(GetRoomMembersForAdmin)
export class GetRoomMembersForAdminHandler implements IQueryHandler<GetRoomMembersForAdmin, string[]> {
  constructor(@Inject(ROOM_DATABASE_POOL) private readonly pool: DatabasePool) {}

  async execute({ roomId }: GetRoomMembersForAdmin): Promise<string[]> {
    const found = await this.pool.exists(sql.unsafe`SELECT 1 FROM room.rooms WHERE room_id = ${roomId} AND NOT purged`);
    if (!found) throw notFound(`room ${roomId} is not known to this server`);
    const members = await this.pool.anyFirst(sql.type(z.object({ state_key: z.string() }))`
      SELECT state_key FROM room.current_state
       WHERE room_id = ${roomId} AND type = 'm.room.member' AND membership = 'join' ORDER BY state_key`);
    return [...members];
  }
}

@QueryHandler(GetRoomBlock)
export class GetRoomBlockHandler implements IQueryHandler<GetRoomBlock, { by: string; ts: number } | undefined> {
  constructor(private readonly writer: RoomWriter) {}

  execute({ roomId }: GetRoomBlock): Promise<{ by: string; ts: number } | undefined> {
    return this.writer.reader.blocked(roomId);
  }
}

/** A room's state at a point of its history (admin API). */
export interface RoomStateAt {
  /** The event the state is after: the one named, or the last before the time asked for. */
  eventId: string;
  originServerTs: number;
  state: RoomEvent[];
}

/**
 * GET /_hs/admin/v1/rooms/{roomId}/state_at: the room's state right after `eventId`, or after
 * the last event of its timeline sent at or before `ts`, as the write model holds it (the state
 * resolved at that event, whatever arrived later).
 */
export class GetRoomStateAt extends Query<RoomStateAt> {
  constructor(
    readonly roomId: string,
    readonly at: { eventId: string } | { ts: number },
  ) {
    super();
  }
}

@QueryHandler(GetRoomStateAt)
export class GetRoomStateAtHandler implements IQueryHandler<GetRoomStateAt, RoomStateAt> {
  private readonly reads: FederationReads;

  constructor(
    private readonly writer: RoomWriter,
    @Inject(ROOM_DATABASE_POOL) pool: DatabasePool,
  ) {
    this.reads = new FederationReads(pool);
  }

  async execute({ roomId, at }: GetRoomStateAt): Promise<RoomStateAt> {
    const reader = this.writer.reader;
    if (!(await reader.room(roomId))) throw notFound(`room ${roomId} is not known to this server`);
    let eventId: string;
    if ('ts' in at) {
      const [last] = await this.reads.eventsNearTimestamp(roomId, at.ts, 'b', 1);
      if (last === undefined) throw notFound(`room ${roomId} has no event at or before ${at.ts}`);
      eventId = last.eventId;
    } else {
      eventId = at.eventId;
    }
    const { event, state } = await stateAfterEvent(reader, roomId, eventId);
    return { eventId, originServerTs: event.origin_server_ts, state };
  }
}

export const ADMIN_ROOM_QUERY_HANDLERS = [ListRoomsForAdminHandler, GetRoomForAdminHandler, GetRoomMembersForAdminHandler, GetRoomBlockHandler, GetRoomStateAtHandler];
