import { CommandHandler, type ICommandHandler } from '@nestjs/cqrs';
import { RoomWriter } from '../../room-writer';
import { requireRoomId } from '../../validation';
import { ForgetRoom } from './command';
import { decideForgetRoom } from './decide';

/** POST /_matrix/client/v3/rooms/{roomId}/forget */
@CommandHandler(ForgetRoom)
export class ForgetRoomHandler implements ICommandHandler<ForgetRoom, void> {
  constructor(private readonly writer: RoomWriter) {}

  async execute(command: ForgetRoom): Promise<void> {
    await this.writer.write(requireRoomId(command.roomId), (state) => decideForgetRoom(state, command));
  }
}
