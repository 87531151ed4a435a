import { CommandHandler, type ICommandHandler } from '@nestjs/cqrs';
import { notFound } from '../../errors';
import { RoomWriter } from '../../room-writer';
import { localAlias } from '../set-room-alias/decide';
import { DeleteRoomAlias } from './command';
import { decideDeleteRoomAlias } from './decide';

/** DELETE /_matrix/client/v3/directory/room/{roomAlias} */
@CommandHandler(DeleteRoomAlias)
export class DeleteRoomAliasHandler implements ICommandHandler<DeleteRoomAlias, void> {
  constructor(private readonly writer: RoomWriter) {}

  async execute(command: DeleteRoomAlias): Promise<void> {
    const alias = localAlias(command.alias, this.writer.serverName);
    const entry = await this.writer.reader.alias(alias);
    if (!entry) throw notFound(`room alias ${alias} not found`);
    await this.writer.write(entry.roomId, async (state) => decideDeleteRoomAlias(state, command, await this.writer.reader.alias(alias)));
  }
}
