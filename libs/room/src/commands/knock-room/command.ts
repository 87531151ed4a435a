import { Command } from '@nestjs/cqrs';
import type { MemberProfile } from '../create-room/command';

/** POST /_matrix/client/v3/knock/{roomIdOrAlias} */
export class KnockOnRoom extends Command<{ roomId: string; eventId: string }> {
  constructor(
    readonly userId: string,
    /** A room id, or a local room alias. */
    readonly roomIdOrAlias: string,
    readonly profile?: MemberProfile,
    readonly reason?: string,
  ) {
    super();
  }
}
