import { ROOM_ALIAS_DELETED } from '@hs/contracts';
import type { JsonObject } from '@hs/protocol';
import { forbidden, notFound } from '../../errors';
import type { EventTemplate, RoomPlan } from '../../room-writer';
import type { RoomState } from '../../room-state';
import type { DeleteRoomAlias } from './command';

/**
 * Removes a local alias: its creator may, and so may a room member with the power to send
 * m.room.canonical_alias. When the room's canonical alias names it and the sender may change
 * that event, the alias is taken out of it too.
 */
export function decideDeleteRoomAlias(state: RoomState, command: DeleteRoomAlias, entry: { roomId: string; creator: string } | undefined): RoomPlan {
  if (!entry || entry.roomId !== state.roomId) throw notFound(`room alias ${command.alias} not found`);
  const powerLevels = state.powerLevels();
  const mayChangeCanonical =
    state.isJoined(command.sender) && powerLevels.userLevel(command.sender) >= powerLevels.requiredLevel('m.room.canonical_alias', true);
  if (entry.creator !== command.sender && !mayChangeCanonical) {
    throw forbidden('only the creator of the alias or a room administrator can delete it');
  }
  const events: EventTemplate[] = [];
  const canonical = withoutAlias(state.content('m.room.canonical_alias'), command.alias);
  if (canonical && mayChangeCanonical) {
    events.push({ sender: command.sender, type: 'm.room.canonical_alias', stateKey: '', content: canonical });
  }
  return { events, facts: [{ type: ROOM_ALIAS_DELETED, data: { v: 1, room_id: state.roomId, alias: command.alias } }] };
}

/** The canonical alias content without `alias`, or undefined when it does not name it. */
function withoutAlias(content: JsonObject | undefined, alias: string): JsonObject | undefined {
  if (!content) return undefined;
  const alt = Array.isArray(content.alt_aliases) ? content.alt_aliases : undefined;
  if (content.alias !== alias && !alt?.includes(alias)) return undefined;
  const next: JsonObject = { ...content };
  if (next.alias === alias) delete next.alias;
  if (alt) next.alt_aliases = alt.filter((a) => a !== alias);
  return next;
}
