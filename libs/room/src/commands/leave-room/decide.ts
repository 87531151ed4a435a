import { forbidden } from '../../errors';
import type { RoomPlan } from '../../room-writer';
import type { RoomState } from '../../room-state';
import { memberEvent } from '../membership';
import type { LeaveRoom } from './command';

/** Leaving: only a user who is joined, invited or knocking can leave. */
export function decideLeaveRoom(state: RoomState, command: LeaveRoom): RoomPlan {
  const current = state.membership(command.userId);
  if (current === undefined || current === 'leave') throw forbidden(`${command.userId} is not in the room`);
  return { events: [memberEvent(command.userId, command.userId, 'leave', { reason: command.reason })] };
}
