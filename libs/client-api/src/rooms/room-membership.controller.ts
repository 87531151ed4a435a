/**
 * Room creation and membership (client-server API, "Room creation" and "Room membership"):
 * createRoom, join, knock, invite, leave, forget, kick, ban and unban.
 */
import { ProfileService } from '@hs/accounts';
import { AuditLog } from '@hs/admin';
import type { JsonObject } from '@hs/protocol';
import { AppServiceRegistry } from '@hs/appservice';
import { BanFromRoom, CreateRoom, ForgetRoom, InviteToRoom, JoinRoom, KickFromRoom, KnockOnRoom, LeaveRoom, ResolveRoomAlias, UnbanFromRoom, type MemberProfile } from '@hs/room';
import { Body, Controller, HttpCode, Inject, Param, Post, Query } from '@nestjs/common';
import { CommandBus, QueryBus } from '@nestjs/cqrs';
import { AppServiceQueries } from '../appservice/appservice-queries';
import { CLIENT_API_CONFIG, type ClientApiConfig } from '../config';
import { assertMayUseAlias } from './directory.controller';
import { z } from 'zod';
import { RequestId } from '../admin/server-admin';
import { AuthUser, RequireAuth, type AuthenticatedUser, GuestAllowed } from '../auth';
import { clientPaths } from '../prefixes';
import {
  answering,
  invite3pidBody,
  optionalReason,
  parseBody,
  refuseThirdPartyInvite,
  roomIdOrAliasParam,
  roomIdParam,
  serverNamesQuery,
  userIdParam,
} from './params';

const targetBody = z.object({ user_id: z.string(), reason: optionalReason });
const reasonBody = z.object({ reason: optionalReason });
const inviteBody = z.object({ user_id: z.string(), reason: optionalReason, is_direct: z.boolean().optional() });

function isThirdPartyInvite(body: unknown): boolean {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return false;
  const fields = body as Record<string, unknown>;
  return fields.user_id === undefined && (fields.medium !== undefined || fields.address !== undefined || fields.id_server !== undefined);
}

@Controller()
@RequireAuth()
export class RoomMembershipController {
  constructor(
    private readonly commandBus: CommandBus,
    @Inject(AuditLog) private readonly audit: AuditLog,
    private readonly queryBus: QueryBus,
    private readonly profiles: ProfileService,
    private readonly appServices: AppServiceRegistry,
    private readonly appServiceQueries: AppServiceQueries,
    @Inject(CLIENT_API_CONFIG) private readonly config: ClientApiConfig,
  ) {}

  /** The user's profile, copied into their membership events. */
  private async profileOf(userId: string): Promise<MemberProfile> {
    const profile = await this.profiles.getProfile(userId).catch(() => ({}) as Record<string, unknown>);
    const out: MemberProfile = {};
    if (typeof profile.displayname === 'string') out.displayname = profile.displayname;
    if (typeof profile.avatar_url === 'string') out.avatar_url = profile.avatar_url;
    return out;
  }

  /** POST /_matrix/client/v3/createRoom */
  @Post(clientPaths('createRoom'))
  @HttpCode(200)
  async createRoom(@AuthUser() user: AuthenticatedUser, @Body() body: unknown): Promise<{ room_id: string }> {
    const request = parseBody(z.object({}).passthrough(), body);
    if (typeof request.room_alias_name === 'string') assertMayUseAlias(this.appServices, user, `#${request.room_alias_name}:${this.config.server_name}`);
    const thirdParty = parseBody(z.object({ invite_3pid: z.array(invite3pidBody).optional() }), body).invite_3pid?.[0];
    if (thirdParty !== undefined) refuseThirdPartyInvite(thirdParty);
    const profile = await this.profileOf(user.userId);
    const { roomId } = await answering(() => this.commandBus.execute(new CreateRoom(user.userId, request, profile)));
    return { room_id: roomId };
  }

  /** POST /_matrix/client/v3/join/{roomIdOrAlias} */
  @GuestAllowed()
  @Post(clientPaths('join/:roomIdOrAlias'))
  @HttpCode(200)
  async joinRoom(
    @AuthUser() user: AuthenticatedUser,
    @Param('roomIdOrAlias') target: string,
    @Body() body: unknown,
    @Query() query: Record<string, unknown>,
  ): Promise<{ room_id: string }> {
    const roomIdOrAlias = roomIdOrAliasParam(target);
    const servers = [...serverNamesQuery(query.via, 'via'), ...serverNamesQuery(query.server_name, 'server_name')];
    const { reason, ...content } = parseBody(reasonBody.passthrough(), body);
    const profile = await this.profileOf(user.userId);
    // A local alias an application service claims may not exist yet: the service is asked to create it.
    if (roomIdOrAlias.startsWith('#')) await this.appServiceQueries.lookupAlias(roomIdOrAlias, () => answering(() => this.queryBus.execute(new ResolveRoomAlias(roomIdOrAlias)))).catch(() => undefined);
    const { roomId } = await answering(() =>
      this.commandBus.execute(new JoinRoom(user.userId, roomIdOrAlias, profile, reason, content as JsonObject, servers, user.isGuest)),
    );
    return { room_id: roomId };
  }

  /** POST /_matrix/client/v3/rooms/{roomId}/join */
  @GuestAllowed()
  @Post(clientPaths('rooms/:roomId/join'))
  @HttpCode(200)
  async joinRoomById(@AuthUser() user: AuthenticatedUser, @Param('roomId') rawRoomId: string, @Body() body: unknown): Promise<{ room_id: string }> {
    const roomId = roomIdParam(rawRoomId);
    const { reason, ...content } = parseBody(reasonBody.passthrough(), body);
    const profile = await this.profileOf(user.userId);
    const joined = await answering(() => this.commandBus.execute(new JoinRoom(user.userId, roomId, profile, reason, content as JsonObject, [], user.isGuest)));
    return { room_id: joined.roomId };
  }

  /**
   * POST /_matrix/client/v3/knock/{roomIdOrAlias}
   *
   * `via` (and the older `server_name`) name servers to knock through when the room is held
   * by other servers.
   */
  @Post(clientPaths('knock/:roomIdOrAlias'))
  @HttpCode(200)
  async knockRoom(
    @AuthUser() user: AuthenticatedUser,
    @Param('roomIdOrAlias') target: string,
    @Query() query: Record<string, unknown>,
    @Body() body: unknown,
  ): Promise<{ room_id: string }> {
    const roomIdOrAlias = roomIdOrAliasParam(target);
    const servers = [...serverNamesQuery(query.via, 'via'), ...serverNamesQuery(query.server_name, 'server_name')];
    const { reason } = parseBody(reasonBody.passthrough(), body);
    const profile = await this.profileOf(user.userId);
    const { roomId } = await answering(() => this.commandBus.execute(new KnockOnRoom(user.userId, roomIdOrAlias, profile, reason, servers)));
    return { room_id: roomId };
  }

  /**
   * POST /_matrix/client/v3/rooms/{roomId}/invite
   *
   * A body with `medium`, `address` or `id_server` and no `user_id` is the third-party form,
   * which this server refuses (see refuseThirdPartyInvite).
   */
  @Post(clientPaths('rooms/:roomId/invite'))
  @HttpCode(200)
  async inviteUser(@AuthUser() user: AuthenticatedUser, @Param('roomId') rawRoomId: string, @Body() body: unknown): Promise<Record<string, never>> {
    const roomId = roomIdParam(rawRoomId);
    if (isThirdPartyInvite(body)) refuseThirdPartyInvite(parseBody(invite3pidBody.passthrough(), body));
    const request = parseBody(inviteBody.passthrough(), body);
    const invitee = userIdParam(request.user_id);
    // A local user an application service claims may not exist yet: the service is asked to create it.
    await this.appServiceQueries.lookupUser(invitee, () => this.profiles.getProfile(invitee)).catch(() => undefined);
    await answering(() => this.commandBus.execute(new InviteToRoom(user.userId, roomId, invitee, request.reason, request.is_direct)));
    return {};
  }

  /** POST /_matrix/client/v3/rooms/{roomId}/leave */
  @GuestAllowed()
  @Post(clientPaths('rooms/:roomId/leave'))
  @HttpCode(200)
  async leaveRoom(@AuthUser() user: AuthenticatedUser, @Param('roomId') rawRoomId: string, @Body() body: unknown): Promise<Record<string, never>> {
    const roomId = roomIdParam(rawRoomId);
    const { reason } = parseBody(reasonBody.passthrough(), body);
    await answering(() => this.commandBus.execute(new LeaveRoom(user.userId, roomId, reason)));
    return {};
  }

  /** POST /_matrix/client/v3/rooms/{roomId}/forget */
  @Post(clientPaths('rooms/:roomId/forget'))
  @HttpCode(200)
  async forgetRoom(@AuthUser() user: AuthenticatedUser, @Param('roomId') rawRoomId: string, @Body() body: unknown): Promise<Record<string, never>> {
    const roomId = roomIdParam(rawRoomId);
    parseBody(z.object({}).passthrough(), body);
    await answering(() => this.commandBus.execute(new ForgetRoom(user.userId, roomId)));
    return {};
  }

  /** POST /_matrix/client/v3/rooms/{roomId}/kick */
  @Post(clientPaths('rooms/:roomId/kick'))
  @HttpCode(200)
  kick(@AuthUser() user: AuthenticatedUser, @Param('roomId') rawRoomId: string, @Body() body: unknown, @RequestId() requestId: string | null): Promise<Record<string, never>> {
    return this.moderate(user, rawRoomId, body, requestId, 'room.kick', (roomId, target, reason) => new KickFromRoom(user.userId, roomId, target, reason));
  }

  /** POST /_matrix/client/v3/rooms/{roomId}/ban */
  @Post(clientPaths('rooms/:roomId/ban'))
  @HttpCode(200)
  ban(@AuthUser() user: AuthenticatedUser, @Param('roomId') rawRoomId: string, @Body() body: unknown, @RequestId() requestId: string | null): Promise<Record<string, never>> {
    return this.moderate(user, rawRoomId, body, requestId, 'room.ban', (roomId, target, reason) => new BanFromRoom(user.userId, roomId, target, reason));
  }

  /** POST /_matrix/client/v3/rooms/{roomId}/unban */
  @Post(clientPaths('rooms/:roomId/unban'))
  @HttpCode(200)
  unban(@AuthUser() user: AuthenticatedUser, @Param('roomId') rawRoomId: string, @Body() body: unknown, @RequestId() requestId: string | null): Promise<Record<string, never>> {
    return this.moderate(user, rawRoomId, body, requestId, 'room.unban', (roomId, target, reason) => new UnbanFromRoom(user.userId, roomId, target, reason));
  }

  /** A kick, ban or unban: sent to the room, then recorded in the audit log. */
  private async moderate(
    user: AuthenticatedUser,
    rawRoomId: string,
    body: unknown,
    requestId: string | null,
    action: 'room.kick' | 'room.ban' | 'room.unban',
    command: (roomId: string, target: string, reason: string | undefined) => KickFromRoom | BanFromRoom | UnbanFromRoom,
  ): Promise<Record<string, never>> {
    const roomId = roomIdParam(rawRoomId);
    const request = parseBody(targetBody.passthrough(), body);
    const target = userIdParam(request.user_id);
    const { eventId } = await answering(() => this.commandBus.execute(command(roomId, target, request.reason)));
    await this.audit.record({ actor: user.userId, action, target, requestId, details: { room_id: roomId, event_id: eventId, reason: request.reason ?? null } });
    return {};
  }
}
