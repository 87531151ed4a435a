/** The room endpoints of the federation API, on the room write side the host passes (its RoomModule). */
import { DynamicModule, Module } from '@nestjs/common';
import { CqrsModule } from '@nestjs/cqrs';
import {
  FEDERATION_E2EE,
  FEDERATION_PRESENCE,
  FEDERATION_TYPING,
  FederationMembershipController,
  FederationTransactionController,
  type FederationE2ee,
  type FederationPresence,
  type FederationTyping,
} from './room-membership.controllers';

/** Where other servers' EDUs go (each one absent: those EDUs are dropped). */
export interface FederationEduSinks {
  /** Typing notifications. */
  typing?: FederationTyping;
  /** Device list updates, signing key updates and to-device messages. */
  e2ee?: FederationE2ee;
  /** Presence. */
  presence?: FederationPresence;
}

@Module({})
export class FederationRoomsApiModule {
  static forRoom(room: DynamicModule, sinks: FederationEduSinks = {}): DynamicModule {
    return {
      module: FederationRoomsApiModule,
      imports: [CqrsModule.forRoot(), room],
      controllers: [FederationTransactionController, FederationMembershipController],
      providers: [
        { provide: FEDERATION_TYPING, useValue: sinks.typing ?? null },
        { provide: FEDERATION_E2EE, useValue: sinks.e2ee ?? null },
        { provide: FEDERATION_PRESENCE, useValue: sinks.presence ?? null },
      ],
    };
  }
}
