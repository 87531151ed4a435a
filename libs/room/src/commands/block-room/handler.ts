import { Inject } from '@nestjs/common';
import { CommandHandler, type ICommandHandler } from '@nestjs/cqrs';
import { RoomWriter } from '../../room-writer';
import { ROOM_CLOCK, type Clock } from '../../tokens';
import { requireRoomId } from '../../validation';
import { SetRoomBlocked } from './command';

/** PUT /_synapse/admin/v1/rooms/{roomId}/block */
@CommandHandler(SetRoomBlocked)
export class SetRoomBlockedHandler implements ICommandHandler<SetRoomBlocked, { changed: boolean }> {
  constructor(
    private readonly writer: RoomWriter,
    @Inject(ROOM_CLOCK) private readonly clock: Clock,
  ) {}

  async execute(command: SetRoomBlocked): Promise<{ changed: boolean }> {
    const roomId = requireRoomId(command.roomId);
    const changed = await this.writer.reader.setBlocked(roomId, command.blocked ? { by: command.adminUserId, ts: this.clock() } : undefined);
    return { changed };
  }
}
