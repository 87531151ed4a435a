import { Inject, Optional } from '@nestjs/common';
import { FederationRooms } from '../../federation/federation-rooms';
import type { WriteOptions } from '../../room-writer';
import { CommandHandler, type ICommandHandler } from '@nestjs/cqrs';
import { RoomWriter } from '../../room-writer';
import { requireRoomId } from '../../validation';
import { InviteToRoom } from './command';
import { decideInviteToRoom } from './decide';

/** POST /_matrix/client/v3/rooms/{roomId}/invite */
@CommandHandler(InviteToRoom)
export class InviteToRoomHandler implements ICommandHandler<InviteToRoom, { eventId: string }> {
  constructor(
    private readonly writer: RoomWriter,
    @Optional() @Inject(FederationRooms) private readonly federation: FederationRooms | null,
  ) {}

  async execute(command: InviteToRoom): Promise<{ eventId: string }> {
    const roomId = requireRoomId(command.roomId);
    const options: WriteOptions = this.federation
      ? { countersign: this.federation.countersignInvites(async () => (await this.writer.reader.room(roomId))?.roomVersion ?? '1') }
      : {};
    const result = await this.writer.write(roomId, (state) => decideInviteToRoom(state, command), options);
    return { eventId: result.events[0].event_id };
  }
}
