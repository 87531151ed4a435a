/** The room endpoints of the federation API, on the room write side the host passes (its RoomModule). */
import { DynamicModule, Module } from '@nestjs/common';
import { CqrsModule } from '@nestjs/cqrs';
import { FederationMembershipController, FederationTransactionController } from './room-membership.controllers';

@Module({})
export class FederationRoomsApiModule {
  static forRoom(room: DynamicModule): DynamicModule {
    return {
      module: FederationRoomsApiModule,
      imports: [CqrsModule.forRoot(), room],
      controllers: [FederationTransactionController, FederationMembershipController],
    };
  }
}
