import { CommandHandler, type ICommandHandler } from '@nestjs/cqrs';
import { resolveLocalAlias } from '../../queries/handlers';
import { RoomWriter } from '../../room-writer';
import { requireRoomId } from '../../validation';
import { KnockOnRoom } from './command';
import { decideKnockOnRoom } from './decide';

/** POST /_matrix/client/v3/knock/{roomIdOrAlias} */
@CommandHandler(KnockOnRoom)
export class KnockOnRoomHandler implements ICommandHandler<KnockOnRoom, { roomId: string; eventId: string }> {
  constructor(private readonly writer: RoomWriter) {}

  async execute(command: KnockOnRoom): Promise<{ roomId: string; eventId: string }> {
    const roomId = command.roomIdOrAlias.startsWith('#')
      ? (await resolveLocalAlias(this.writer, command.roomIdOrAlias)).roomId
      : requireRoomId(command.roomIdOrAlias);
    const result = await this.writer.write(roomId, (state) => decideKnockOnRoom(state, command));
    return { roomId, eventId: result.events[0].event_id };
  }
}
