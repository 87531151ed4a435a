import { Command } from '@nestjs/cqrs';

/**
 * PUT (and DELETE) /_matrix/client/v3/directory/list/appservice/{networkId}/{roomId}: an
 * application service publishes a room in the directory of one of its networks.
 */
export class SetRoomNetworkVisibility extends Command<void> {
  constructor(
    readonly appServiceId: string,
    readonly networkId: string,
    readonly roomId: string,
    readonly visibility: unknown,
  ) {
    super();
  }
}
