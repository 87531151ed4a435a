import { Inject, Optional } from '@nestjs/common';
import { CommandHandler, type ICommandHandler } from '@nestjs/cqrs';
import { serverNameOf } from '@hs/protocol';
import { FederationRooms } from '../../federation/federation-rooms';
import { resolveLocalAlias } from '../../queries/handlers';
import { RoomWriter } from '../../room-writer';
import { requireRoomId } from '../../validation';
import { profileContent } from '../membership';
import { KnockOnRoom } from './command';
import { decideKnockOnRoom } from './decide';

/** POST /_matrix/client/v3/knock/{roomIdOrAlias} */
@CommandHandler(KnockOnRoom)
export class KnockOnRoomHandler implements ICommandHandler<KnockOnRoom, { roomId: string; eventId: string }> {
  constructor(
    private readonly writer: RoomWriter,
    @Optional() @Inject(FederationRooms) private readonly federation: FederationRooms | null,
  ) {}

  async execute(command: KnockOnRoom): Promise<{ roomId: string; eventId: string }> {
    const servers = [...command.servers];
    let roomId: string;
    if (command.roomIdOrAlias.startsWith('#') && this.federation && serverNameOf(command.roomIdOrAlias) !== this.writer.serverName) {
      const resolved = await this.federation.resolveRemoteAlias(command.roomIdOrAlias);
      roomId = resolved.roomId;
      servers.push(...resolved.servers);
    } else {
      roomId = command.roomIdOrAlias.startsWith('#')
        ? (await resolveLocalAlias(this.writer, command.roomIdOrAlias)).roomId
        : requireRoomId(command.roomIdOrAlias);
    }
    if (this.federation && !(await this.writer.reader.room(roomId))) {
      // A room held by other servers: knock through them.
      const roomServer = serverNameOf(roomId);
      if (roomServer) servers.push(roomServer);
      const content = { ...profileContent(command.profile), ...(command.reason !== undefined ? { reason: command.reason } : {}) };
      const { eventId } = await this.federation.knockRemote(command.userId, roomId, servers, content);
      return { roomId, eventId };
    }
    const result = await this.writer.write(roomId, (state) => decideKnockOnRoom(state, command));
    return { roomId, eventId: result.events[0].event_id };
  }
}
