import { Command } from '@nestjs/cqrs';

export interface UpgradeRoomResult {
  replacementRoomId: string;
  /**
   * The users of this server joined to the old room when it was upgraded, whose own data about
   * the room (tags, direct chats) follows it to the replacement room.
   */
  localMembers: string[];
}

/** POST /_matrix/client/v3/rooms/{roomId}/upgrade */
export class UpgradeRoom extends Command<UpgradeRoomResult> {
  constructor(
    readonly sender: string,
    readonly roomId: string,
    readonly newVersion: unknown,
  ) {
    super();
  }
}
