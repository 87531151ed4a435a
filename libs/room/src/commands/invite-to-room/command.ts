import { Command } from '@nestjs/cqrs';

/** POST /_matrix/client/v3/rooms/{roomId}/invite */
export class InviteToRoom extends Command<{ eventId: string }> {
  constructor(
    readonly sender: string,
    readonly roomId: string,
    readonly userId: string,
    readonly reason?: string,
    /** Marks the invite as a direct chat (`is_direct` in the member event). */
    readonly isDirect?: boolean,
  ) {
    super();
  }
}
