import { forbidden } from '../../errors';
import type { RoomPlan } from '../../room-writer';
import type { RoomState } from '../../room-state';
import { requireUserId } from '../../validation';
import { memberEvent } from '../membership';
import type { KickFromRoom } from './command';

/** A kick: the target must be joined, invited or knocking; power is the authorization rules' decision. */
export function decideKickFromRoom(state: RoomState, command: KickFromRoom): RoomPlan {
  const target = requireUserId(command.userId, 'user_id');
  const current = state.membership(target);
  if (current !== 'join' && current !== 'invite' && current !== 'knock') throw forbidden(`${target} is not in the room`);
  return { events: [memberEvent(command.sender, target, 'leave', { reason: command.reason })] };
}
