/**
 * Rooms in Synapse's admin API: list, details, members, state, messages, blocking and
 * deletion (shutdown) with its status. Blocks and shutdowns are recorded in the audit log.
 */
import { Body, Controller, Delete, Get, Inject, Param, Put, Query } from '@nestjs/common';
import { CommandBus, QueryBus } from '@nestjs/cqrs';
import { AuditLog, RoomShutdowns, type RoomDeletion } from '@hs/admin';
import { MatrixError } from '@hs/http';
import { ADMIN_ROOM_ORDERS, GetRoomBlock, GetRoomForAdmin, GetRoomMembersForAdmin, GetRoomStateAt, ListRoomsForAdmin, SetRoomBlocked, type AdminRoom, type AdminRoomDetails } from '@hs/room';
import { GetMessages, GetRoomStateForUser, type MessagesResponse } from '@hs/sync';
import { z } from 'zod';
import { AuthUser, type AuthenticatedUser } from '../auth';
import { answering, roomIdParam } from '../rooms/params';
import { parseBody, queryParam } from '../validation';
import { HS_ADMIN_V1, RequestId, RequireServerAdmin, SYNAPSE_ADMIN_V1, SYNAPSE_ADMIN_V2, choiceQueryParam, directionQueryParam, numberQueryParam, pagingQuery } from './server-admin';

const DeleteRoomBody = z
  .object({
    block: z.boolean().optional(),
    purge: z.boolean().optional(),
    force_purge: z.boolean().optional(),
    new_room_user_id: z.string().optional(),
    room_name: z.string().optional(),
    message: z.string().optional(),
  })
  .passthrough();

const BlockBody = z.object({ block: z.boolean() }).passthrough();

function deletionStatus(deletion: RoomDeletion): { delete_id: string; status: string; error?: string; shutdown_room: unknown } {
  // "purging" is a step of Synapse's "active"; clients know the four statuses only.
  const status = deletion.status === 'purging' ? 'active' : deletion.status;
  return { delete_id: deletion.deleteId, status, ...(deletion.error !== null ? { error: deletion.error } : {}), shutdown_room: deletion.result };
}

@Controller()
@RequireServerAdmin()
export class AdminRoomsController {
  constructor(
    private readonly commandBus: CommandBus,
    private readonly queryBus: QueryBus,
    @Inject(AuditLog) private readonly audit: AuditLog,
    @Inject(RoomShutdowns) private readonly shutdowns: RoomShutdowns,
  ) {}

  /** GET /_synapse/admin/v1/rooms */
  @Get(`${SYNAPSE_ADMIN_V1}/rooms`)
  async listRooms(@Query() query: unknown): Promise<{ rooms: AdminRoom[]; offset: number; total_rooms: number; next_batch?: number; prev_batch?: number }> {
    const { from, limit } = pagingQuery(query);
    const searchTerm = queryParam(query, 'search_term');
    if (searchTerm?.includes('\u0000')) throw MatrixError.invalidParam('search_term may not contain U+0000');
    const { rooms, total } = await this.queryBus.execute(
      new ListRoomsForAdmin({
        from,
        limit,
        orderBy: choiceQueryParam(query, 'order_by', ADMIN_ROOM_ORDERS, 'name'),
        dir: directionQueryParam(query, 'f'),
        ...(searchTerm !== undefined && searchTerm.length > 0 ? { searchTerm } : {}),
      }),
    );
    return {
      rooms,
      offset: from,
      total_rooms: total,
      ...(rooms.length > 0 && from + rooms.length < total ? { next_batch: from + rooms.length } : {}),
      ...(from > 0 ? { prev_batch: Math.max(0, from - limit) } : {}),
    };
  }

  /** GET /_synapse/admin/v1/rooms/{roomId} */
  @Get(`${SYNAPSE_ADMIN_V1}/rooms/:roomId`)
  getRoom(@Param('roomId') roomId: string): Promise<AdminRoomDetails> {
    return this.queryBus.execute(new GetRoomForAdmin(roomIdParam(roomId)));
  }

  /** GET /_synapse/admin/v1/rooms/{roomId}/members */
  @Get(`${SYNAPSE_ADMIN_V1}/rooms/:roomId/members`)
  async getMembers(@Param('roomId') roomId: string): Promise<{ members: string[]; total: number }> {
    const members = await this.queryBus.execute(new GetRoomMembersForAdmin(roomIdParam(roomId)));
    return { members, total: members.length };
  }

  /** GET /_synapse/admin/v1/rooms/{roomId}/state */
  @Get(`${SYNAPSE_ADMIN_V1}/rooms/:roomId/state`)
  async getState(@AuthUser() admin: AuthenticatedUser, @Param('roomId') roomId: string): Promise<{ state: unknown[] }> {
    const state = await this.queryBus.execute(new GetRoomStateForUser(roomIdParam(roomId), { userId: admin.userId, admin: true }));
    return { state };
  }

  /**
   * GET /_hs/admin/v1/rooms/{roomId}/state_at?event_id= | ?ts=: the room's state and members
   * right after an event, or after the last event sent at or before a time (ms since the
   * epoch), from the room write model: the state resolved at that point of the room's history.
   */
  @Get(`${HS_ADMIN_V1}/rooms/:roomId/state_at`)
  async getStateAt(
    @Param('roomId') roomId: string,
    @Query() query: unknown,
  ): Promise<{ room_id: string; event_id: string; origin_server_ts: number; state: unknown[]; members: Record<string, string[]> }> {
    const eventId = queryParam(query, 'event_id');
    const ts = numberQueryParam(query, 'ts', 0, Number.MAX_SAFE_INTEGER);
    if ((eventId === undefined) === (ts === undefined)) throw MatrixError.invalidParam('Give either event_id or ts');
    const id = roomIdParam(roomId);
    const found = await answering(() => this.queryBus.execute(new GetRoomStateAt(id, eventId !== undefined ? { eventId } : { ts: ts as number })));
    const members: Record<string, string[]> = {};
    for (const event of found.state) {
      const membership = event.type === 'm.room.member' ? event.content.membership : undefined;
      if (typeof membership === 'string' && event.state_key !== undefined) (members[membership] ??= []).push(event.state_key);
    }
    const state = found.state.map((event) => ({
      event_id: event.event_id,
      room_id: event.room_id,
      sender: event.sender,
      type: event.type,
      state_key: event.state_key,
      content: event.content,
      origin_server_ts: event.origin_server_ts,
    }));
    return { room_id: id, event_id: found.eventId, origin_server_ts: found.originServerTs, state, members };
  }

  /** GET /_synapse/admin/v1/rooms/{roomId}/messages: every event, whatever the history visibility. */
  @Get(`${SYNAPSE_ADMIN_V1}/rooms/:roomId/messages`)
  getMessages(@AuthUser() admin: AuthenticatedUser, @Param('roomId') roomId: string, @Query() query: unknown): Promise<MessagesResponse> {
    return this.queryBus.execute(
      new GetMessages(
        roomIdParam(roomId),
        { userId: admin.userId, admin: true },
        directionQueryParam(query, 'f'),
        queryParam(query, 'from'),
        queryParam(query, 'to'),
        numberQueryParam(query, 'limit', 0, 1000, 10),
      ),
    );
  }

  /** GET /_synapse/admin/v1/rooms/{roomId}/block */
  @Get(`${SYNAPSE_ADMIN_V1}/rooms/:roomId/block`)
  async getBlock(@Param('roomId') roomId: string): Promise<{ block: boolean; user_id?: string }> {
    const block = await this.queryBus.execute(new GetRoomBlock(roomIdParam(roomId)));
    return block ? { block: true, user_id: block.by } : { block: false };
  }

  /** PUT /_synapse/admin/v1/rooms/{roomId}/block */
  @Put(`${SYNAPSE_ADMIN_V1}/rooms/:roomId/block`)
  async setBlock(
    @AuthUser() admin: AuthenticatedUser,
    @Param('roomId') rawRoomId: string,
    @Body() rawBody: unknown,
    @RequestId() requestId: string | null,
  ): Promise<{ block: boolean }> {
    const roomId = roomIdParam(rawRoomId);
    const { block } = parseBody(BlockBody, rawBody);
    const { changed } = await this.commandBus.execute(new SetRoomBlocked(admin.userId, roomId, block));
    if (changed) {
      await this.audit.record({ actor: admin.userId, action: block ? 'room.blocked' : 'room.unblocked', target: roomId, requestId, before: { block: !block }, after: { block } });
    }
    return { block };
  }

  /** DELETE /_synapse/admin/v2/rooms/{roomId}: starts the shutdown and answers with its id. */
  @Delete(`${SYNAPSE_ADMIN_V2}/rooms/:roomId`)
  async deleteRoom(
    @AuthUser() admin: AuthenticatedUser,
    @Param('roomId') rawRoomId: string,
    @Body() rawBody: unknown,
    @RequestId() requestId: string | null,
  ): Promise<{ delete_id: string }> {
    const roomId = roomIdParam(rawRoomId);
    const body = parseBody(DeleteRoomBody, rawBody ?? {});
    if (body.new_room_user_id !== undefined) {
      throw MatrixError.invalidParam('Moving the members to a new room (new_room_user_id) is not supported by this server');
    }
    // Known and not purged already: the admin room details say.
    await this.queryBus.execute(new GetRoomForAdmin(roomId));
    const block = body.block ?? false;
    const purge = body.purge ?? true;
    const deleteId = await this.shutdowns.start({ commands: this.commandBus, queries: this.queryBus }, { roomId, requester: admin.userId, block, purge });
    await this.audit.record({ actor: admin.userId, action: 'room.shut_down', target: roomId, requestId, details: { delete_id: deleteId, block, purge } });
    return { delete_id: deleteId };
  }

  /** GET /_synapse/admin/v2/rooms/{roomId}/delete_status */
  @Get(`${SYNAPSE_ADMIN_V2}/rooms/:roomId/delete_status`)
  async roomDeleteStatus(@Param('roomId') roomId: string): Promise<{ results: unknown[] }> {
    const deletions = await this.shutdowns.ofRoom(roomIdParam(roomId));
    if (deletions.length === 0) throw MatrixError.notFound('No deletion of this room is known');
    return { results: deletions.map(deletionStatus) };
  }

  /** GET /_synapse/admin/v2/rooms/delete_status/{deleteId} */
  @Get(`${SYNAPSE_ADMIN_V2}/rooms/delete_status/:deleteId`)
  async deleteStatus(@Param('deleteId') deleteId: string): Promise<unknown> {
    const deletion = /^[0-9a-f-]{36}$/.test(deleteId) ? await this.shutdowns.byId(deleteId) : undefined;
    if (!deletion) throw MatrixError.notFound('No such deletion');
    const { delete_id: _id, ...status } = deletionStatus(deletion);
    return status;
  }
}
