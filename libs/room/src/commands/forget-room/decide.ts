import { ROOM_FORGOTTEN } from '@hs/contracts';
import { RoomCommandError } from '../../errors';
import type { RoomPlan } from '../../room-writer';
import type { RoomState } from '../../room-state';
import type { ForgetRoom } from './command';

/** Forgetting: only a room the user has left (or was never in, or is banned from) can be forgotten. */
export function decideForgetRoom(state: RoomState, command: ForgetRoom): RoomPlan {
  const current = state.membership(command.userId);
  if (current === 'join' || current === 'invite' || current === 'knock') {
    throw new RoomCommandError('M_UNKNOWN', `user ${command.userId} is in room ${state.roomId}`);
  }
  return { events: [], facts: [{ type: ROOM_FORGOTTEN, data: { v: 1, room_id: state.roomId, user_id: command.userId } }] };
}
