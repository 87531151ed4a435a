import type { RoomPlan } from '../../room-writer';
import type { RoomState } from '../../room-state';
import { requireUserId } from '../../validation';
import { memberEvent } from '../membership';
import type { BanFromRoom } from './command';

/** A ban, whatever the target's membership; power is the authorization rules' decision. */
export function decideBanFromRoom(_state: RoomState, command: BanFromRoom): RoomPlan {
  const target = requireUserId(command.userId, 'user_id');
  return { events: [memberEvent(command.sender, target, 'ban', { reason: command.reason })] };
}
