import { Command } from '@nestjs/cqrs';

/** PUT /_matrix/client/v3/directory/room/{roomAlias} */
export class SetRoomAlias extends Command<void> {
  constructor(
    readonly sender: string,
    readonly alias: string,
    readonly roomId: string,
  ) {
    super();
  }
}
