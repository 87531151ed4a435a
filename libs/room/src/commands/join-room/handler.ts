import { CommandHandler, type ICommandHandler } from '@nestjs/cqrs';
import { Inject, Optional } from '@nestjs/common';
import { serverNameOf } from '@hs/protocol';
import { forbidden, notFound } from '../../errors';
import { FederationRooms } from '../../federation/federation-rooms';
import { resolveLocalAlias } from '../../queries/handlers';
import { RoomWriter } from '../../room-writer';
import { requireRoomId } from '../../validation';
import { JoinRoom } from './command';
import { decideJoinRoom, joinContent, restrictedJoinRooms } from './decide';

/** POST /_matrix/client/v3/join/{roomIdOrAlias} */
@CommandHandler(JoinRoom)
export class JoinRoomHandler implements ICommandHandler<JoinRoom, { roomId: string; eventId: string }> {
  constructor(
    private readonly writer: RoomWriter,
    @Optional() @Inject(FederationRooms) private readonly federation: FederationRooms | null,
  ) {}

  async execute(command: JoinRoom): Promise<{ roomId: string; eventId: string }> {
    const servers = [...command.servers];
    let roomId: string;
    if (command.roomIdOrAlias.startsWith('#')) {
      const aliasServer = serverNameOf(command.roomIdOrAlias);
      if (aliasServer !== this.writer.serverName && this.federation) {
        const resolved = await this.federation.resolveRemoteAlias(command.roomIdOrAlias);
        roomId = resolved.roomId;
        servers.push(...resolved.servers);
      } else {
        roomId = (await resolveLocalAlias(this.writer, command.roomIdOrAlias)).roomId;
      }
    } else {
      roomId = requireRoomId(command.roomIdOrAlias);
    }
    if (await this.writer.reader.blocked(roomId)) throw forbidden('This room has been blocked on this server');
    if (this.federation && (await this.joinsThroughOtherServers(roomId, command.userId, servers))) {
      const content = joinContent(command.content, command.profile);
      if (command.reason !== undefined) content.reason = command.reason;
      return this.federation.joinRemote(command.userId, roomId, servers, content, { guest: command.guest });
    }
    const memberOfAllowedRoom = await this.isMemberOfAllowedRoom(roomId, command.userId);
    const result = await this.writer.write(roomId, (state) =>
      decideJoinRoom(state, command, { memberOfAllowedRoom, serverName: this.writer.serverName }),
    );
    const event = result.events[0] ?? result.existing;
    if (event === undefined) throw notFound(`room ${roomId} is not known to this server`);
    return { roomId, eventId: event.event_id };
  }

  /**
   * Whether the join goes through another server: the room is not held here, or no user of
   * this server is joined (our view of it may be stale). Adds the servers worth asking to
   * `servers`: the room id's server, the inviter's, and the servers with joined members.
   */
  private async joinsThroughOtherServers(roomId: string, userId: string, servers: string[]): Promise<boolean> {
    const ours = this.writer.serverName;
    const roomServer = serverNameOf(roomId);
    const invite = await this.writer.reader.currentStateEntry(roomId, 'm.room.member', userId);
    if (invite) {
      const [event] = await this.writer.reader.events([invite.event_id]);
      const inviter = event && event.content.membership === 'invite' ? serverNameOf(event.sender) : undefined;
      if (inviter) servers.push(inviter);
    }
    const state = await this.writer.state(roomId);
    if (!state) {
      if (roomServer) servers.push(roomServer);
      return true;
    }
    const joined = state.members('join');
    if (joined.includes(userId) || joined.some((member) => serverNameOf(member) === ours)) return false;
    const others = [...new Set(joined.map((member) => serverNameOf(member)).filter((s): s is string => s !== undefined && s !== ours))];
    if (others.length === 0) return false;
    servers.push(...others);
    if (roomServer) servers.push(roomServer);
    return true;
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
