import { CommandHandler, type ICommandHandler } from '@nestjs/cqrs';
import { ROOM_ALIAS_DELETED, ROOM_ALIAS_SET } from '@hs/contracts';
import { randomLocalpart } from '@hs/protocol';
import { notFound } from '../../errors';
import { RoomWriter, type WriteResult } from '../../room-writer';
import { requireRoomId } from '../../validation';
import { UpgradeRoom } from './command';
import { decideReplacementRoom, decideTombstone, withPredecessor, type ReplacementRoom } from './decide';

/** POST /_matrix/client/v3/rooms/{roomId}/upgrade */
@CommandHandler(UpgradeRoom)
export class UpgradeRoomHandler implements ICommandHandler<UpgradeRoom, { replacementRoomId: string }> {
  constructor(private readonly writer: RoomWriter) {}

  async execute(command: UpgradeRoom): Promise<{ replacementRoomId: string }> {
    const roomId = requireRoomId(command.roomId);
    const old = await this.writer.state(roomId);
    if (!old) throw notFound(`room ${roomId} is not known to this server`);
    const replacement = decideReplacementRoom(old, command);
    const names = await this.writer.reader.aliasesOfRoom(roomId);
    const aliases = await Promise.all(names.map(async (alias) => ({ alias, creator: (await this.writer.reader.alias(alias))?.creator ?? command.sender })));
    let newRoomId: string;
    if (replacement.rules.roomIdFromCreateEvent) {
      // The new room's id is the hash of its create event: the room comes first, the
      // tombstone names it, and the predecessor has no event id.
      newRoomId = (await this.createReplacement(roomId, command, replacement, undefined)).roomId;
      await this.tombstone(roomId, command, newRoomId, aliases);
    } else {
      // The predecessor names the tombstone: the tombstone comes first and names the id the
      // new room is then created with.
      const localpart = randomLocalpart();
      newRoomId = `!${localpart}:${this.writer.serverName}`;
      const tombstoneId = await this.tombstone(roomId, command, newRoomId, aliases);
      await this.createReplacement(roomId, command, replacement, { localpart, tombstoneId });
    }
    if (aliases.length > 0) {
      await this.writer.write(newRoomId, () => ({
        events: [],
        facts: aliases.map(({ alias, creator }) => ({ type: ROOM_ALIAS_SET, data: { v: 1, room_id: newRoomId, alias, creator } })),
      }));
    }
    return { replacementRoomId: newRoomId };
  }

  private createReplacement(
    oldRoomId: string,
    command: UpgradeRoom,
    replacement: ReplacementRoom,
    ahead: { localpart: string; tombstoneId: string } | undefined,
  ): Promise<WriteResult> {
    return this.writer.create({
      creator: command.sender,
      rules: replacement.rules,
      createContent: withPredecessor(replacement.createContent, oldRoomId, ahead?.tombstoneId),
      roomIdLocalpart: ahead?.localpart,
      rest: () => ({ events: replacement.events }),
    });
  }

  /** Sends the tombstone (and restricted power levels) to the old room and takes its aliases away; answers the tombstone's id. */
  private async tombstone(roomId: string, command: UpgradeRoom, newRoomId: string, aliases: { alias: string }[]): Promise<string> {
    const written = await this.writer.write(roomId, (state) => {
      const plan = decideTombstone(state, command, newRoomId);
      plan.facts = aliases.map(({ alias }) => ({ type: ROOM_ALIAS_DELETED, data: { v: 1, room_id: roomId, alias } }));
      return plan;
    });
    const tombstone = written.events.find((event) => event.type === 'm.room.tombstone');
    if (!tombstone) throw new Error('the tombstone was not written');
    return tombstone.event_id;
  }
}
