/**
 * Room aliases and the room directory visibility (client-server API, "Room aliases" and
 * "Listing rooms").
 */
import { DeleteRoomAlias, GetRoomAliases, GetRoomDirectoryVisibility, GetStateEvent, IsJoined, ResolveRoomAlias, SetRoomAlias, SetRoomNetworkVisibility, SetRoomVisibility } from '@hs/room';
import type { RoomEvent } from '@hs/protocol';
import { MatrixError } from '@hs/http';
import { Body, Controller, Delete, Get, Param, Put } from '@nestjs/common';
import { CommandBus, QueryBus } from '@nestjs/cqrs';
import { z } from 'zod';
import { AppServiceRegistry } from '@hs/appservice';
import { AppServiceQueries } from '../appservice/appservice-queries';
import { AuthUser, RequireAuth, type AuthenticatedUser } from '../auth';
import { clientPaths } from '../prefixes';
import { answering, parseBody, roomAliasParam, roomIdParam } from './params';

const aliasBody = z.object({ room_id: z.string() });
const visibilityBody = z.object({ visibility: z.enum(['public', 'private']).optional() });

/** 400 M_EXCLUSIVE when an application service other than the requester's claims the alias alone. */
export function assertMayUseAlias(registry: AppServiceRegistry, user: AuthenticatedUser, alias: string): void {
  const owner = registry.exclusiveOwnerOfAlias(alias);
  if (owner && owner.id !== user.appServiceId) throw new MatrixError(400, 'M_EXCLUSIVE', 'This room alias is reserved by an application service');
}

@Controller()
export class DirectoryController {
  constructor(
    private readonly commandBus: CommandBus,
    private readonly queryBus: QueryBus,
    private readonly appServiceQueries: AppServiceQueries,
    private readonly appServices: AppServiceRegistry,
  ) {}

  /** GET /_matrix/client/v3/directory/room/{roomAlias} */
  @Get(clientPaths('directory/room/:roomAlias'))
  async getRoomIdByAlias(@Param('roomAlias') rawAlias: string): Promise<{ room_id: string; servers: string[] }> {
    const alias = roomAliasParam(rawAlias);
    const { roomId, servers } = await this.appServiceQueries.lookupAlias(alias, () => answering(() => this.queryBus.execute(new ResolveRoomAlias(alias))));
    return { room_id: roomId, servers };
  }

  /** PUT /_matrix/client/v3/directory/room/{roomAlias} */
  @Put(clientPaths('directory/room/:roomAlias'))
  @RequireAuth()
  async setRoomAlias(@AuthUser() user: AuthenticatedUser, @Param('roomAlias') rawAlias: string, @Body() body: unknown): Promise<Record<string, never>> {
    const alias = roomAliasParam(rawAlias);
    const roomId = roomIdParam(parseBody(aliasBody.passthrough(), body).room_id);
    assertMayUseAlias(this.appServices, user, alias);
    await answering(() => this.commandBus.execute(new SetRoomAlias(user.userId, alias, roomId)));
    return {};
  }

  /** DELETE /_matrix/client/v3/directory/room/{roomAlias} */
  @Delete(clientPaths('directory/room/:roomAlias'))
  @RequireAuth()
  async deleteRoomAlias(@AuthUser() user: AuthenticatedUser, @Param('roomAlias') rawAlias: string): Promise<Record<string, never>> {
    const alias = roomAliasParam(rawAlias);
    await answering(() => this.commandBus.execute(new DeleteRoomAlias(user.userId, alias)));
    return {};
  }

  /** GET /_matrix/client/v3/rooms/{roomId}/aliases */
  @Get(clientPaths('rooms/:roomId/aliases'))
  @RequireAuth()
  async getLocalAliases(@AuthUser() user: AuthenticatedUser, @Param('roomId') rawRoomId: string): Promise<{ aliases: string[] }> {
    const roomId = roomIdParam(rawRoomId);
    // The user must be joined, unless the room's history is world readable.
    const joined = await answering(() => this.queryBus.execute(new IsJoined(roomId, user.userId)));
    if (!joined && !(await this.isWorldReadable(roomId))) throw MatrixError.forbidden('You are not joined to this room');
    const aliases = await answering(() => this.queryBus.execute(new GetRoomAliases(roomId)));
    return { aliases };
  }

  private async isWorldReadable(roomId: string): Promise<boolean> {
    try {
      const event = await this.queryBus.execute<GetStateEvent, RoomEvent>(new GetStateEvent(roomId, 'm.room.history_visibility', ''));
      return event.content.history_visibility === 'world_readable';
    } catch {
      // No such room, or no history visibility event (the default, shared, is not world readable).
      return false;
    }
  }

  /** GET /_matrix/client/v3/directory/list/room/{roomId} */
  @Get(clientPaths('directory/list/room/:roomId'))
  async getRoomVisibilityOnDirectory(@Param('roomId') rawRoomId: string): Promise<{ visibility: 'public' | 'private' }> {
    const roomId = roomIdParam(rawRoomId);
    const visibility = await answering(() => this.queryBus.execute(new GetRoomDirectoryVisibility(roomId)));
    return { visibility };
  }

  /** PUT /_matrix/client/v3/directory/list/room/{roomId} */
  @Put(clientPaths('directory/list/room/:roomId'))
  @RequireAuth()
  async setRoomVisibilityOnDirectory(@AuthUser() user: AuthenticatedUser, @Param('roomId') rawRoomId: string, @Body() body: unknown): Promise<Record<string, never>> {
    const roomId = roomIdParam(rawRoomId);
    const { visibility } = parseBody(visibilityBody.passthrough(), body);
    await answering(() => this.commandBus.execute(new SetRoomVisibility(user.userId, roomId, visibility ?? 'public')));
    return {};
  }

  /** PUT /_matrix/client/v3/directory/list/appservice/{networkId}/{roomId}: an application service's network directory. */
  @Put(clientPaths('directory/list/appservice/:networkId/:roomId'))
  @RequireAuth()
  async setRoomVisibilityOnNetwork(
    @AuthUser() user: AuthenticatedUser,
    @Param('networkId') networkId: string,
    @Param('roomId') rawRoomId: string,
    @Body() body: unknown,
  ): Promise<Record<string, never>> {
    const roomId = roomIdParam(rawRoomId);
    const { visibility } = parseBody(visibilityBody.passthrough(), body);
    await this.setOnNetwork(user, networkId, roomId, visibility ?? 'public');
    return {};
  }

  /** DELETE /_matrix/client/v3/directory/list/appservice/{networkId}/{roomId}: as PUT with `private` (Synapse offers it too). */
  @Delete(clientPaths('directory/list/appservice/:networkId/:roomId'))
  @RequireAuth()
  async deleteRoomFromNetwork(@AuthUser() user: AuthenticatedUser, @Param('networkId') networkId: string, @Param('roomId') rawRoomId: string): Promise<Record<string, never>> {
    await this.setOnNetwork(user, networkId, roomIdParam(rawRoomId), 'private');
    return {};
  }

  private async setOnNetwork(user: AuthenticatedUser, networkId: string, roomId: string, visibility: unknown): Promise<void> {
    if (user.appServiceId === undefined) throw new MatrixError(403, 'M_FORBIDDEN', 'Only application services may publish rooms in a network directory');
    const appServiceId = user.appServiceId;
    await answering(() => this.commandBus.execute(new SetRoomNetworkVisibility(appServiceId, networkId, roomId, visibility)));
  }
}
