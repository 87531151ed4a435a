import { Command } from '@nestjs/cqrs';

/** POST /_matrix/client/v3/rooms/{roomId}/ban */
export class BanFromRoom extends Command<{ eventId: string }> {
  constructor(
    readonly sender: string,
    readonly roomId: string,
    readonly userId: string,
    readonly reason?: string,
  ) {
    super();
  }
}
