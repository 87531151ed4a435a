/**
 * Sending with a client transaction id: a retry of (user, device, txn id) returns the event id
 * of the first attempt and appends nothing.
 */
import type { RoomPlan } from '../room-writer';
import { RoomWriter, TransactionIdInUseError } from '../room-writer';
import type { RoomState } from '../room-state';
import type { ClientTransaction } from './send-room-event/command';

export async function sendOnce(
  writer: RoomWriter,
  roomId: string,
  sender: string,
  txn: ClientTransaction | undefined,
  decide: (state: RoomState) => RoomPlan | Promise<RoomPlan>,
): Promise<string> {
  return writer.exclusive(roomId, async () => {
    const earlier = txn ? await writer.reader.transaction(sender, txn.deviceId, txn.txnId) : undefined;
    if (earlier) return earlier.eventId;
    try {
      const result = await writer.writeNow(roomId, decide);
      return result.events[0].event_id;
    } catch (error) {
      // The same transaction id was used concurrently for another room: the first one wins.
      if (error instanceof TransactionIdInUseError && txn) {
        const winner = await writer.reader.transaction(sender, txn.deviceId, txn.txnId);
        if (winner) return winner.eventId;
      }
      throw error;
    }
  });
}
