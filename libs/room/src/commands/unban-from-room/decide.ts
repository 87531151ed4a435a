import { forbidden } from '../../errors';
import type { RoomPlan } from '../../room-writer';
import type { RoomState } from '../../room-state';
import { requireUserId } from '../../validation';
import { memberEvent } from '../membership';
import type { UnbanFromRoom } from './command';

/** An unban: the target must be banned; their membership becomes leave. */
export function decideUnbanFromRoom(state: RoomState, command: UnbanFromRoom): RoomPlan {
  const target = requireUserId(command.userId, 'user_id');
  if (state.membership(target) !== 'ban') throw forbidden(`${target} is not banned from the room`);
  return { events: [memberEvent(command.sender, target, 'leave', { reason: command.reason })] };
}
