/**
 * The room endpoints of the client-server API: creation, membership, sending, redaction,
 * aliases, directory visibility, upgrades, /sync, the room read endpoints, typing, receipts
 * and read markers. The command and query buses, the accounts services and the guards come
 * from the global `ClientApiCoreModule`.
 */
import { Module } from '@nestjs/common';
import { DirectoryController } from './directory.controller';
import { RoomEventsController } from './room-events.controller';
import { RoomMembershipController } from './room-membership.controller';

export const ROOM_CONTROLLERS = [RoomMembershipController, RoomEventsController, DirectoryController];

@Module({ controllers: [...ROOM_CONTROLLERS] })
export class RoomsApiModule {}
