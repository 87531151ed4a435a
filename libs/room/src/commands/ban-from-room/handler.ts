import { CommandHandler, type ICommandHandler } from '@nestjs/cqrs';
import { RoomWriter } from '../../room-writer';
import { requireRoomId } from '../../validation';
import { BanFromRoom } from './command';
import { decideBanFromRoom } from './decide';

/** POST /_matrix/client/v3/rooms/{roomId}/ban */
@CommandHandler(BanFromRoom)
export class BanFromRoomHandler implements ICommandHandler<BanFromRoom, { eventId: string }> {
  constructor(private readonly writer: RoomWriter) {}

  async execute(command: BanFromRoom): Promise<{ eventId: string }> {
    const result = await this.writer.write(requireRoomId(command.roomId), (state) => decideBanFromRoom(state, command));
    return { eventId: result.events[0].event_id };
  }
}
