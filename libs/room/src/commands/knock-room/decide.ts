import { forbidden } from '../../errors';
import type { RoomPlan } from '../../room-writer';
import type { RoomState } from '../../room-state';
import { withReason } from '../../validation';
import { profileContent } from '../membership';
import type { KnockOnRoom } from './command';

/**
 * A knock: a member event with membership `knock` and the user's profile, asking to be let in.
 * Room versions before 7 have no knocking. Whether the knock is allowed (join rule `knock`, or
 * `knock_restricted` from v10; the user neither banned, invited nor joined) is the
 * authorization rules' decision.
 */
export function decideKnockOnRoom(state: RoomState, command: KnockOnRoom): RoomPlan {
  if (!state.rules.knocking) throw forbidden(`room version ${state.roomVersion} does not support knocking`);
  const content = withReason({ ...profileContent(command.profile), membership: 'knock' }, command.reason);
  return { events: [{ sender: command.userId, type: 'm.room.member', stateKey: command.userId, content }] };
}
