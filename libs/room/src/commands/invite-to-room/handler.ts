import { CommandHandler, type ICommandHandler } from '@nestjs/cqrs';
import { RoomWriter } from '../../room-writer';
import { requireRoomId } from '../../validation';
import { InviteToRoom } from './command';
import { decideInviteToRoom } from './decide';

/** POST /_matrix/client/v3/rooms/{roomId}/invite */
@CommandHandler(InviteToRoom)
export class InviteToRoomHandler implements ICommandHandler<InviteToRoom, { eventId: string }> {
  constructor(private readonly writer: RoomWriter) {}

  async execute(command: InviteToRoom): Promise<{ eventId: string }> {
    const result = await this.writer.write(requireRoomId(command.roomId), (state) => decideInviteToRoom(state, command));
    return { eventId: result.events[0].event_id };
  }
}
