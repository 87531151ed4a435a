import { CommandHandler, type ICommandHandler } from '@nestjs/cqrs';
import { ROOM_ALIAS_DELETED, ROOM_ALIAS_SET, ROOM_VISIBILITY_SET } from '@hs/contracts';
import { randomLocalpart, serverNameOf } from '@hs/protocol';
import { notFound } from '../../errors';
import { RoomWriter, type RoomFact, type WriteResult } from '../../room-writer';
import { requireRoomId } from '../../validation';
import { UpgradeRoom, type UpgradeRoomResult } from './command';
import { decideReplacementRoom, decideTombstone, withPredecessor, type ReplacementRoom } from './decide';

/** What the tombstone write did in the old room. */
interface Tombstoned {
  tombstoneId: string;
  /** Whether the old room was published in the room directory (it no longer is). */
  wasPublished: boolean;
}

/** POST /_matrix/client/v3/rooms/{roomId}/upgrade */
@CommandHandler(UpgradeRoom)
export class UpgradeRoomHandler implements ICommandHandler<UpgradeRoom, UpgradeRoomResult> {
  constructor(private readonly writer: RoomWriter) {}

  async execute(command: UpgradeRoom): Promise<UpgradeRoomResult> {
    const roomId = requireRoomId(command.roomId);
    const old = await this.writer.state(roomId);
    if (!old) throw notFound(`room ${roomId} is not known to this server`);
    const replacement = decideReplacementRoom(old, command);
    const names = await this.writer.reader.aliasesOfRoom(roomId);
    const aliases = await Promise.all(names.map(async (alias) => ({ alias, creator: (await this.writer.reader.alias(alias))?.creator ?? command.sender })));
    let newRoomId: string;
    let tombstoned: Tombstoned;
    if (replacement.rules.roomIdFromCreateEvent) {
      // The new room's id is the hash of its create event: the room comes first, the
      // tombstone names it, and the predecessor has no event id.
      newRoomId = (await this.createReplacement(roomId, command, replacement, undefined)).roomId;
      tombstoned = await this.tombstone(roomId, command, newRoomId, aliases);
    } else {
      // The predecessor names the tombstone: the tombstone comes first and names the id the
      // new room is then created with.
      const localpart = randomLocalpart();
      newRoomId = `!${localpart}:${this.writer.serverName}`;
      tombstoned = await this.tombstone(roomId, command, newRoomId, aliases);
      await this.createReplacement(roomId, command, replacement, { localpart, tombstoneId: tombstoned.tombstoneId });
    }
    // The aliases and the directory listing move to the replacement room.
    const facts: RoomFact[] = aliases.map(({ alias, creator }) => ({ type: ROOM_ALIAS_SET, data: { v: 1, room_id: newRoomId, alias, creator } }));
    if (tombstoned.wasPublished) facts.push({ type: ROOM_VISIBILITY_SET, data: { v: 1, room_id: newRoomId, visibility: 'public' } });
    if (facts.length > 0) await this.writer.write(newRoomId, () => ({ events: [], facts }));
    const localMembers = old.members('join').filter((userId) => serverNameOf(userId) === this.writer.serverName);
    return { replacementRoomId: newRoomId, localMembers };
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

  /**
   * Sends the tombstone (and the emptied canonical alias and restricted power levels) to the old
   * room, takes its aliases away and takes it out of the room directory.
   */
  private async tombstone(roomId: string, command: UpgradeRoom, newRoomId: string, aliases: { alias: string }[]): Promise<Tombstoned> {
    let wasPublished = false;
    const written = await this.writer.write(roomId, async (state) => {
      const plan = decideTombstone(state, command, newRoomId);
      plan.facts = aliases.map(({ alias }): RoomFact => ({ type: ROOM_ALIAS_DELETED, data: { v: 1, room_id: roomId, alias } }));
      // Read as the room's writer, so no visibility change slips in between.
      wasPublished = (await this.writer.reader.room(roomId))?.published === true;
      if (wasPublished) plan.facts.push({ type: ROOM_VISIBILITY_SET, data: { v: 1, room_id: roomId, visibility: 'private' } });
      return plan;
    });
    const tombstone = written.events.find((event) => event.type === 'm.room.tombstone');
    if (!tombstone) throw new Error('the tombstone was not written');
    return { tombstoneId: tombstone.event_id, wasPublished };
  }
}
