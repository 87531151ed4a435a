/**
 * Client config (client-server API, "Client Config") and room tagging ("Room Tagging"):
 * global and per-room account data, and the `m.tag` helpers. Only the user themself may read
 * or write them.
 */
import { Body, Controller, Delete, Get, Param, Put } from '@nestjs/common';
import { AccountDataService, JsonObject, TagsContent } from '@hs/accounts';
import type { AuthenticatedUser } from '../auth/authenticated-user';
import { AuthUser, RequireAuth } from '../auth/decorators';
import { assertSameUser } from '../auth/same-user';
import { clientPaths } from '../prefixes';
import { parseObjectBody } from '../validation';

@Controller()
@RequireAuth()
export class AccountDataController {
  constructor(private readonly accountData: AccountDataService) {}

  /** GET /_matrix/client/v3/user/{userId}/account_data/{type} */
  @Get(clientPaths('user/:userId/account_data/:type'))
  getAccountData(@AuthUser() user: AuthenticatedUser, @Param('userId') userId: string, @Param('type') type: string): Promise<JsonObject> {
    assertSameUser(user, userId, 'read account data');
    return this.accountData.getGlobalAccountData(userId, type);
  }

  /** PUT /_matrix/client/v3/user/{userId}/account_data/{type} */
  @Put(clientPaths('user/:userId/account_data/:type'))
  async setAccountData(
    @AuthUser() user: AuthenticatedUser,
    @Param('userId') userId: string,
    @Param('type') type: string,
    @Body() body: unknown,
  ): Promise<Record<string, never>> {
    assertSameUser(user, userId, 'add account data');
    await this.accountData.setGlobalAccountData(userId, type, parseObjectBody(body));
    return {};
  }

  /** GET /_matrix/client/v3/user/{userId}/rooms/{roomId}/account_data/{type} */
  @Get(clientPaths('user/:userId/rooms/:roomId/account_data/:type'))
  getAccountDataPerRoom(
    @AuthUser() user: AuthenticatedUser,
    @Param('userId') userId: string,
    @Param('roomId') roomId: string,
    @Param('type') type: string,
  ): Promise<JsonObject> {
    assertSameUser(user, userId, 'read account data');
    return this.accountData.getRoomAccountData(userId, roomId, type);
  }

  /** PUT /_matrix/client/v3/user/{userId}/rooms/{roomId}/account_data/{type} */
  @Put(clientPaths('user/:userId/rooms/:roomId/account_data/:type'))
  async setAccountDataPerRoom(
    @AuthUser() user: AuthenticatedUser,
    @Param('userId') userId: string,
    @Param('roomId') roomId: string,
    @Param('type') type: string,
    @Body() body: unknown,
  ): Promise<Record<string, never>> {
    assertSameUser(user, userId, 'add account data');
    await this.accountData.setRoomAccountData(userId, roomId, type, parseObjectBody(body));
    return {};
  }

  /** GET /_matrix/client/v3/user/{userId}/rooms/{roomId}/tags */
  @Get(clientPaths('user/:userId/rooms/:roomId/tags'))
  getRoomTags(@AuthUser() user: AuthenticatedUser, @Param('userId') userId: string, @Param('roomId') roomId: string): Promise<TagsContent> {
    assertSameUser(user, userId, 'read tags');
    return this.accountData.getTags(userId, roomId);
  }

  /** PUT /_matrix/client/v3/user/{userId}/rooms/{roomId}/tags/{tag} */
  @Put(clientPaths('user/:userId/rooms/:roomId/tags/:tag'))
  async setRoomTag(
    @AuthUser() user: AuthenticatedUser,
    @Param('userId') userId: string,
    @Param('roomId') roomId: string,
    @Param('tag') tag: string,
    @Body() body: unknown,
  ): Promise<Record<string, never>> {
    assertSameUser(user, userId, 'add tags');
    await this.accountData.setTag(userId, roomId, tag, parseObjectBody(body));
    return {};
  }

  /** DELETE /_matrix/client/v3/user/{userId}/rooms/{roomId}/tags/{tag} */
  @Delete(clientPaths('user/:userId/rooms/:roomId/tags/:tag'))
  async deleteRoomTag(
    @AuthUser() user: AuthenticatedUser,
    @Param('userId') userId: string,
    @Param('roomId') roomId: string,
    @Param('tag') tag: string,
  ): Promise<Record<string, never>> {
    assertSameUser(user, userId, 'remove tags');
    await this.accountData.deleteTag(userId, roomId, tag);
    return {};
  }
}
