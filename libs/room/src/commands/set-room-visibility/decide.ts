import { ROOM_VISIBILITY_SET } from '@hs/contracts';
import { badJson, forbidden } from '../../errors';
import type { RoomPlan } from '../../room-writer';
import type { RoomState } from '../../room-state';
import type { SetRoomVisibility } from './command';

/** Publishing a room or taking it out of the directory: a joined member with the power to send m.room.canonical_alias. */
export function decideSetRoomVisibility(state: RoomState, command: SetRoomVisibility): RoomPlan {
  const visibility = command.visibility;
  if (visibility !== 'public' && visibility !== 'private') throw badJson('visibility must be "public" or "private"');
  const powerLevels = state.powerLevels();
  if (!state.isJoined(command.sender) || powerLevels.userLevel(command.sender) < powerLevels.requiredLevel('m.room.canonical_alias', true)) {
    throw forbidden('changing the directory visibility needs the power to send m.room.canonical_alias');
  }
  return { events: [], facts: [{ type: ROOM_VISIBILITY_SET, data: { v: 1, room_id: state.roomId, visibility } }] };
}
