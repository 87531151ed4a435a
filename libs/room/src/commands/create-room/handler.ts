import { Inject, Optional } from '@nestjs/common';
import { CommandHandler, type ICommandHandler } from '@nestjs/cqrs';
import { FederationRooms } from '../../federation/federation-rooms';
import { ROOM_ALIAS_SET, ROOM_VISIBILITY_SET } from '@hs/contracts';
import { RoomCommandError } from '../../errors';
import { RoomWriter, type RoomFact } from '../../room-writer';
import { CreateRoom } from './command';
import { decideCreateRoom } from './decide';

/** POST /_matrix/client/v3/createRoom */
@CommandHandler(CreateRoom)
export class CreateRoomHandler implements ICommandHandler<CreateRoom, { roomId: string }> {
  constructor(
    private readonly writer: RoomWriter,
    @Optional() @Inject(FederationRooms) private readonly federation: FederationRooms | null,
  ) {}

  async execute(command: CreateRoom): Promise<{ roomId: string }> {
    const decision = decideCreateRoom(command.creator, command.request, command.creatorProfile, {
      serverName: this.writer.serverName,
      defaultRoomVersion: this.writer.defaultRoomVersion,
    });
    const alias = decision.alias;
    if (alias !== undefined && (await this.writer.reader.alias(alias))) {
      throw new RoomCommandError('M_ROOM_IN_USE', `the room alias ${alias} is already in use`);
    }
    const result = await this.writer.create({
      creator: command.creator,
      rules: decision.rules,
      createContent: decision.createContent,
      rest: (state) => {
        const facts: RoomFact[] = [];
        if (alias !== undefined) facts.push({ type: ROOM_ALIAS_SET, data: { v: 1, room_id: state.roomId, alias, creator: command.creator } });
        if (decision.visibility === 'public') facts.push({ type: ROOM_VISIBILITY_SET, data: { v: 1, room_id: state.roomId, visibility: 'public' } });
        return { events: decision.events, facts };
      },
      options: this.federation ? { countersign: this.federation.countersignInvites(async () => decision.rules.id) } : {},
    });
    return { roomId: result.roomId };
  }
}
