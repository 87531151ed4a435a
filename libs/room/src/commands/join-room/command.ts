import { Command } from '@nestjs/cqrs';
import type { JsonObject } from '@hs/protocol';
import type { MemberProfile } from '../create-room/command';

/** POST /_matrix/client/v3/join/{roomIdOrAlias} and POST /rooms/{roomId}/join */
export class JoinRoom extends Command<{ roomId: string; eventId: string }> {
  constructor(
    readonly userId: string,
    /** A room id, or a room alias (of this server or another). */
    readonly roomIdOrAlias: string,
    readonly profile?: MemberProfile,
    readonly reason?: string,
    /** Other keys of the request body, for the member event's content (see `joinContent`). */
    readonly content?: JsonObject,
    /** Servers to join a room held by other servers through (`via`, `server_name`). */
    readonly servers: readonly string[] = [],
    /** The user is a guest: the room must allow guests (`m.room.guest_access` `can_join`). */
    readonly guest = false,
  ) {
    super();
  }
}
