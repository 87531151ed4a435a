import { Command } from '@nestjs/cqrs';

/** PUT /_matrix/client/v3/directory/list/room/{roomId} */
export class SetRoomVisibility extends Command<void> {
  constructor(
    readonly sender: string,
    readonly roomId: string,
    readonly visibility: unknown,
  ) {
    super();
  }
}
