/**
 * Sending with a client transaction id: a retry of (user, device, txn id, path) returns the
 * event id of the first attempt and appends nothing. A plan that appends nothing answers with the
 * event it names as already there.
 */
import type { RoomPlan } from '../room-writer';
import { RoomWriter } from '../room-writer';
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
    try {
      // The transaction id is recorded in the same write as the event, whose unique key
      // refuses a second use; a retry is found on that refusal, with no read before.
      const result = await writer.writeNow(roomId, decide);
      const event = result.events[0] ?? result.existing;
      if (!event) throw new Error('the plan sent no event and named none');
      return event.event_id;
    } catch (error) {
      // A retry answers with the event of the first attempt, even when the command would no
      // longer be allowed or valid now.
      if (txn) {
        const earlier = await writer.reader.transaction(sender, txn.deviceId, txn.txnId, txn.scope ?? '').catch(() => undefined);
        if (earlier) return earlier.eventId;
      }
      throw error;
    }
  });
}
