/**
 * Profiles (client-server API, "Profiles"): GET /profile/{userId}, GET/PUT/DELETE
 * /profile/{userId}/{keyName}. A new display name or avatar is propagated to every room the
 * user is joined to as a new membership event.
 */
import { Body, Controller, Delete, Get, Logger, Param, Put } from '@nestjs/common';
import { CommandBus } from '@nestjs/cqrs';
import { JsonValue, Profile, ProfileService } from '@hs/accounts';
import { MatrixError } from '@hs/http';
import { UpdateMembershipProfile } from '@hs/room';
import type { AuthenticatedUser } from '../auth/authenticated-user';
import { AuthUser, RequireAuth, GuestAllowed } from '../auth/decorators';
import { assertSameUser } from '../auth/same-user';
import { AppServiceQueries } from '../appservice/appservice-queries';
import { clientPaths } from '../prefixes';
import { parseObjectBody } from '../validation';

/** Profile fields that membership events carry. */
const MEMBERSHIP_FIELDS = new Set(['displayname', 'avatar_url']);

@Controller()
export class ProfileController {
  private readonly logger = new Logger('ProfileController');

  constructor(
    private readonly profiles: ProfileService,
    private readonly commandBus: CommandBus,
    private readonly appServiceQueries: AppServiceQueries,
  ) {}

  /** GET /_matrix/client/v3/profile/{userId} */
  @Get(clientPaths('profile/:userId'))
  getUserProfile(@Param('userId') userId: string): Promise<Profile> {
    return this.appServiceQueries.lookupUser(userId, () => this.profiles.getProfile(userId));
  }

  /** GET /_matrix/client/v3/profile/{userId}/{keyName} */
  @Get(clientPaths('profile/:userId/:keyName'))
  async getProfileField(@Param('userId') userId: string, @Param('keyName') keyName: string): Promise<Record<string, JsonValue>> {
    return { [keyName]: await this.appServiceQueries.lookupUser(userId, () => this.profiles.getProfileField(userId, keyName)) };
  }

  /** PUT /_matrix/client/v3/profile/{userId}/{keyName} */
  @GuestAllowed()
  @Put(clientPaths('profile/:userId/:keyName'))
  @RequireAuth()
  async setProfileField(
    @AuthUser() user: AuthenticatedUser,
    @Param('userId') userId: string,
    @Param('keyName') keyName: string,
    @Body() rawBody: unknown,
  ): Promise<Record<string, never>> {
    assertSameUser(user, userId, 'change the profile');
    // Guests set their display name only (client-server API, "Guest Access").
    if (user.isGuest && keyName !== 'displayname') throw new MatrixError(403, 'M_GUEST_ACCESS_FORBIDDEN', 'Guests may only set their display name');
    const body = parseObjectBody(rawBody);
    if (!Object.prototype.hasOwnProperty.call(body, keyName)) throw MatrixError.missingParam(`Missing ${keyName} in the request body`);
    const value = body[keyName];
    await this.profiles.setProfileField(userId, keyName, value);
    if (MEMBERSHIP_FIELDS.has(keyName)) await this.propagate(userId, { [keyName]: value as string });
    return {};
  }

  /** DELETE /_matrix/client/v3/profile/{userId}/{keyName} */
  @Delete(clientPaths('profile/:userId/:keyName'))
  @RequireAuth()
  async deleteProfileField(
    @AuthUser() user: AuthenticatedUser,
    @Param('userId') userId: string,
    @Param('keyName') keyName: string,
  ): Promise<Record<string, never>> {
    assertSameUser(user, userId, 'change the profile');
    await this.profiles.deleteProfileField(userId, keyName);
    if (MEMBERSHIP_FIELDS.has(keyName)) await this.propagate(userId, { [keyName]: null });
    return {};
  }

  /** Sends the new membership events; a room that refuses one does not undo the profile change. */
  private async propagate(userId: string, profile: { displayname?: string | null; avatar_url?: string | null }): Promise<void> {
    try {
      await this.commandBus.execute(new UpdateMembershipProfile(userId, profile));
    } catch (error) {
      this.logger.warn(`profile change of ${userId} not propagated to every room: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
}
