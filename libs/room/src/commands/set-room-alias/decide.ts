import { ROOM_ALIAS_SET } from '@hs/contracts';
import { parseRoomAlias } from '@hs/protocol';
import { RoomCommandError, invalidParam } from '../../errors';
import type { RoomPlan } from '../../room-writer';
import type { RoomState } from '../../room-state';
import type { SetRoomAlias } from './command';

/** The alias, checked: well formed and on this server. */
export function localAlias(alias: unknown, serverName: string): string {
  if (typeof alias !== 'string') throw invalidParam('the room alias must be a string');
  let parsed;
  try {
    parsed = parseRoomAlias(alias);
  } catch {
    throw invalidParam(`${alias} is not a valid room alias`);
  }
  if (parsed.serverName !== serverName) throw invalidParam(`room alias ${alias} does not belong to this server`);
  return alias;
}

export function aliasInUse(alias: string): RoomCommandError {
  return new RoomCommandError('M_UNKNOWN', `room alias ${alias} already exists`, undefined, 409);
}

/** Points a new local alias at the room; an alias in use is refused (409). */
export function decideSetRoomAlias(state: RoomState, command: SetRoomAlias, aliasTaken: boolean): RoomPlan {
  if (aliasTaken) throw aliasInUse(command.alias);
  return { events: [], facts: [{ type: ROOM_ALIAS_SET, data: { v: 1, room_id: state.roomId, alias: command.alias, creator: command.sender } }] };
}
