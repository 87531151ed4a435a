import { CommandHandler, type ICommandHandler } from '@nestjs/cqrs';
import { notFound } from '../../errors';
import { resolveLocalAlias } from '../../queries/handlers';
import { RoomWriter } from '../../room-writer';
import { requireRoomId } from '../../validation';
import { JoinRoom } from './command';
import { decideJoinRoom, restrictedJoinRooms } from './decide';

/** POST /_matrix/client/v3/join/{roomIdOrAlias} */
@CommandHandler(JoinRoom)
export class JoinRoomHandler implements ICommandHandler<JoinRoom, { roomId: string; eventId: string }> {
  constructor(private readonly writer: RoomWriter) {}

  async execute(command: JoinRoom): Promise<{ roomId: string; eventId: string }> {
    const roomId = command.roomIdOrAlias.startsWith('#')
      ? (await resolveLocalAlias(this.writer, command.roomIdOrAlias)).roomId
      : requireRoomId(command.roomIdOrAlias);
    const memberOfAllowedRoom = await this.isMemberOfAllowedRoom(roomId, command.userId);
    const result = await this.writer.write(roomId, (state) =>
      decideJoinRoom(state, command, { memberOfAllowedRoom, serverName: this.writer.serverName }),
    );
    const event = result.events[0] ?? result.existing;
    if (event === undefined) throw notFound(`room ${roomId} is not known to this server`);
    return { roomId, eventId: event.event_id };
  }

  /** Whether the user is joined to one of the rooms a restricted join rule allows. */
  private async isMemberOfAllowedRoom(roomId: string, userId: string): Promise<boolean> {
    const state = await this.writer.state(roomId);
    if (!state) return false;
    for (const allowed of restrictedJoinRooms(state)) {
      if ((await this.writer.reader.membership(allowed, userId)) === 'join') return true;
    }
    return false;
  }
}
