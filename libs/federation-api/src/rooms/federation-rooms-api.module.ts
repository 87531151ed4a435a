/** The room endpoints of the federation API, on the room write side the host passes (its RoomModule). */
import { DynamicModule, Module } from '@nestjs/common';
import { CqrsModule } from '@nestjs/cqrs';
import { FEDERATION_TYPING, FederationMembershipController, FederationTransactionController, type FederationTyping } from './room-membership.controllers';

@Module({})
export class FederationRoomsApiModule {
  /** `typing`: where other servers' typing notifications go (none: they are dropped). */
  static forRoom(room: DynamicModule, typing?: FederationTyping): DynamicModule {
    return {
      module: FederationRoomsApiModule,
      imports: [CqrsModule.forRoot(), room],
      controllers: [FederationTransactionController, FederationMembershipController],
      providers: [{ provide: FEDERATION_TYPING, useValue: typing ?? null }],
    };
  }
}
