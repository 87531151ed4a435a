/**
 * Accounts in Synapse's admin API: list, query, create or modify, deactivate, reset a password,
 * sessions (whois) and joined rooms; and the server version. Every change is recorded in the
 * audit log.
 */
import { Body, Controller, Get, HttpCode, Inject, Logger, Param, Post, Put, Query, Res } from '@nestjs/common';
import { CommandBus, QueryBus } from '@nestjs/cqrs';
import { ADMIN_USER_ORDERS, DeviceService, ProfileService, UserService, type UserRecord } from '@hs/accounts';
import { ADMIN_SERVER_VERSION, AuditLog, type AuditRecord } from '@hs/admin';
import { MatrixError } from '@hs/http';
import { GetRoomsOfUser, UpdateMembershipProfile } from '@hs/room';
import { z } from 'zod';
import { leaveAllRooms } from '../account/leave-all-rooms';
import { AuthUser, type AuthenticatedUser } from '../auth';
import { userIdParam } from '../rooms/params';
import { booleanQueryParam, parseBody, queryParam } from '../validation';
import { RequestId, RequireServerAdmin, SYNAPSE_ADMIN_V1, SYNAPSE_ADMIN_V2, choiceQueryParam, directionQueryParam, pagingQuery } from './server-admin';
import { whoisOf, type WhoisResponse } from './whois.controller';

/** A user as GET /_synapse/admin/v2/users/{userId} answers it. */
interface AdminUserResponse {
  name: string;
  displayname: string | null;
  avatar_url: string | null;
  threepids: never[];
  external_ids: never[];
  is_guest: boolean;
  admin: boolean;
  deactivated: boolean;
  erased: boolean;
  shadow_banned: boolean;
  locked: boolean;
  suspended: boolean;
  /** Seconds since the epoch, as Synapse gives it here. */
  creation_ts: number;
  last_seen_ts: number | null;
  appservice_id: null;
  consent_server_notice_sent: null;
  consent_version: null;
  consent_ts: null;
  user_type: string | null;
}

const PutUserBody = z
  .object({
    password: z.string().optional(),
    logout_devices: z.boolean().optional(),
    displayname: z.string().nullable().optional(),
    avatar_url: z.string().nullable().optional(),
    admin: z.boolean().optional(),
    deactivated: z.boolean().optional(),
    user_type: z.string().nullable().optional(),
  })
  .passthrough();

const DeactivateBody = z.object({ erase: z.boolean().optional() }).passthrough();
const ResetPasswordBody = z.object({ new_password: z.string(), logout_devices: z.boolean().optional() }).passthrough();

interface Reply {
  status(code: number): unknown;
}

@Controller()
export class AdminUsersController {
  private readonly logger = new Logger('AdminUsersController');

  constructor(
    private readonly users: UserService,
    private readonly profiles: ProfileService,
    private readonly devices: DeviceService,
    @Inject(AuditLog) private readonly audit: AuditLog,
    @Inject(ADMIN_SERVER_VERSION) private readonly serverVersion: string,
    readonly commandBus: CommandBus,
    readonly queryBus: QueryBus,
  ) {}

  /** GET /_synapse/admin/v1/server_version */
  @Get(`${SYNAPSE_ADMIN_V1}/server_version`)
  getServerVersion(): { server_version: string } {
    return { server_version: this.serverVersion };
  }

  /** GET /_synapse/admin/v2/users */
  @Get(`${SYNAPSE_ADMIN_V2}/users`)
  @RequireServerAdmin()
  async listUsers(@Query() query: unknown): Promise<{ users: unknown[]; total: number; next_token?: string }> {
    const { from, limit } = pagingQuery(query);
    const admins = queryParam(query, 'admins');
    const [name, userId] = [queryParam(query, 'name'), queryParam(query, 'user_id')];
    if (name?.includes('\u0000') || userId?.includes('\u0000')) throw MatrixError.invalidParam('name and user_id may not contain U+0000');
    const { users, total } = await this.users.listForAdmin({
      from,
      limit,
      name,
      userId,
      guests: booleanQueryParam(query, 'guests', true),
      deactivated: booleanQueryParam(query, 'deactivated', false),
      admins: admins === undefined ? undefined : booleanQueryParam(query, 'admins', false),
      orderBy: choiceQueryParam(query, 'order_by', ADMIN_USER_ORDERS, 'name'),
      dir: directionQueryParam(query, 'f'),
    });
    const page = users.map((user) => ({
      name: user.userId,
      is_guest: user.isGuest,
      admin: user.isAdmin,
      user_type: user.userType,
      deactivated: user.deactivated,
      erased: false,
      shadow_banned: false,
      displayname: user.displayName,
      avatar_url: user.avatarUrl,
      creation_ts: user.createdTs,
      last_seen_ts: user.lastSeenTs,
      locked: false,
    }));
    return { users: page, total, ...(page.length > 0 && from + page.length < total ? { next_token: String(from + page.length) } : {}) };
  }

  /** GET /_synapse/admin/v2/users/{userId} */
  @Get(`${SYNAPSE_ADMIN_V2}/users/:userId`)
  @RequireServerAdmin()
  async getUser(@Param('userId') rawUserId: string): Promise<AdminUserResponse> {
    const user = await this.localUser(rawUserId);
    return this.describe(user);
  }

  /** PUT /_synapse/admin/v2/users/{userId}: 201 when the account was created, 200 when modified. */
  @Put(`${SYNAPSE_ADMIN_V2}/users/:userId`)
  @RequireServerAdmin()
  async putUser(
    @AuthUser() admin: AuthenticatedUser,
    @Param('userId') rawUserId: string,
    @Body() rawBody: unknown,
    @RequestId() requestId: string | null,
    @Res({ passthrough: true }) reply: Reply,
  ): Promise<AdminUserResponse> {
    const userId = userIdParam(rawUserId, 'userId');
    if (!this.users.isLocalUserId(userId)) throw MatrixError.invalidParam('This endpoint can only be used with local users');
    const body = parseBody(PutUserBody, rawBody);
    const record = (partial: Omit<AuditRecord, 'actor' | 'target' | 'requestId'>) => this.audit.record({ actor: admin.userId, target: userId, requestId, ...partial });
    const existing = await this.users.getUser(userId);
    if (!existing) {
      const localpart = userId.slice(1, userId.indexOf(':'));
      await this.users.register({
        localpart,
        password: body.password ?? null,
        displayName: body.displayname === '' ? null : body.displayname,
        admin: body.admin ?? false,
        userType: body.user_type ?? null,
      });
      if (body.avatar_url) await this.profiles.setAvatarUrl(userId, body.avatar_url);
      const created = await this.describe(await this.users.requireUser(userId));
      await record({ action: 'user.created', after: { admin: created.admin, displayname: created.displayname, user_type: created.user_type } });
      reply.status(201);
      return created;
    }
    const before = await this.describe(existing);
    if (body.deactivated === false && existing.deactivated) {
      await this.users.reactivate(userId, body.password !== undefined ? await this.users.hashPassword(body.password) : null);
      await record({ action: 'user.modified', before: { deactivated: true }, after: { deactivated: false } });
    } else if (body.password !== undefined && body.deactivated !== true) {
      await this.users.changePassword(userId, body.password, { logoutDevices: body.logout_devices ?? true });
      await record({ action: 'user.password_reset', details: { logout_devices: body.logout_devices ?? true } });
    }
    const profile: { displayname?: string | null; avatar_url?: string | null } = {};
    if (body.displayname !== undefined && (body.displayname ?? '') !== (before.displayname ?? '')) profile.displayname = body.displayname || null;
    if (body.avatar_url !== undefined && (body.avatar_url ?? '') !== (before.avatar_url ?? '')) profile.avatar_url = body.avatar_url || null;
    if (Object.keys(profile).length > 0 && body.deactivated !== true) {
      await this.setProfile(userId, profile);
      await record({
        action: 'user.modified',
        before: Object.fromEntries(Object.keys(profile).map((key) => [key, before[key as keyof typeof profile]])),
        after: profile,
      });
    }
    if (body.admin !== undefined && body.admin !== before.admin && body.deactivated !== true) {
      await this.users.setAdmin(userId, body.admin);
      await record({ action: 'user.admin_changed', before: { admin: before.admin }, after: { admin: body.admin } });
    }
    if (body.deactivated === true && !existing.deactivated) await this.deactivateUser(admin.userId, userId, false, requestId);
    return this.describe(await this.users.requireUser(userId));
  }

  /** POST /_synapse/admin/v1/deactivate/{userId} */
  @Post(`${SYNAPSE_ADMIN_V1}/deactivate/:userId`)
  @HttpCode(200)
  @RequireServerAdmin()
  async deactivate(
    @AuthUser() admin: AuthenticatedUser,
    @Param('userId') rawUserId: string,
    @Body() rawBody: unknown,
    @RequestId() requestId: string | null,
  ): Promise<{ id_server_unbind_result: 'success' }> {
    const user = await this.localUser(rawUserId);
    const body = parseBody(DeactivateBody, rawBody ?? {});
    if (!user.deactivated) await this.deactivateUser(admin.userId, user.userId, body.erase ?? false, requestId);
    // No identity server bindings are kept, so there was nothing to unbind.
    return { id_server_unbind_result: 'success' };
  }

  /** POST /_synapse/admin/v1/reset_password/{userId} */
  @Post(`${SYNAPSE_ADMIN_V1}/reset_password/:userId`)
  @HttpCode(200)
  @RequireServerAdmin()
  async resetPassword(
    @AuthUser() admin: AuthenticatedUser,
    @Param('userId') rawUserId: string,
    @Body() rawBody: unknown,
    @RequestId() requestId: string | null,
  ): Promise<Record<string, never>> {
    const user = await this.localUser(rawUserId);
    const body = parseBody(ResetPasswordBody, rawBody);
    const logoutDevices = body.logout_devices ?? true;
    await this.users.changePassword(user.userId, body.new_password, { logoutDevices });
    await this.audit.record({ actor: admin.userId, action: 'user.password_reset', target: user.userId, requestId, details: { logout_devices: logoutDevices } });
    return {};
  }

  /** GET /_synapse/admin/v1/whois/{userId} */
  @Get(`${SYNAPSE_ADMIN_V1}/whois/:userId`)
  @RequireServerAdmin()
  async whois(@Param('userId') rawUserId: string): Promise<WhoisResponse> {
    const user = await this.localUser(rawUserId);
    return whoisOf(this.devices, user.userId);
  }

  /** GET /_synapse/admin/v1/users/{userId}/joined_rooms */
  @Get(`${SYNAPSE_ADMIN_V1}/users/:userId/joined_rooms`)
  @RequireServerAdmin()
  async joinedRooms(@Param('userId') rawUserId: string): Promise<{ joined_rooms: string[]; total: number }> {
    const userId = userIdParam(rawUserId, 'userId');
    const rooms = await this.queryBus.execute(new GetRoomsOfUser(userId, ['join']));
    return { joined_rooms: rooms.map((room) => room.roomId), total: rooms.length };
  }

  /** The local account a path names: 400 M_INVALID_PARAM for another server's user, 404 M_NOT_FOUND for none. */
  private async localUser(rawUserId: string): Promise<UserRecord> {
    const userId = userIdParam(rawUserId, 'userId');
    if (!this.users.isLocalUserId(userId)) throw MatrixError.invalidParam('This endpoint can only be used with local users');
    const user = await this.users.getUser(userId);
    if (!user) throw MatrixError.notFound('User not found');
    return user;
  }

  private async deactivateUser(adminId: string, userId: string, erase: boolean, requestId: string | null): Promise<void> {
    await this.users.deactivate(userId, { erase });
    await leaveAllRooms(this, this.logger, userId);
    await this.audit.record({ actor: adminId, action: 'user.deactivated', target: userId, requestId, before: { deactivated: false }, after: { deactivated: true }, details: { erase } });
  }

  /** Sets or removes (null) the display name and avatar, and tells the user's rooms. */
  private async setProfile(userId: string, profile: { displayname?: string | null; avatar_url?: string | null }): Promise<void> {
    for (const [field, value] of Object.entries(profile)) {
      if (value === null) await this.profiles.deleteProfileField(userId, field).catch(() => undefined);
      else await this.profiles.setProfileField(userId, field, value);
    }
    try {
      await this.commandBus.execute(new UpdateMembershipProfile(userId, profile));
    } catch (error) {
      this.logger.warn(`profile change of ${userId} not propagated to every room: ${error instanceof Error ? error.message : String(error)}`);
    }
  }

  private async describe(user: UserRecord): Promise<AdminUserResponse> {
    const [profile, sightings] = await Promise.all([
      user.deactivated ? Promise.resolve({} as Record<string, unknown>) : this.profiles.getProfile(user.userId),
      this.devices.lastSightings(user.userId),
    ]);
    const seen = sightings.map((sighting) => sighting.ts).filter((ts): ts is number => ts !== null);
    return {
      name: user.userId,
      displayname: typeof profile.displayname === 'string' ? profile.displayname : null,
      avatar_url: typeof profile.avatar_url === 'string' ? profile.avatar_url : null,
      threepids: [],
      external_ids: [],
      is_guest: user.kind === 'guest',
      admin: user.isAdmin,
      deactivated: user.deactivated,
      erased: false,
      shadow_banned: false,
      locked: false,
      suspended: false,
      creation_ts: Math.floor(user.createdTs / 1000),
      last_seen_ts: seen.length > 0 ? Math.max(...seen) : null,
      appservice_id: null,
      consent_server_notice_sent: null,
      consent_version: null,
      consent_ts: null,
      user_type: user.userType,
    };
  }
}
