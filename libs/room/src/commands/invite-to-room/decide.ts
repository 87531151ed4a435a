import type { JsonObject } from '@hs/protocol';
import { forbidden } from '../../errors';
import type { RoomPlan } from '../../room-writer';
import type { RoomState } from '../../room-state';
import { requireUserId } from '../../validation';
import { memberEvent } from '../membership';
import type { InviteToRoom } from './command';

/** An invite; a banned or already joined user cannot be invited. */
export function decideInviteToRoom(state: RoomState, command: InviteToRoom): RoomPlan {
  const target = requireUserId(command.userId, 'user_id');
  const current = state.membership(target);
  if (current === 'ban') throw forbidden(`${target} is banned from the room`);
  if (current === 'join') throw forbidden(`${target} is already in the room`);
  const content: JsonObject = command.isDirect ? { is_direct: true } : {};
  return { events: [memberEvent(command.sender, target, 'invite', { reason: command.reason, content })] };
}
