import { serverNameOf, type JsonObject } from '@hs/protocol';
import { forbidden } from '../../errors';
import { memberEvent, profileContent } from '../membership';
import type { RoomPlan } from '../../room-writer';
import type { RoomState } from '../../room-state';
import type { JoinRoom } from './command';

/** Whether guest accounts may join: `m.room.guest_access` is `can_join` (client-server API, "Guest Access"). */
export function guestsMayJoin(state: RoomState): boolean {
  return state.content('m.room.guest_access')?.guest_access === 'can_join';
}

/** The room ids a restricted join rule allows through membership (`allow` entries of type m.room_membership). */
export function restrictedJoinRooms(state: RoomState): string[] {
  const joinRules = state.content('m.room.join_rules');
  const rule = joinRules?.join_rule;
  const restricted = (rule === 'restricted' && state.rules.restrictedJoins) || (rule === 'knock_restricted' && state.rules.knockRestricted);
  if (!restricted || !Array.isArray(joinRules?.allow)) return [];
  return joinRules.allow.flatMap((entry) =>
    typeof entry === 'object' && entry !== null && !Array.isArray(entry) && entry.type === 'm.room_membership' && typeof entry.room_id === 'string'
      ? [entry.room_id]
      : [],
  );
}

/**
 * Keys of a join's member event that the request body cannot set: the membership, the
 * profile (the user's own, from their profile), what the server sets for restricted joins
 * and third-party invites, keys of other memberships (`is_direct` of invites), and the join
 * parameters that are not content (`third_party_signed`; `reason` is checked on its own).
 */
const SERVER_SET_MEMBER_KEYS: ReadonlySet<string> = new Set([
  'membership',
  'displayname',
  'avatar_url',
  'join_authorised_via_users_server',
  'third_party_invite',
  'is_direct',
  'third_party_signed',
  'reason',
]);

/**
 * The content of a join's member event: the other keys of the request body (custom keys a
 * client adds, as Synapse keeps them) without those the server sets, then the user's profile.
 */
export function joinContent(body: JsonObject | undefined, profile: JoinRoom['profile']): JsonObject {
  const content: JsonObject = {};
  for (const [key, value] of Object.entries(body ?? {})) {
    if (!SERVER_SET_MEMBER_KEYS.has(key)) content[key] = value;
  }
  return { ...content, ...profileContent(profile) };
}

/**
 * A join: a member event with the user's profile, the reason and the body's custom keys.
 * Joining a room the user is already in sends nothing and answers the current join. A
 * restricted join by a member of an allowed room names a local member who may invite
 * (`join_authorised_via_users_server`). Whether the join is allowed (join rules, invites,
 * bans) is the authorization rules' decision; a guest may join only a room that allows
 * guests.
 */
export function decideJoinRoom(state: RoomState, command: JoinRoom, context: { memberOfAllowedRoom: boolean; serverName: string }): RoomPlan {
  if (state.isJoined(command.userId)) return { events: [], existing: state.event('m.room.member', command.userId) };
  if (command.guest && !guestsMayJoin(state)) throw forbidden('Guest access is not allowed in this room');
  const content: JsonObject = joinContent(command.content, command.profile);
  if (context.memberOfAllowedRoom && state.membership(command.userId) !== 'invite' && restrictedJoinRooms(state).length > 0) {
    const authoriser = restrictedJoinAuthoriser(state, context.serverName);
    if (authoriser !== undefined) content.join_authorised_via_users_server = authoriser;
  }
  return { events: [memberEvent(command.userId, command.userId, 'join', { reason: command.reason, content })] };
}

/** A joined member of this server with the power to invite. */
function restrictedJoinAuthoriser(state: RoomState, serverName: string): string | undefined {
  const powerLevels = state.powerLevels();
  const inviteLevel = powerLevels.level('invite');
  return state
    .members('join')
    .filter((user) => serverNameOf(user) === serverName && powerLevels.userLevel(user) >= inviteLevel)
    .sort((a, b) => powerLevels.userLevel(b) - powerLevels.userLevel(a) || (a < b ? -1 : 1))[0];
}
