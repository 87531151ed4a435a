/**
 * The state event types a server shares as stripped state with invited and knocking users
 * (client-server API, "Stripped state"; `invite_room_state` / `knock_room_state`), besides
 * the inviter's or knocker's own member event.
 */
export const STRIPPED_STATE_TYPES = [
  'm.room.create',
  'm.room.join_rules',
  'm.room.name',
  'm.room.avatar',
  'm.room.canonical_alias',
  'm.room.encryption',
  'm.room.topic',
] as const;
