/** Server administration (client-server API): GET /admin/whois/{userId}. */
import { Controller, Get, Param } from '@nestjs/common';
import { DeviceService, UserService, type DeviceSighting } from '@hs/accounts';
import { MatrixError } from '@hs/http';
import type { AuthenticatedUser } from '../auth/authenticated-user';
import { AuthUser, RequireAuth } from '../auth/decorators';
import { clientPaths } from '../prefixes';

interface ConnectionInfo {
  ip: string;
  last_seen: number;
  user_agent: string;
}

/** The answer of GET /admin/whois/{userId} (admin.yaml, 200). */
export interface WhoisResponse {
  user_id: string;
  devices: Record<string, { sessions: { connections: ConnectionInfo[] }[] }>;
}

/**
 * A device has one session (the access token of its login). Its one connection is where and
 * when the device was last seen; a device never seen has none. A user agent nobody sent is
 * the empty string, as Synapse answers it.
 */
function sessionsOf(sighting: DeviceSighting): { connections: ConnectionInfo[] }[] {
  if (sighting.ts === null) return [{ connections: [] }];
  return [{ connections: [{ ip: sighting.ip ?? '', last_seen: sighting.ts, user_agent: sighting.userAgent ?? '' }] }];
}

/** The sessions of a local user, as GET /admin/whois/{userId} answers them. */
export async function whoisOf(devices: DeviceService, userId: string): Promise<WhoisResponse> {
  const sightings = await devices.lastSightings(userId);
  return { user_id: userId, devices: Object.fromEntries(sightings.map((sighting) => [sighting.deviceId, { sessions: sessionsOf(sighting) }])) };
}

@Controller()
@RequireAuth()
export class WhoisController {
  constructor(
    private readonly users: UserService,
    private readonly devices: DeviceService,
  ) {}

  /**
   * GET /_matrix/client/v3/admin/whois/{userId}
   *
   * For the user themself and server admins; anyone else gets 403 M_FORBIDDEN before the
   * user is looked up, so that it tells nothing about which accounts exist.
   */
  @Get(clientPaths('admin/whois/:userId'))
  async whois(@AuthUser() user: AuthenticatedUser, @Param('userId') userId: string): Promise<WhoisResponse> {
    if (user.userId !== userId && !(await this.users.isAdmin(user.userId))) {
      throw MatrixError.forbidden('Only server admins may look up other users');
    }
    if (!this.users.isLocalUserId(userId) || (await this.users.getUser(userId)) === null) throw MatrixError.notFound('Unknown user');
    return whoisOf(this.devices, userId);
  }
}
