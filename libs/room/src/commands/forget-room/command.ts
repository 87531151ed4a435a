import { Command } from '@nestjs/cqrs';

/** POST /_matrix/client/v3/rooms/{roomId}/forget */
export class ForgetRoom extends Command<void> {
  constructor(
    readonly userId: string,
    readonly roomId: string,
  ) {
    super();
  }
}
