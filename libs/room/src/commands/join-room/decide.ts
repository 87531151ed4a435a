import { memberEvent, profileContent } from '../membership';
import type { RoomPlan } from '../../room-writer';
import type { RoomState } from '../../room-state';
import type { JoinRoom } from './command';

/**
 * A join: a member event with the user's profile. Joining a room the user is already in sends
 * nothing. Whether the join is allowed (join rules, invites, bans) is the authorization rules'
 * decision.
 */
export function decideJoinRoom(state: RoomState, command: JoinRoom): RoomPlan {
  if (state.isJoined(command.userId)) return { events: [] };
  return { events: [memberEvent(command.userId, command.userId, 'join', { reason: command.reason, content: profileContent(command.profile) })] };
}
