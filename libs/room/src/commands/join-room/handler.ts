import { CommandHandler, type ICommandHandler } from '@nestjs/cqrs';
import { notFound } from '../../errors';
import { RoomWriter } from '../../room-writer';
import { requireRoomId } from '../../validation';
import { resolveLocalAlias } from '../../queries/handlers';
import { JoinRoom } from './command';
import { decideJoinRoom } from './decide';

/** POST /_matrix/client/v3/join/{roomIdOrAlias} */
@CommandHandler(JoinRoom)
export class JoinRoomHandler implements ICommandHandler<JoinRoom, { roomId: string; eventId: string }> {
  constructor(private readonly writer: RoomWriter) {}

  async execute(command: JoinRoom): Promise<{ roomId: string; eventId: string }> {
    const roomId = command.roomIdOrAlias.startsWith('#')
      ? (await resolveLocalAlias(this.writer, command.roomIdOrAlias)).roomId
      : requireRoomId(command.roomIdOrAlias);
    const result = await this.writer.write(roomId, (state) => decideJoinRoom(state, command));
    const eventId = result.events[0]?.event_id ?? (await this.writer.state(roomId))?.event('m.room.member', command.userId)?.event_id;
    if (eventId === undefined) throw notFound(`room ${roomId} is not known to this server`);
    return { roomId, eventId };
  }
}
