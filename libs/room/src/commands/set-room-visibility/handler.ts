import { CommandHandler, type ICommandHandler } from '@nestjs/cqrs';
import { RoomWriter } from '../../room-writer';
import { requireRoomId } from '../../validation';
import { SetRoomVisibility } from './command';
import { decideSetRoomVisibility } from './decide';

/** PUT /_matrix/client/v3/directory/list/room/{roomId} */
@CommandHandler(SetRoomVisibility)
export class SetRoomVisibilityHandler implements ICommandHandler<SetRoomVisibility, void> {
  constructor(private readonly writer: RoomWriter) {}

  async execute(command: SetRoomVisibility): Promise<void> {
    await this.writer.write(requireRoomId(command.roomId), (state) => decideSetRoomVisibility(state, command));
  }
}
