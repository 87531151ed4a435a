/** Every projector the homeserver runs (and the admin CLI can rebuild), by name. */
import type { Projector } from '@hs/eventstore';
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
    new PushProjector(serverName),
  ];
}
