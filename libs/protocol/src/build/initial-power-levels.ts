/**
 * The m.room.power_levels content a server sends when it creates a room (client-server API,
 * "Creation"; m.room.power_levels). Room version 12+: creators have infinite power and are
 * not listed in `users`, and `m.room.tombstone` must be defined above `state_default` (150),
 * so only creators can upgrade the room by default.
 */
import type { JsonObject } from '../events/types';
import { roomVersion, type RoomVersionRules } from '../room-versions';

/** The level of m.room.tombstone in new rooms of version 12+: above every non-creator's 100. */
export const V12_TOMBSTONE_LEVEL = 150;

export function initialPowerLevelsContent(version: string | RoomVersionRules, creator: string): JsonObject {
  const rules = typeof version === 'string' ? roomVersion(version) : version;
  return {
    users: rules.privilegedCreators ? {} : { [creator]: 100 },
    users_default: 0,
    events: {
      'm.room.name': 50,
      'm.room.avatar': 50,
      'm.room.canonical_alias': 50,
      'm.room.topic': 50,
      'm.room.power_levels': 100,
      'm.room.history_visibility': 100,
      'm.room.server_acl': 100,
      'm.room.encryption': 100,
      'm.room.tombstone': rules.privilegedCreators ? V12_TOMBSTONE_LEVEL : 100,
    },
    events_default: 0,
    state_default: 50,
    ban: 50,
    kick: 50,
    redact: 50,
    invite: 0,
    notifications: { room: 50 },
  };
}
