/**
 * The space hierarchy (client-server API, "Spaces": GET /_matrix/client/v1/rooms/{roomId}/hierarchy):
 * a depth-first walk over `m.space.child` state events from a room, through the rooms this
 * server holds and, for children it does not hold, what the servers of their `via` answer over
 * federation, showing the rooms the user may see (joined, invited, allowed to join, knockable or
 * world readable). Pages are cut from the same walk: `next_batch` holds how many rooms came
 * before, with the options it was made for.
 */
import { isValidRoomId } from '@hs/protocol';
import { forbidden, invalidParam, notFound } from '../errors';
import type { FederationReads, SpaceRoomState } from '../federation-queries/federation-reads';
import { publicRoomsChunkOf } from '../federation-queries/summary';
import type { FederationHierarchy, FederationHierarchyRoom, PublicRoomsChunk } from '../federation-queries/queries';

export const DEFAULT_HIERARCHY_LIMIT = 50;
export const MAX_HIERARCHY_LIMIT = 100;
export const DEFAULT_HIERARCHY_DEPTH = 10;
export const MAX_HIERARCHY_DEPTH = 50;
/** Rooms one walk looks at, at most. */
const MAX_WALKED_ROOMS = 5_000;

export interface HierarchyRequest {
  suggestedOnly: boolean;
  limit: number;
  maxDepth: number;
  from?: string;
}

/** An `m.space.child` event as stripped state with its time. */
export type SpaceChild = SpaceRoomState['children'][number];

/** One room of the answer: its summary and its `m.space.child` events. */
export interface HierarchyRoom extends PublicRoomsChunk {
  children_state: SpaceChild[];
}

export interface HierarchyPage {
  rooms: HierarchyRoom[];
  next_batch?: string;
}

/** What the walk needs to know of the user: their memberships. */
export interface HierarchyViewer {
  /** The user's current membership in each room where it is join or invite. */
  memberships: ReadonlyMap<string, string>;
}

/** A room another server summarized: what it shows, and the rooms whose members may join it (restricted rooms). */
export interface RemoteSpaceRoom {
  chunk: PublicRoomsChunk;
  allowedRoomIds: string[];
}

/** Another server's answer for a space: the room with its children, the summaries of those it may show us, those we cannot reach. */
export interface RemoteSpaceAnswer {
  room: RemoteSpaceRoom & { children: SpaceChild[] };
  summaries: ReadonlyMap<string, RemoteSpaceRoom>;
  inaccessible: ReadonlySet<string>;
}

/** Spaces of rooms this server does not hold, asked of the servers a parent's `via` names (none: such rooms are left out). */
export interface RemoteSpaceSource {
  space(roomId: string, via: readonly string[], suggestedOnly: boolean): Promise<RemoteSpaceAnswer | undefined>;
}

/** A room met on the walk, held here or summarized by another server. */
interface WalkedRoom {
  chunk: PublicRoomsChunk;
  allowedRoomIds: string[];
  children: SpaceChild[];
}

/** Rooms of other servers asked for in one walk, at most. */
const MAX_REMOTE_SPACES = 50;

const TOKEN = /^h(0|[1-9][0-9]{0,6})_([01])_(0|[1-9][0-9]?)$/;

function localRoom(room: SpaceRoomState): WalkedRoom {
  return { chunk: publicRoomsChunkOf(room), allowedRoomIds: allowedRooms(room.content.get('m.room.join_rules') ?? {}), children: room.children };
}

export async function spaceHierarchy(
  reads: FederationReads,
  rootId: string,
  viewer: HierarchyViewer,
  request: HierarchyRequest,
  remote?: RemoteSpaceSource,
): Promise<HierarchyPage> {
  let offset = 0;
  if (request.from !== undefined) {
    const token = TOKEN.exec(request.from);
    if (!token) throw invalidParam('from is not a pagination token of this server');
    if (token[2] !== (request.suggestedOnly ? '1' : '0') || Number(token[3]) !== request.maxDepth) {
      throw invalidParam('suggested_only and max_depth cannot change between pages');
    }
    offset = Number(token[1]);
  }
  const wanted = offset + request.limit + 1;
  const found: HierarchyRoom[] = [];
  const seen = new Set<string>([rootId]);
  const stack: { roomId: string; depth: number }[] = [{ roomId: rootId, depth: 0 }];
  // Rooms are read a level at a time: a room's children together, when the room is shown.
  const loaded = new Map<string, WalkedRoom>();
  for (const [id, room] of await reads.spaceRooms([rootId])) loaded.set(id, localRoom(room));
  // What other servers told of rooms not held here: summaries of children, and children they cannot reach.
  const summaries = new Map<string, RemoteSpaceRoom>();
  const inaccessible = new Set<string>();
  let remoteAsked = 0;
  let walked = 0;
  while (stack.length > 0 && found.length < wanted && walked < MAX_WALKED_ROOMS) {
    const { roomId, depth } = stack.pop() as { roomId: string; depth: number };
    walked++;
    const room = loaded.get(roomId);
    const visible = room !== undefined && maySee(room, viewer);
    if (!visible) {
      // The root must be visible; another room the user may not see is left out with its subtree.
      if (roomId === rootId) throw forbidden('You may not see this room');
      continue;
    }
    const children = validChildren(room.children, request.suggestedOnly);
    found.push({ ...room.chunk, children_state: children });
    if (depth >= request.maxDepth) continue;
    const next = children.filter((child) => !seen.has(child.state_key));
    for (const [id, state] of await reads.spaceRooms(next.map((child) => child.state_key))) loaded.set(id, localRoom(state));
    if (remote) {
      const asked = next.filter((child) => !loaded.has(child.state_key) && !inaccessible.has(child.state_key));
      await Promise.all(
        asked.map(async (child) => {
          const summary = summaries.get(child.state_key);
          // A room that is no space is shown as its parent's server summarized it.
          if (summary && summary.chunk.room_type !== 'm.space') {
            loaded.set(child.state_key, { ...summary, children: [] });
            return;
          }
          if (remoteAsked >= MAX_REMOTE_SPACES) return;
          remoteAsked++;
          const answer = await remote.space(child.state_key, viaOf(child), request.suggestedOnly);
          if (!answer) return;
          loaded.set(child.state_key, answer.room);
          for (const [id, known] of answer.summaries) if (!summaries.has(id)) summaries.set(id, known);
          for (const id of answer.inaccessible) inaccessible.add(id);
        }),
      );
    }
    for (const child of [...next].reverse()) {
      seen.add(child.state_key);
      stack.push({ roomId: child.state_key, depth: depth + 1 });
    }
  }
  const page: HierarchyPage = { rooms: found.slice(offset, offset + request.limit) };
  if (found.length > offset + request.limit) page.next_batch = `h${offset + request.limit}_${request.suggestedOnly ? 1 : 0}_${request.maxDepth}`;
  return page;
}

function viaOf(child: SpaceChild): string[] {
  const via = child.content.via;
  return Array.isArray(via) ? via.filter((server): server is string => typeof server === 'string') : [];
}

/**
 * The federation form of the hierarchy (no pagination, one level): the room and those of its
 * children this server holds, split by whether `origin` could peek or join them (world
 * readable, public or knockable, restricted (with the rooms allowed, for `origin` to decide),
 * or with a member of `origin` joined). A room `origin` cannot reach is M_NOT_FOUND, as one not
 * held here; children not held here are left out.
 */
export async function federationHierarchy(reads: FederationReads, origin: string, roomId: string, suggestedOnly: boolean): Promise<FederationHierarchy> {
  const room = (await reads.spaceRooms([roomId])).get(roomId);
  if (!room || !(await serverMayReach(reads, room, origin))) throw notFound(`room ${roomId} is not known here or not reachable for ${origin}`);
  const childrenState = validChildren(room.children, suggestedOnly);
  const held = await reads.spaceRooms(childrenState.map((child) => child.state_key));
  const answer: FederationHierarchy = { room: { ...summaryWithAllowedRooms(room), children_state: childrenState }, children: [], inaccessible_children: [] };
  for (const child of childrenState) {
    const childRoom = held.get(child.state_key);
    if (!childRoom) continue;
    if (await serverMayReach(reads, childRoom, origin)) answer.children.push(summaryWithAllowedRooms(childRoom));
    else answer.inaccessible_children.push(child.state_key);
  }
  return answer;
}

/** A held room's summary, with the rooms a restricted room allows (the federation hierarchy's and the room summary's). */
export function summaryWithAllowedRooms(room: SpaceRoomState): FederationHierarchyRoom {
  const summary: FederationHierarchyRoom = publicRoomsChunkOf(room);
  const joinRules = room.content.get('m.room.join_rules') ?? {};
  if (joinRules.join_rule === 'restricted' || joinRules.join_rule === 'knock_restricted') summary.allowed_room_ids = allowedRooms(joinRules);
  return summary;
}

/** The rooms whose members a restricted room's join rules let in. */
export function allowedRooms(joinRules: Record<string, unknown>): string[] {
  const allow = Array.isArray(joinRules.allow) ? joinRules.allow : [];
  return allow.flatMap((entry: unknown) => {
    const condition = entry as { type?: unknown; room_id?: unknown };
    return condition?.type === 'm.room_membership' && typeof condition.room_id === 'string' ? [condition.room_id] : [];
  });
}

async function serverMayReach(reads: FederationReads, room: SpaceRoomState, origin: string): Promise<boolean> {
  if (room.content.get('m.room.history_visibility')?.history_visibility === 'world_readable') return true;
  const rule = room.content.get('m.room.join_rules')?.join_rule;
  if (rule === 'public' || rule === 'knock' || rule === 'knock_restricted' || rule === 'restricted') return true;
  return reads.hasJoinedMember(room.roomId, origin);
}

/** Joined, invited, allowed to join (public, or restricted with a room the user is in), knockable, or world readable. */
function maySee(room: WalkedRoom, viewer: HierarchyViewer): boolean {
  return mayPreview(room.chunk, room.allowedRoomIds, viewer.memberships.get(room.chunk.room_id), (roomId) => viewer.memberships.get(roomId) === 'join');
}

/**
 * Whether a user may see a room's summary before joining it: a member (joined, invited or
 * knocking), or the room is world readable, public, knockable, or restricted to a room the
 * user has joined (`joined`).
 */
export function mayPreview(chunk: PublicRoomsChunk, allowedRoomIds: readonly string[], membership: string | undefined, joined: (roomId: string) => boolean): boolean {
  if (membership === 'join' || membership === 'invite' || membership === 'knock') return true;
  if (chunk.world_readable) return true;
  const rule = chunk.join_rule;
  if (rule === 'public' || rule === 'knock' || rule === 'knock_restricted') return true;
  if (rule !== 'restricted') return false;
  return allowedRoomIds.some(joined);
}

/**
 * The children that count (a room id as state key, a non-empty `via`; with `suggestedOnly`,
 * `suggested: true`), in the spec's order: by `order` (valid ones first), then by the time of
 * the `m.space.child` event, then by room id.
 */
function validChildren(children: SpaceChild[], suggestedOnly: boolean): SpaceChild[] {
  const valid = children.filter(
    (child) =>
      isValidRoomId(child.state_key) &&
      Array.isArray(child.content.via) &&
      child.content.via.some((server) => typeof server === 'string') &&
      (!suggestedOnly || child.content.suggested === true),
  );
  const orderOf = (child: SpaceChild): string | undefined => {
    const order = child.content.order;
    return typeof order === 'string' && order.length <= 50 && /^[\x20-\x7e]*$/.test(order) ? order : undefined;
  };
  const compare = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
  return valid.sort((a, b) => {
    const oa = orderOf(a);
    const ob = orderOf(b);
    if (oa !== undefined && ob !== undefined && oa !== ob) return compare(oa, ob);
    if (oa !== undefined && ob === undefined) return -1;
    if (oa === undefined && ob !== undefined) return 1;
    return a.origin_server_ts - b.origin_server_ts || compare(a.state_key, b.state_key);
  });
}
