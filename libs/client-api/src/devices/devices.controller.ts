/**
 * Device management (client-server API, "Device management"): list, get, rename and delete
 * devices; deleting needs user-interactive authentication with the account's password.
 */
import { Body, Controller, Delete, Get, HttpCode, Param, Post, Put } from '@nestjs/common';
import { DeviceInfo, DeviceService, UserInteractiveAuthService, accountFlows } from '@hs/accounts';
import { z } from 'zod';
import type { AuthenticatedUser } from '../auth/authenticated-user';
import { AuthUser, RequireAuth, GuestAllowed } from '../auth/decorators';
import { clientPaths } from '../prefixes';
import { parseBody } from '../validation';

const UpdateDeviceBody = z.object({ display_name: z.string().nullable().optional() });

const DeleteDeviceBody = z.object({ auth: z.unknown().optional() });

const DeleteDevicesBody = z.object({ auth: z.unknown().optional(), devices: z.array(z.string()) });

@Controller()
@RequireAuth()
export class DevicesController {
  constructor(
    private readonly devices: DeviceService,
    private readonly uia: UserInteractiveAuthService,
  ) {}

  /** GET /_matrix/client/v3/devices */
  @GuestAllowed()
  @Get(clientPaths('devices'))
  async getDevices(@AuthUser() user: AuthenticatedUser): Promise<{ devices: DeviceInfo[] }> {
    return { devices: await this.devices.listDevices(user.userId) };
  }

  /** GET /_matrix/client/v3/devices/{deviceId} */
  @GuestAllowed()
  @Get(clientPaths('devices/:deviceId'))
  getDevice(@AuthUser() user: AuthenticatedUser, @Param('deviceId') deviceId: string): Promise<DeviceInfo> {
    return this.devices.getDevice(user.userId, deviceId);
  }

  /** PUT /_matrix/client/v3/devices/{deviceId} */
  @GuestAllowed()
  @Put(clientPaths('devices/:deviceId'))
  async updateDevice(@AuthUser() user: AuthenticatedUser, @Param('deviceId') deviceId: string, @Body() rawBody: unknown): Promise<Record<string, never>> {
    const body = parseBody(UpdateDeviceBody, rawBody);
    if (body.display_name !== undefined) await this.devices.updateDevice(user.userId, deviceId, body.display_name);
    else await this.devices.getDevice(user.userId, deviceId);
    return {};
  }

  /** DELETE /_matrix/client/v3/devices/{deviceId} */
  @Delete(clientPaths('devices/:deviceId'))
  async deleteDevice(@AuthUser() user: AuthenticatedUser, @Param('deviceId') deviceId: string, @Body() rawBody: unknown): Promise<Record<string, never>> {
    const body = parseBody(DeleteDeviceBody, rawBody);
    // An unknown device is refused before asking for the password.
    await this.devices.getDevice(user.userId, deviceId);
    const session = await this.uia.authenticate({
      operation: `DELETE /devices/${deviceId}`,
      userId: user.userId,
      flows: accountFlows(),
      auth: body.auth,
    });
    await this.devices.deleteDevice(user.userId, deviceId);
    await this.uia.completeSession(session.sessionId);
    return {};
  }

  /** POST /_matrix/client/v3/delete_devices */
  @Post(clientPaths('delete_devices'))
  @HttpCode(200)
  async deleteDevices(@AuthUser() user: AuthenticatedUser, @Body() rawBody: unknown): Promise<Record<string, never>> {
    const body = parseBody(DeleteDevicesBody, rawBody);
    const ids = [...new Set(body.devices)].sort();
    const session = await this.uia.authenticate({
      operation: `POST /delete_devices ${JSON.stringify(ids)}`,
      userId: user.userId,
      flows: accountFlows(),
      auth: body.auth,
    });
    await this.devices.deleteDevices(user.userId, ids);
    await this.uia.completeSession(session.sessionId);
    return {};
  }
}
