/**
 * Dehydrated devices (MSC3814), under `/_matrix/client/unstable/org.matrix.msc3814.v1/`: upload
 * (a new one replaces the user's previous one, which is deleted with its keys and messages),
 * fetch, delete, and read the device's to-device messages in batches.
 */
import { Body, Controller, Delete, Get, HttpCode, Param, Post, Put } from '@nestjs/common';
import { DeviceService } from '@hs/accounts';
import { DehydratedDeviceService, DeviceKeysService } from '@hs/e2ee';
import { MatrixError } from '@hs/http';
import { AuthUser, RequireAuth, type AuthenticatedUser } from '../auth';

const PREFIX = '_matrix/client/unstable/org.matrix.msc3814.v1/dehydrated_device';

function jsonObject(body: unknown): Record<string, unknown> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw MatrixError.badJson('The body must be a JSON object');
  return body as Record<string, unknown>;
}

@Controller()
@RequireAuth()
export class DehydratedDeviceController {
  constructor(
    private readonly dehydrated: DehydratedDeviceService,
    private readonly devices: DeviceService,
    private readonly keys: DeviceKeysService,
  ) {}

  /** PUT …/dehydrated_device */
  @Put(PREFIX)
  async put(@AuthUser() user: AuthenticatedUser, @Body() rawBody: unknown): Promise<{ device_id: string }> {
    const body = jsonObject(rawBody);
    const { deviceId, data } = this.dehydrated.parse(body.device_id, body.device_data);
    const displayName = body.initial_device_display_name;
    if (displayName !== undefined && typeof displayName !== 'string') throw MatrixError.badJson('initial_device_display_name must be a string');
    const previous = await this.dehydrated.get(user.userId);
    if (previous?.device_id !== deviceId && (await this.devices.listDevices(user.userId)).some((d) => d.device_id === deviceId)) {
      throw MatrixError.invalidParam('The user already has a device with that id');
    }
    if (previous) {
      await this.dehydrated.clear(user.userId);
      await this.devices.deleteDevices(user.userId, [previous.device_id]);
    }
    await this.devices.createDevice(user.userId, deviceId, displayName);
    try {
      await this.keys.upload(user.userId, deviceId, { device_keys: body.device_keys, one_time_keys: body.one_time_keys, fallback_keys: body.fallback_keys });
    } catch (error) {
      await this.devices.deleteDevices(user.userId, [deviceId]);
      throw error;
    }
    await this.dehydrated.set(user.userId, deviceId, data);
    return { device_id: deviceId };
  }

  /** GET …/dehydrated_device */
  @Get(PREFIX)
  async get(@AuthUser() user: AuthenticatedUser): Promise<{ device_id: string; device_data: Record<string, unknown> }> {
    const device = await this.dehydrated.get(user.userId);
    if (!device) throw MatrixError.notFound('No dehydrated device');
    return device;
  }

  /** DELETE …/dehydrated_device */
  @Delete(PREFIX)
  async delete(@AuthUser() user: AuthenticatedUser): Promise<{ device_id: string }> {
    const deviceId = await this.dehydrated.clear(user.userId);
    if (deviceId === undefined) throw MatrixError.notFound('No dehydrated device');
    await this.devices.deleteDevices(user.userId, [deviceId]);
    return { device_id: deviceId };
  }

  /** POST …/dehydrated_device/{deviceId}/events */
  @Post(`${PREFIX}/:deviceId/events`)
  @HttpCode(200)
  events(@AuthUser() user: AuthenticatedUser, @Param('deviceId') deviceId: string, @Body() rawBody: unknown) {
    return this.dehydrated.events(user.userId, deviceId, jsonObject(rawBody ?? {}).next_batch);
  }
}
