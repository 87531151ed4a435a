/**
 * The published room directory as the room queries ask for it and the directory read model
 * answers it: one room's entry (public_rooms_chunk.yaml) and what a page asks.
 */

/** One room of the published room directory (public_rooms_chunk.yaml). */
export interface PublicRoomsChunk {
  room_id: string;
  num_joined_members: number;
  world_readable: boolean;
  guest_can_join: boolean;
  name?: string;
  topic?: string;
  canonical_alias?: string;
  avatar_url?: string;
  join_rule?: string;
  room_type?: string;
}

/** Published rooms wanted: largest first, then by room id, `limit` of them from `offset`. */
export interface PublishedRoomsQuery {
  offset: number;
  limit: number;
  /** Case-insensitive text looked for in the name, topic and canonical alias. */
  term?: string;
  /** Only rooms of these types (null: rooms without a type). */
  roomTypes?: readonly (string | null)[];
  /** A network's directory (`<application service id>|<network id>`) instead of the main one. */
  network?: string;
  /** The main directory and every network's. */
  allNetworks?: boolean;
}
