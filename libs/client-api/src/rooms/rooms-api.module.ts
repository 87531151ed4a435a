/**
 * The room endpoints of the client-server API: creation, membership, sending, redaction,
 * aliases, directory visibility, upgrades, /sync, the room read endpoints, typing, receipts
 * and read markers. The command and query buses, the accounts services and the guards come
 * from the global `ClientApiCoreModule`; `SyncService`, the read-side query handlers and the
 * `TypingStore` from the host's `SyncModule` (passed in its imports).
 */
import { Module } from '@nestjs/common';
import { EphemeralController } from '../sync/ephemeral.controller';
import { RoomReadController } from '../sync/room-read.controller';
import { RelationsController } from '../sync/relations.controller';
import { LegacySyncController } from '../sync/legacy-sync.controller';
import { SyncController } from '../sync/sync.controller';
import { DirectoryController } from './directory.controller';
import { PublicRoomsController } from './public-rooms.controller';
import { HierarchyController } from './hierarchy.controller';
import { RoomSummaryController } from './room-summary.controller';
import { RoomEventsController } from './room-events.controller';
import { RoomMembershipController } from './room-membership.controller';

export const ROOM_CONTROLLERS = [RoomMembershipController, RoomEventsController, DirectoryController, PublicRoomsController, HierarchyController, RoomSummaryController, SyncController, LegacySyncController, RoomReadController, RelationsController, EphemeralController];

@Module({ controllers: [...ROOM_CONTROLLERS] })
export class RoomsApiModule {}
