/** The summary of a room that the room directory and the space hierarchy show, from its current state. */
import { isValidRoomAlias } from '@hs/protocol';
import type { PublishedRoomState } from './federation-reads';
import type { PublicRoomsChunk } from './queries';

function text(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/** The directory entry of a published room, from its current state. */
export function publicRoomsChunkOf(room: PublishedRoomState): PublicRoomsChunk {
  const content = (type: string): Record<string, unknown> => room.content.get(type) ?? {};
  const chunk: PublicRoomsChunk = {
    room_id: room.roomId,
    num_joined_members: room.joinedMembers,
    world_readable: content('m.room.history_visibility').history_visibility === 'world_readable',
    guest_can_join: content('m.room.guest_access').guest_access === 'can_join',
  };
  const fields: [keyof PublicRoomsChunk, string | undefined][] = [
    ['name', text(content('m.room.name').name)],
    ['topic', text(content('m.room.topic').topic)],
    ['canonical_alias', isValidRoomAlias(content('m.room.canonical_alias').alias) ? text(content('m.room.canonical_alias').alias) : undefined],
    ['avatar_url', text(content('m.room.avatar').url)],
    ['join_rule', text(content('m.room.join_rules').join_rule)],
    ['room_type', text(content('m.room.create').type)],
  ];
  for (const [key, value] of fields) if (value !== undefined) (chunk as unknown as Record<string, unknown>)[key] = value;
  return chunk;
}
