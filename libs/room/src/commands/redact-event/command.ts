import { Command } from '@nestjs/cqrs';
import type { ClientTransaction } from '../send-room-event/command';

/** PUT /_matrix/client/v3/rooms/{roomId}/redact/{eventId}/{txnId} */
export class RedactEvent extends Command<{ eventId: string }> {
  constructor(
    readonly sender: string,
    readonly roomId: string,
    /** The event to redact. */
    readonly eventId: string,
    readonly reason?: string,
    readonly txn?: ClientTransaction,
  ) {
    super();
  }
}
