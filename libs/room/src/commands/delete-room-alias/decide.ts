import { ROOM_ALIAS_DELETED } from '@hs/contracts';
import { forbidden, notFound } from '../../errors';
import type { RoomPlan } from '../../room-writer';
import type { RoomState } from '../../room-state';
import type { DeleteRoomAlias } from './command';

/**
 * Removes a local alias: its creator may, and so may a room member with the power to send
 * m.room.canonical_alias.
 */
export function decideDeleteRoomAlias(state: RoomState, command: DeleteRoomAlias, entry: { roomId: string; creator: string } | undefined): RoomPlan {
  if (!entry || entry.roomId !== state.roomId) throw notFound(`room alias ${command.alias} not found`);
  if (entry.creator !== command.sender) {
    const powerLevels = state.powerLevels();
    const allowed = state.isJoined(command.sender) && powerLevels.userLevel(command.sender) >= powerLevels.requiredLevel('m.room.canonical_alias', true);
    if (!allowed) throw forbidden('only the creator of the alias or a room administrator can delete it');
  }
  return { events: [], facts: [{ type: ROOM_ALIAS_DELETED, data: { v: 1, room_id: state.roomId, alias: command.alias } }] };
}
