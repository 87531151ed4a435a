import { Command } from '@nestjs/cqrs';

/** DELETE /_matrix/client/v3/directory/room/{roomAlias} */
export class DeleteRoomAlias extends Command<void> {
  constructor(
    readonly sender: string,
    readonly alias: string,
  ) {
    super();
  }
}
