/**
 * Facts about a room that are not room events (PDUs) but belong to the room's stream
 * (`room-<roomId>`) so that one expected revision orders every change of the room: local
 * aliases, the room directory visibility and users forgetting the room.
 */

/** Store event type: a local alias now points at the room (PUT /directory/room/{roomAlias}). */
export const ROOM_ALIAS_SET = 'RoomAliasSet';
/** Store event type: a local alias was removed (DELETE /directory/room/{roomAlias}) or moved away by an upgrade. */
export const ROOM_ALIAS_DELETED = 'RoomAliasDeleted';
/** Store event type: the room's visibility in the published room directory changed. */
export const ROOM_VISIBILITY_SET = 'RoomVisibilitySet';
/**
 * Store event type: an application service published the room in (or took it out of) the
 * directory of one of its third-party networks (PUT /directory/list/appservice/{networkId}/{roomId}).
 */
export const ROOM_NETWORK_VISIBILITY_SET = 'RoomNetworkVisibilitySet';
/** Store event type: a user forgot the room (POST /rooms/{roomId}/forget). */
export const ROOM_FORGOTTEN = 'RoomForgotten';

/**
 * Store event type: a server admin purged the room (DELETE /_synapse/admin/v2/rooms/{roomId} with
 * `purge`): the read models forget it (its timeline, state and memberships); the room's
 * stream and the write model keep everything.
 */
export const ROOM_PURGED = 'RoomPurged';

export interface RoomPurgedV1 {
  v: 1;
  room_id: string;
  /** The admin who purged the room. */
  by: string;
}

export interface RoomAliasSetV1 {
  v: 1;
  room_id: string;
  alias: string;
  /** The user who created the alias. */
  creator: string;
}

export interface RoomAliasDeletedV1 {
  v: 1;
  room_id: string;
  alias: string;
}

export interface RoomVisibilitySetV1 {
  v: 1;
  room_id: string;
  visibility: 'public' | 'private';
}

export interface RoomNetworkVisibilitySetV1 {
  v: 1;
  room_id: string;
  /** The network's directory: `<application service id>|<network id>`. */
  instance_id: string;
  visibility: 'public' | 'private';
}

export interface RoomForgottenV1 {
  v: 1;
  room_id: string;
  user_id: string;
}

export type RoomAliasSet = RoomAliasSetV1;
export type RoomAliasDeleted = RoomAliasDeletedV1;
export type RoomVisibilitySet = RoomVisibilitySetV1;
export type RoomNetworkVisibilitySet = RoomNetworkVisibilitySetV1;
export type RoomForgotten = RoomForgottenV1;
export type RoomPurged = RoomPurgedV1;
