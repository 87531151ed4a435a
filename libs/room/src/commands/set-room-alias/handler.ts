import { CommandHandler, type ICommandHandler } from '@nestjs/cqrs';
import { RoomCommandError } from '../../errors';
import { RoomWriter } from '../../room-writer';
import { requireRoomId } from '../../validation';
import { SetRoomAlias } from './command';
import { aliasInUse, decideSetRoomAlias, localAlias } from './decide';

/** PUT /_matrix/client/v3/directory/room/{roomAlias} */
@CommandHandler(SetRoomAlias)
export class SetRoomAliasHandler implements ICommandHandler<SetRoomAlias, void> {
  constructor(private readonly writer: RoomWriter) {}

  async execute(command: SetRoomAlias): Promise<void> {
    const alias = localAlias(command.alias, this.writer.serverName);
    const roomId = requireRoomId(command.roomId);
    try {
      await this.writer.write(roomId, async (state) => decideSetRoomAlias(state, command, (await this.writer.reader.alias(alias)) !== undefined));
    } catch (error) {
      // Another writer took the alias between the check and the append.
      if (error instanceof RoomCommandError && error.errcode === 'M_ROOM_IN_USE') throw aliasInUse(alias);
      throw error;
    }
  }
}
