/** The room endpoints of the federation API, on the room write side the host passes (its RoomModule). */
import { DynamicModule, Module } from '@nestjs/common';
import { CqrsModule } from '@nestjs/cqrs';
import { FEDERATION_E2EE, FEDERATION_TYPING, FederationMembershipController, FederationTransactionController, type FederationE2ee, type FederationTyping } from './room-membership.controllers';

@Module({})
export class FederationRoomsApiModule {
  /**
   * `typing`: where other servers' typing notifications go; `e2ee`: where their device list
   * updates and to-device messages go (none: they are dropped).
   */
  static forRoom(room: DynamicModule, typing?: FederationTyping, e2ee?: FederationE2ee): DynamicModule {
    return {
      module: FederationRoomsApiModule,
      imports: [CqrsModule.forRoot(), room],
      controllers: [FederationTransactionController, FederationMembershipController],
      providers: [
        { provide: FEDERATION_TYPING, useValue: typing ?? null },
        { provide: FEDERATION_E2EE, useValue: e2ee ?? null },
      ],
    };
  }
}
