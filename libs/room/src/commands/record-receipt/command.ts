import { Command } from '@nestjs/cqrs';

/**
 * POST /_matrix/client/v3/rooms/{roomId}/receipt/{receiptType}/{eventId} (`m.read`,
 * `m.read.private`): records the receipt in the room's receipts stream.
 */
export class RecordReceipt extends Command<void> {
  constructor(
    readonly userId: string,
    readonly roomId: string,
    readonly receiptType: unknown,
    readonly eventId: string,
    /** Threaded receipts: the thread's root event id, or `main`. */
    readonly threadId?: string,
  ) {
    super();
  }
}
