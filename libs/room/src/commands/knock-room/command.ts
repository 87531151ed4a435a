import { Command } from '@nestjs/cqrs';
import type { MemberProfile } from '../create-room/command';

/** POST /_matrix/client/v3/knock/{roomIdOrAlias} */
export class KnockOnRoom extends Command<{ roomId: string; eventId: string }> {
  constructor(
    readonly userId: string,
    /** A room id, or a room alias (of this server or another). */
    readonly roomIdOrAlias: string,
    readonly profile?: MemberProfile,
    readonly reason?: string,
    /** Servers to knock through when the room is held by other servers (`via`, `server_name`). */
    readonly servers: readonly string[] = [],
  ) {
    super();
  }
}
