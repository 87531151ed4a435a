/**
 * Rule 1 of every room version: events of type m.room.create.
 */
import type { RoomEvent } from '../../events/types';
import { isKnownRoomVersion, type RoomVersionRules } from '../../room-versions';
import { ALLOW, type AuthResult, deny } from '../types';
import { domainOf, isValidUserId } from '../user-id';

/** The room id a room version 12+ create event gives its room: its event id with sigil `!` instead of `$`. */
export function roomIdFromCreateEventId(createEventId: string): string {
  return `!${createEventId.slice(1)}`;
}

export function checkCreate(event: RoomEvent, rules: RoomVersionRules): AuthResult {
  // 1.1 If it has any prev_events, reject.
  if (event.prev_events.length > 0) return deny('create.prev_events', 'm.room.create must not have prev_events');

  if (rules.roomIdFromCreateEvent) {
    // 1.2 (v12+) If the event has a room_id, reject. In normalized form the room id is either
    // empty or the one derived from the event id; anything else came from the PDU.
    if (event.room_id !== '' && event.room_id !== roomIdFromCreateEventId(event.event_id)) {
      return deny('create.room_id', 'm.room.create must not have a room_id in this room version');
    }
  } else {
    // 1.2 (v1-11) If the domain of the room_id does not match the domain of the sender, reject.
    const roomDomain = domainOf(event.room_id);
    if (roomDomain === undefined || roomDomain !== domainOf(event.sender)) {
      return deny('create.room_id_domain', 'the domain of the room id does not match the domain of the sender');
    }
  }

  // 1.3 If content.room_version is present and is not a recognised version, reject.
  const version = event.content.room_version;
  if (version !== undefined && (typeof version !== 'string' || !isKnownRoomVersion(version))) {
    return deny('create.room_version', `unknown room version ${JSON.stringify(version)}`);
  }

  // 1.4 (v1-10) If content has no creator property, reject.
  if (!rules.implicitRoomCreator && !('creator' in event.content)) {
    return deny('create.creator', 'm.room.create has no creator');
  }

  // 1.4 (v12+) additional_creators, if present, must be an array of valid user ids.
  if (rules.privilegedCreators && 'additional_creators' in event.content) {
    const extra = event.content.additional_creators;
    if (!Array.isArray(extra) || !extra.every((u) => isValidUserId(u))) {
      return deny('create.additional_creators', 'additional_creators must be an array of valid user ids');
    }
  }

  // 1.5 Otherwise, allow.
  return ALLOW;
}
