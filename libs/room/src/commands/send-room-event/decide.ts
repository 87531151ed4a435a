import { badJson, forbidden } from '../../errors';
import type { RoomPlan } from '../../room-writer';
import type { RoomState } from '../../room-state';
import { requireObject } from '../../validation';
import { canonicalJson, type RoomEvent } from '@hs/protocol';
import { checkRedaction } from '../redact-event/decide';
import type { SendRoomEvent } from './command';

/**
 * A message or state event from a client. The authorization rules decide membership and power;
 * m.room.create cannot be sent, and an m.room.redaction sent this way gets the same
 * checks as POST /redact. A state event identical to the current one (same type, state key,
 * sender and content) is not sent again: the current one is the answer, as Synapse does.
 */
export function decideSendRoomEvent(state: RoomState, command: SendRoomEvent, redactionTarget?: RoomEvent): RoomPlan {
  if (typeof command.type !== 'string' || command.type.length === 0) throw badJson('the event type must be a non-empty string');
  const content = requireObject(command.content, 'content');
  if (command.type === 'm.room.create') throw forbidden('a room has exactly one m.room.create event');
  const stateKey = command.options.stateKey;
  if (stateKey !== undefined) {
    const current = state.event(command.type, stateKey);
    if (current && current.sender === command.sender && sameJson(current.content, content)) return { events: [], existing: current };
  }
  let redacts: string | undefined;
  if (command.type === 'm.room.redaction' && stateKey === undefined) {
    if (typeof content.redacts !== 'string') throw badJson('an m.room.redaction event needs content.redacts');
    redacts = content.redacts;
    checkRedaction(state, command.sender, redacts, redactionTarget);
  }
  const txn = command.options.txn;
  return {
    events: [
      {
        sender: command.sender,
        type: command.type,
        stateKey,
        content,
        redacts,
        local: txn ? { user_id: command.sender, device_id: txn.deviceId, txn_id: txn.txnId, ...(txn.scope ? { txn_scope: txn.scope } : {}) } : undefined,
      },
    ],
  };
}

/** Whether two JSON values are equal (their canonical forms); false when either has none. */
function sameJson(a: unknown, b: unknown): boolean {
  try {
    return canonicalJson(a) === canonicalJson(b);
  } catch {
    return false;
  }
}
