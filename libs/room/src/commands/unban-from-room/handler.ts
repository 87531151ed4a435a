import { CommandHandler, type ICommandHandler } from '@nestjs/cqrs';
import { RoomWriter } from '../../room-writer';
import { requireRoomId } from '../../validation';
import { UnbanFromRoom } from './command';
import { decideUnbanFromRoom } from './decide';

/** POST /_matrix/client/v3/rooms/{roomId}/unban */
@CommandHandler(UnbanFromRoom)
export class UnbanFromRoomHandler implements ICommandHandler<UnbanFromRoom, { eventId: string }> {
  constructor(private readonly writer: RoomWriter) {}

  async execute(command: UnbanFromRoom): Promise<{ eventId: string }> {
    const result = await this.writer.write(requireRoomId(command.roomId), (state) => decideUnbanFromRoom(state, command));
    return { eventId: result.events[0].event_id };
  }
}
