import { Command } from '@nestjs/cqrs';

/** PUT /_synapse/admin/v1/rooms/{roomId}/block: users of this server cannot join a blocked room. */
export class SetRoomBlocked extends Command<{ changed: boolean }> {
  constructor(
    readonly adminUserId: string,
    readonly roomId: string,
    readonly blocked: boolean,
  ) {
    super();
  }
}
