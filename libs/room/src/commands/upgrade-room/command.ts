import { Command } from '@nestjs/cqrs';

/** POST /_matrix/client/v3/rooms/{roomId}/upgrade */
export class UpgradeRoom extends Command<{ replacementRoomId: string }> {
  constructor(
    readonly sender: string,
    readonly roomId: string,
    readonly newVersion: unknown,
  ) {
    super();
  }
}
