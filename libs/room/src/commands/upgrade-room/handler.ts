import { CommandHandler, type ICommandHandler } from '@nestjs/cqrs';
import { ROOM_ALIAS_DELETED, ROOM_ALIAS_SET } from '@hs/contracts';
import { notFound } from '../../errors';
import { RoomWriter } from '../../room-writer';
import { requireRoomId } from '../../validation';
import { UpgradeRoom } from './command';
import { decideReplacementRoom, decideTombstone } from './decide';

/** POST /_matrix/client/v3/rooms/{roomId}/upgrade */
@CommandHandler(UpgradeRoom)
export class UpgradeRoomHandler implements ICommandHandler<UpgradeRoom, { replacementRoomId: string }> {
  constructor(private readonly writer: RoomWriter) {}

  async execute(command: UpgradeRoom): Promise<{ replacementRoomId: string }> {
    const roomId = requireRoomId(command.roomId);
    const old = await this.writer.state(roomId);
    if (!old) throw notFound(`room ${roomId} is not known to this server`);
    const replacement = decideReplacementRoom(old, command);
    const created = await this.writer.create({
      creator: command.sender,
      rules: replacement.rules,
      createContent: replacement.createContent,
      rest: () => ({ events: replacement.events }),
    });
    const newRoomId = created.roomId;
    const names = await this.writer.reader.aliasesOfRoom(roomId);
    const aliases = (await Promise.all(names.map(async (alias) => ({ alias, creator: (await this.writer.reader.alias(alias))?.creator ?? command.sender }))));
    await this.writer.write(roomId, (state) => {
      const plan = decideTombstone(state, command, newRoomId);
      plan.facts = aliases.map(({ alias }) => ({ type: ROOM_ALIAS_DELETED, data: { v: 1, room_id: roomId, alias } }));
      return plan;
    });
    if (aliases.length > 0) {
      await this.writer.write(newRoomId, () => ({
        events: [],
        facts: aliases.map(({ alias, creator }) => ({ type: ROOM_ALIAS_SET, data: { v: 1, room_id: newRoomId, alias, creator } })),
      }));
    }
    return { replacementRoomId: newRoomId };
  }
}
