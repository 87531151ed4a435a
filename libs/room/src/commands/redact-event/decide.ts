import type { RoomEvent } from '@hs/protocol';
import { forbidden, invalidParam, notFound } from '../../errors';
import type { RoomPlan } from '../../room-writer';
import type { RoomState } from '../../room-state';
import { withReason } from '../../validation';
import type { RedactEvent } from './command';

/**
 * Whether `sender` may redact `target` (client-server API, "Redactions"): their own events, or
 * anyone's with at least the room's `redact` power level. The target must be an event of this room.
 */
export function checkRedaction(state: RoomState, sender: string, targetId: string, target: RoomEvent | undefined): void {
  if (!target) throw notFound(`event ${targetId} is not known in room ${state.roomId}`);
  // An event of another room is a mistake in the request (400), as Synapse answers it.
  if (target.room_id !== state.roomId) throw invalidParam(`event ${targetId} is not an event of room ${state.roomId}`);
  if (target.sender === sender) return;
  const powerLevels = state.powerLevels();
  if (powerLevels.userLevel(sender) < powerLevels.level('redact')) {
    throw forbidden(`redacting another user's event needs power level ${powerLevels.level('redact')}`);
  }
}

export function decideRedactEvent(state: RoomState, command: RedactEvent, target: RoomEvent | undefined): RoomPlan {
  checkRedaction(state, command.sender, command.eventId, target);
  const txn = command.txn;
  return {
    events: [
      {
        sender: command.sender,
        type: 'm.room.redaction',
        content: withReason({}, command.reason),
        redacts: command.eventId,
        local: txn ? { user_id: command.sender, device_id: txn.deviceId, txn_id: txn.txnId, ...(txn.scope ? { txn_scope: txn.scope } : {}) } : undefined,
      },
    ],
  };
}
