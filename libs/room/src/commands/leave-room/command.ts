import { Command } from '@nestjs/cqrs';

/** POST /_matrix/client/v3/rooms/{roomId}/leave (also rejects an invite or withdraws a knock) */
export class LeaveRoom extends Command<{ eventId: string }> {
  constructor(
    readonly userId: string,
    readonly roomId: string,
    readonly reason?: string,
  ) {
    super();
  }
}
