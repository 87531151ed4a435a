/**
 * Other servers' parts of a space hierarchy (`GET /_matrix/federation/v1/hierarchy/{roomId}`),
 * for the client's hierarchy when a space names a room this server does not hold. The answer is
 * untrusted input: only summaries and `m.space.child` events of the right shape are kept, the
 * summary must be of the room asked for, and sizes are capped. Answers (and failures) are cached
 * for a while, as the spec asks, so that each page of a client's walk does not ask again.
 */
import { isValidRoomId, isValidServerName } from '@hs/protocol';
import type { PublicRoomsChunk } from '../federation-queries/queries';
import type { RemoteSpaceAnswer, RemoteSpaceRoom, RemoteSpaceSource, SpaceChild } from '../queries/hierarchy';
import { isRecord, type RemoteServers } from './remote';

/** How long an answer is used again; a failure to get one, for a shorter while. */
export const REMOTE_HIERARCHY_TTL_MS = 5 * 60_000;
export const REMOTE_HIERARCHY_FAILURE_TTL_MS = 30_000;
/** Rooms whose answers are held at most (the oldest go first). */
const MAX_CACHED = 1_000;
/** Servers of a child's `via` asked at most, one after another. */
const MAX_VIA_TRIED = 3;
const MAX_ANSWER_BYTES = 1024 * 1024;
const TIMEOUT_MS = 10_000;
/** Children and summaries kept from one answer at most. */
const MAX_ENTRIES = 1_000;

const ENCODE = encodeURIComponent;

/** A summary as another server wrote it, if it is one: the known fields of the right types. */
export function remoteRoomsChunk(room: unknown): PublicRoomsChunk | undefined {
  if (!isRecord(room) || typeof room.room_id !== 'string' || !isValidRoomId(room.room_id)) return undefined;
  const members = room.num_joined_members;
  const chunk: PublicRoomsChunk = {
    room_id: room.room_id,
    num_joined_members: typeof members === 'number' && Number.isSafeInteger(members) && members >= 0 ? members : 0,
    world_readable: room.world_readable === true,
    guest_can_join: room.guest_can_join === true,
  };
  for (const key of ['name', 'topic', 'canonical_alias', 'avatar_url', 'join_rule', 'room_type'] as const) {
    const value = room[key];
    if (typeof value === 'string') chunk[key] = value;
  }
  return chunk;
}

function spaceRoomOf(room: unknown): RemoteSpaceRoom | undefined {
  const chunk = remoteRoomsChunk(room);
  if (!chunk) return undefined;
  const allowed = (room as Record<string, unknown>).allowed_room_ids;
  const allowedRoomIds = Array.isArray(allowed) ? allowed.filter((id): id is string => typeof id === 'string' && isValidRoomId(id)).slice(0, MAX_ENTRIES) : [];
  return { chunk, allowedRoomIds };
}

function childOf(event: unknown): SpaceChild | undefined {
  if (!isRecord(event) || event.type !== 'm.space.child' || typeof event.state_key !== 'string' || typeof event.sender !== 'string') return undefined;
  if (!isRecord(event.content) || typeof event.origin_server_ts !== 'number' || !Number.isSafeInteger(event.origin_server_ts)) return undefined;
  return { type: 'm.space.child', state_key: event.state_key, sender: event.sender, content: event.content, origin_server_ts: event.origin_server_ts };
}

/** The usable part of an answer for `roomId`, or undefined when it is not one. */
export function remoteSpaceAnswer(roomId: string, body: Record<string, unknown>): RemoteSpaceAnswer | undefined {
  const room = spaceRoomOf(body.room);
  if (!room || room.chunk.room_id !== roomId) return undefined;
  const childrenState = isRecord(body.room) && Array.isArray(body.room.children_state) ? body.room.children_state : [];
  const children = childrenState.slice(0, MAX_ENTRIES).flatMap((event) => childOf(event) ?? []);
  const summaries = new Map<string, RemoteSpaceRoom>();
  for (const entry of Array.isArray(body.children) ? body.children.slice(0, MAX_ENTRIES) : []) {
    const summary = spaceRoomOf(entry);
    if (summary && summary.chunk.room_id !== roomId) summaries.set(summary.chunk.room_id, summary);
  }
  const inaccessible = new Set(
    (Array.isArray(body.inaccessible_children) ? body.inaccessible_children.slice(0, MAX_ENTRIES) : []).filter((id): id is string => typeof id === 'string'),
  );
  return { room: { ...room, children }, summaries, inaccessible };
}

export class RemoteHierarchy implements RemoteSpaceSource {
  private readonly cache = new Map<string, { at: number; answer: RemoteSpaceAnswer | undefined }>();

  constructor(
    private readonly remote: RemoteServers,
    private readonly serverName: string,
    private readonly clock: () => number = Date.now,
  ) {}

  async space(roomId: string, via: readonly string[], suggestedOnly: boolean): Promise<RemoteSpaceAnswer | undefined> {
    const key = `${suggestedOnly ? 1 : 0}${roomId}`;
    const cached = this.cache.get(key);
    if (cached && this.clock() - cached.at < (cached.answer ? REMOTE_HIERARCHY_TTL_MS : REMOTE_HIERARCHY_FAILURE_TTL_MS)) return cached.answer;
    let answer: RemoteSpaceAnswer | undefined;
    const servers = [...new Set(via)].filter((server) => server !== this.serverName && isValidServerName(server)).slice(0, MAX_VIA_TRIED);
    for (const server of servers) {
      try {
        const got = await this.remote.request(server, {
          method: 'GET',
          path: `/_matrix/federation/v1/hierarchy/${ENCODE(roomId)}?suggested_only=${suggestedOnly}`,
          maxResponseBytes: MAX_ANSWER_BYTES,
          timeoutMs: TIMEOUT_MS,
        });
        answer = remoteSpaceAnswer(roomId, got.body);
        if (answer) break;
      } catch {
        // Unreachable, refusing or not holding the room: the next server of `via` is asked.
      }
    }
    this.cache.delete(key);
    if (this.cache.size >= MAX_CACHED) this.cache.delete(this.cache.keys().next().value as string);
    this.cache.set(key, { at: this.clock(), answer });
    return answer;
  }
}
