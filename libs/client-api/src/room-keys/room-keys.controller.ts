/**
 * Server-side key backups (client-server API, "Server-side key backups"): backup versions
 * and the encrypted room keys stored in them, always the requesting user's own.
 */
import { Body, Controller, Delete, Get, HttpCode, Param, Post, Put, Query } from '@nestjs/common';
import { BackupVersionInfo, KeyBackupData, KeyBackupService, RoomKeyBackup, RoomKeysBackup, RoomKeysUpdate } from '@hs/e2ee';
import { z } from 'zod';
import type { AuthenticatedUser } from '../auth/authenticated-user';
import { AuthUser, RequireAuth } from '../auth/decorators';
import { clientPaths } from '../prefixes';
import { parseBody, requireQueryParam } from '../validation';

const CreateVersionBody = z.object({ algorithm: z.string(), auth_data: z.unknown() });

// `version`, when given, must name the version of the path; some clients send it as a number.
const UpdateVersionBody = z.object({ algorithm: z.string(), auth_data: z.unknown(), version: z.union([z.string(), z.number().int().transform(String)]).optional() });

@Controller()
@RequireAuth()
export class RoomKeysController {
  constructor(private readonly backups: KeyBackupService) {}

  /** POST /_matrix/client/v3/room_keys/version */
  @Post(clientPaths('room_keys/version'))
  @HttpCode(200)
  async createVersion(@AuthUser() user: AuthenticatedUser, @Body() rawBody: unknown): Promise<{ version: string }> {
    return { version: await this.backups.createVersion(user.userId, parseBody(CreateVersionBody, rawBody)) };
  }

  /** GET /_matrix/client/v3/room_keys/version */
  @Get(clientPaths('room_keys/version'))
  getCurrentVersion(@AuthUser() user: AuthenticatedUser): Promise<BackupVersionInfo> {
    return this.backups.getVersion(user.userId);
  }

  /** GET /_matrix/client/v3/room_keys/version/{version} */
  @Get(clientPaths('room_keys/version/:version'))
  getVersion(@AuthUser() user: AuthenticatedUser, @Param('version') version: string): Promise<BackupVersionInfo> {
    return this.backups.getVersion(user.userId, version);
  }

  /** PUT /_matrix/client/v3/room_keys/version/{version} */
  @Put(clientPaths('room_keys/version/:version'))
  async updateVersion(@AuthUser() user: AuthenticatedUser, @Param('version') version: string, @Body() rawBody: unknown): Promise<Record<string, never>> {
    await this.backups.updateVersion(user.userId, version, parseBody(UpdateVersionBody, rawBody));
    return {};
  }

  /** DELETE /_matrix/client/v3/room_keys/version/{version} */
  @Delete(clientPaths('room_keys/version/:version'))
  async deleteVersion(@AuthUser() user: AuthenticatedUser, @Param('version') version: string): Promise<Record<string, never>> {
    await this.backups.deleteVersion(user.userId, version);
    return {};
  }

  /** PUT /_matrix/client/v3/room_keys/keys */
  @Put(clientPaths('room_keys/keys'))
  putKeys(@AuthUser() user: AuthenticatedUser, @Query() query: unknown, @Body() body: unknown): Promise<RoomKeysUpdate> {
    return this.backups.putKeys(user.userId, requireQueryParam(query, 'version'), body);
  }

  /** GET /_matrix/client/v3/room_keys/keys */
  @Get(clientPaths('room_keys/keys'))
  getKeys(@AuthUser() user: AuthenticatedUser, @Query() query: unknown): Promise<RoomKeysBackup> {
    return this.backups.getKeys(user.userId, requireQueryParam(query, 'version'));
  }

  /** DELETE /_matrix/client/v3/room_keys/keys */
  @Delete(clientPaths('room_keys/keys'))
  deleteKeys(@AuthUser() user: AuthenticatedUser, @Query() query: unknown): Promise<RoomKeysUpdate> {
    return this.backups.deleteKeys(user.userId, requireQueryParam(query, 'version'));
  }

  /** PUT /_matrix/client/v3/room_keys/keys/{roomId} */
  @Put(clientPaths('room_keys/keys/:roomId'))
  putRoomKeys(@AuthUser() user: AuthenticatedUser, @Param('roomId') roomId: string, @Query() query: unknown, @Body() body: unknown): Promise<RoomKeysUpdate> {
    return this.backups.putRoomKeys(user.userId, requireQueryParam(query, 'version'), roomId, body);
  }

  /** GET /_matrix/client/v3/room_keys/keys/{roomId} */
  @Get(clientPaths('room_keys/keys/:roomId'))
  getRoomKeys(@AuthUser() user: AuthenticatedUser, @Param('roomId') roomId: string, @Query() query: unknown): Promise<RoomKeyBackup> {
    return this.backups.getRoomKeys(user.userId, requireQueryParam(query, 'version'), roomId);
  }

  /** DELETE /_matrix/client/v3/room_keys/keys/{roomId} */
  @Delete(clientPaths('room_keys/keys/:roomId'))
  deleteRoomKeys(@AuthUser() user: AuthenticatedUser, @Param('roomId') roomId: string, @Query() query: unknown): Promise<RoomKeysUpdate> {
    return this.backups.deleteKeys(user.userId, requireQueryParam(query, 'version'), roomId);
  }

  /** PUT /_matrix/client/v3/room_keys/keys/{roomId}/{sessionId} */
  @Put(clientPaths('room_keys/keys/:roomId/:sessionId'))
  putSessionKey(
    @AuthUser() user: AuthenticatedUser,
    @Param('roomId') roomId: string,
    @Param('sessionId') sessionId: string,
    @Query() query: unknown,
    @Body() body: unknown,
  ): Promise<RoomKeysUpdate> {
    return this.backups.putSessionKey(user.userId, requireQueryParam(query, 'version'), roomId, sessionId, body);
  }

  /** GET /_matrix/client/v3/room_keys/keys/{roomId}/{sessionId} */
  @Get(clientPaths('room_keys/keys/:roomId/:sessionId'))
  getSessionKey(
    @AuthUser() user: AuthenticatedUser,
    @Param('roomId') roomId: string,
    @Param('sessionId') sessionId: string,
    @Query() query: unknown,
  ): Promise<KeyBackupData> {
    return this.backups.getSessionKey(user.userId, requireQueryParam(query, 'version'), roomId, sessionId);
  }

  /** DELETE /_matrix/client/v3/room_keys/keys/{roomId}/{sessionId} */
  @Delete(clientPaths('room_keys/keys/:roomId/:sessionId'))
  deleteSessionKey(
    @AuthUser() user: AuthenticatedUser,
    @Param('roomId') roomId: string,
    @Param('sessionId') sessionId: string,
    @Query() query: unknown,
  ): Promise<RoomKeysUpdate> {
    return this.backups.deleteKeys(user.userId, requireQueryParam(query, 'version'), roomId, sessionId);
  }
}
