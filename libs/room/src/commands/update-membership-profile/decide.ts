import type { JsonObject } from '@hs/protocol';
import type { RoomPlan } from '../../room-writer';
import type { RoomState } from '../../room-state';
import type { UpdateMembershipProfile } from './command';

/** The user's join event again, with the new displayname/avatar_url; nothing when unchanged or no longer joined. */
export function decideUpdateMembershipProfile(state: RoomState, command: UpdateMembershipProfile): RoomPlan {
  const current = state.event('m.room.member', command.userId);
  if (!current || current.content.membership !== 'join') return { events: [] };
  const content: JsonObject = { ...current.content };
  delete content.reason;
  for (const key of ['displayname', 'avatar_url'] as const) {
    const value = command.profile[key];
    if (value === undefined) continue;
    if (value === null) delete content[key];
    else content[key] = value;
  }
  if (JSON.stringify(content) === JSON.stringify(current.content)) return { events: [] };
  return { events: [{ sender: command.userId, type: 'm.room.member', stateKey: command.userId, content }] };
}
