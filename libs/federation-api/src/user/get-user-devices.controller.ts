/** GET /_matrix/federation/v1/user/devices/{userId}: a local user's devices with their keys (user_devices.yaml). */
import { Controller, Get, Param } from '@nestjs/common';
import { QueryBus } from '@nestjs/cqrs';
import { GetFederationUserDevices, type FederationUserDevices } from '@hs/e2ee';
import { userIdParam } from '../params';

@Controller('_matrix/federation/v1/user/devices')
export class GetUserDevicesController {
  constructor(private readonly queries: QueryBus) {}

  /** GET /_matrix/federation/v1/user/devices/{userId} */
  @Get(':userId')
  getUserDevices(@Param('userId') userId: string): Promise<FederationUserDevices> {
    return this.queries.execute(new GetFederationUserDevices(userIdParam(userId)));
  }
}
