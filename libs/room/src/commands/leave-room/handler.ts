import { Inject, Optional } from '@nestjs/common';
import { serverNameOf } from '@hs/protocol';
import { notFound } from '../../errors';
import { FederationRooms } from '../../federation/federation-rooms';
import { CommandHandler, type ICommandHandler } from '@nestjs/cqrs';
import { RoomWriter } from '../../room-writer';
import { requireRoomId } from '../../validation';
import { LeaveRoom } from './command';
import { decideLeaveRoom } from './decide';

/** POST /_matrix/client/v3/rooms/{roomId}/leave */
@CommandHandler(LeaveRoom)
export class LeaveRoomHandler implements ICommandHandler<LeaveRoom, { eventId: string }> {
  constructor(
    private readonly writer: RoomWriter,
    @Optional() @Inject(FederationRooms) private readonly federation: FederationRooms | null,
  ) {}

  async execute(command: LeaveRoom): Promise<{ eventId: string }> {
    const roomId = requireRoomId(command.roomId);
    if (this.federation && !(await this.writer.reader.room(roomId))) {
      // A room known only through an invite from another server: decline through that server.
      const entry = await this.writer.reader.currentStateEntry(roomId, 'm.room.member', command.userId);
      const [invite] = entry ? await this.writer.reader.events([entry.event_id]) : [];
      if (!invite || invite.content.membership !== 'invite') throw notFound(`room ${roomId} is not known to this server`);
      const servers = [serverNameOf(invite.sender), serverNameOf(roomId)].filter((s): s is string => s !== undefined);
      return this.federation.leaveRemote(command.userId, roomId, servers);
    }
    const result = await this.writer.write(requireRoomId(command.roomId), (state) => decideLeaveRoom(state, command));
    return { eventId: result.events[0].event_id };
  }
}
