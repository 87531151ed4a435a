/** Every projector the homeserver runs (and the admin CLI can rebuild), by name. */
import type { Projector, ReadBarrier } from '@hs/eventstore';
import { DIRECTORY_PROJECTION, DirectoryProjector, publishedRooms } from '@hs/projections/directory';
import type { PublishedRoomsSource } from '@hs/room';
import type { DatabasePool } from 'slonik';
import { MediaProjector } from '@hs/projections/media';
import { PushProjector } from '@hs/projections/push';
import { ReceiptsProjector } from '@hs/projections/receipts';
import { roomSummaryProjector } from '@hs/projections/room-summary';
import { SearchProjector } from '@hs/projections/search';
import { SyncProjector } from '@hs/projections/sync';
import { UserDirectoryProjector } from '@hs/projections/user-directory';

export function allProjectors(serverName: string): Projector[] {
  return [
    new SyncProjector(),
    new ReceiptsProjector(),
    roomSummaryProjector,
    new MediaProjector(),
    new SearchProjector(),
    new UserDirectoryProjector(),
    new DirectoryProjector(),
    new PushProjector(serverName),
  ];
}

/** The published room directory read from its projection, after every write acknowledged before the read. */
export function directoryPublishedRooms(pool: DatabasePool, readBarrier: ReadBarrier | null): PublishedRoomsSource {
  return {
    async published(query) {
      await readBarrier?.ready([DIRECTORY_PROJECTION]);
      return publishedRooms(pool, query);
    },
  };
}
