import { CommandHandler, type ICommandHandler } from '@nestjs/cqrs';
import { RoomWriter } from '../../room-writer';
import { requireRoomId } from '../../validation';
import { KickFromRoom } from './command';
import { decideKickFromRoom } from './decide';

/** POST /_matrix/client/v3/rooms/{roomId}/kick */
@CommandHandler(KickFromRoom)
export class KickFromRoomHandler implements ICommandHandler<KickFromRoom, { eventId: string }> {
  constructor(private readonly writer: RoomWriter) {}

  async execute(command: KickFromRoom): Promise<{ eventId: string }> {
    const result = await this.writer.write(requireRoomId(command.roomId), (state) => decideKickFromRoom(state, command));
    return { eventId: result.events[0].event_id };
  }
}
