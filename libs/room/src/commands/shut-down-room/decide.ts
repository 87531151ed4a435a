import { ROOM_ALIAS_DELETED, ROOM_PURGED, ROOM_VISIBILITY_SET } from '@hs/contracts';
import type { RoomFact, RoomPlan } from '../../room-writer';
import type { RoomState } from '../../room-state';
import type { ShutDownRoom } from './command';

/** The facts of a shutdown: every local alias deleted, the room unpublished, and the purge when asked. */
export function decideShutDownRoom(state: RoomState, command: ShutDownRoom, aliases: readonly string[]): RoomPlan {
  const facts: RoomFact[] = aliases.map((alias) => ({ type: ROOM_ALIAS_DELETED, data: { v: 1, room_id: state.roomId, alias } }));
  facts.push({ type: ROOM_VISIBILITY_SET, data: { v: 1, room_id: state.roomId, visibility: 'private' } });
  if (command.purge) facts.push({ type: ROOM_PURGED, data: { v: 1, room_id: state.roomId, by: command.adminUserId } });
  return { events: [], facts };
}
