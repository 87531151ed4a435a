import { CommandHandler, type ICommandHandler } from '@nestjs/cqrs';
import { RoomWriter } from '../../room-writer';
import { requireRoomId } from '../../validation';
import { LeaveRoom } from './command';
import { decideLeaveRoom } from './decide';

/** POST /_matrix/client/v3/rooms/{roomId}/leave */
@CommandHandler(LeaveRoom)
export class LeaveRoomHandler implements ICommandHandler<LeaveRoom, { eventId: string }> {
  constructor(private readonly writer: RoomWriter) {}

  async execute(command: LeaveRoom): Promise<{ eventId: string }> {
    const result = await this.writer.write(requireRoomId(command.roomId), (state) => decideLeaveRoom(state, command));
    return { eventId: result.events[0].event_id };
  }
}
