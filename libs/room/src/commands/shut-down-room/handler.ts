import { CommandHandler, type ICommandHandler } from '@nestjs/cqrs';
import { RoomWriter } from '../../room-writer';
import { requireRoomId } from '../../validation';
import { ShutDownRoom } from './command';
import { decideShutDownRoom } from './decide';

/** DELETE /_synapse/admin/v2/rooms/{roomId} (the room's part) */
@CommandHandler(ShutDownRoom)
export class ShutDownRoomHandler implements ICommandHandler<ShutDownRoom, { aliases: string[] }> {
  constructor(private readonly writer: RoomWriter) {}

  async execute(command: ShutDownRoom): Promise<{ aliases: string[] }> {
    const roomId = requireRoomId(command.roomId);
    let aliases: string[] = [];
    await this.writer.write(roomId, async (state) => {
      aliases = await this.writer.reader.aliasesOfRoom(roomId);
      return decideShutDownRoom(state, command, aliases);
    });
    return { aliases };
  }
}
