/**
 * The space hierarchy (client-server API, "Spaces": GET /_matrix/client/v1/rooms/{roomId}/hierarchy):
 * a depth-first walk over `m.space.child` state events from a room, through the rooms this
 * server holds, showing the rooms the user may see (joined, invited, allowed to join, knockable
 * or world readable). Pages are cut from the same walk: `next_batch` holds how many rooms came
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

/** One room of the answer: its summary and its `m.space.child` events. */
export interface HierarchyRoom extends PublicRoomsChunk {
  children_state: SpaceRoomState['children'];
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

const TOKEN = /^h(0|[1-9][0-9]{0,6})_([01])_(0|[1-9][0-9]?)$/;

export async function spaceHierarchy(reads: FederationReads, rootId: string, viewer: HierarchyViewer, request: HierarchyRequest): Promise<HierarchyPage> {
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
  const loaded = await reads.spaceRooms([rootId]);
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
    found.push({ ...publicRoomsChunkOf(room), children_state: children });
    if (depth >= request.maxDepth) continue;
    const next = children.map((child) => child.state_key).filter((id) => !seen.has(id));
    for (const [id, state] of await reads.spaceRooms(next)) loaded.set(id, state);
    for (const id of [...next].reverse()) {
      seen.add(id);
      stack.push({ roomId: id, depth: depth + 1 });
    }
  }
  const page: HierarchyPage = { rooms: found.slice(offset, offset + request.limit) };
  if (found.length > offset + request.limit) page.next_batch = `h${offset + request.limit}_${request.suggestedOnly ? 1 : 0}_${request.maxDepth}`;
  return page;
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
  const answer: FederationHierarchy = { room: { ...federationSummary(room), children_state: childrenState }, children: [], inaccessible_children: [] };
  for (const child of childrenState) {
    const childRoom = held.get(child.state_key);
    if (!childRoom) continue;
    if (await serverMayReach(reads, childRoom, origin)) answer.children.push(federationSummary(childRoom));
    else answer.inaccessible_children.push(child.state_key);
  }
  return answer;
}

function federationSummary(room: SpaceRoomState): FederationHierarchyRoom {
  const summary: FederationHierarchyRoom = publicRoomsChunkOf(room);
  const joinRules = room.content.get('m.room.join_rules') ?? {};
  if (joinRules.join_rule === 'restricted' || joinRules.join_rule === 'knock_restricted') summary.allowed_room_ids = allowedRooms(joinRules);
  return summary;
}

function allowedRooms(joinRules: Record<string, unknown>): string[] {
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
function maySee(room: SpaceRoomState, viewer: HierarchyViewer): boolean {
  if (viewer.memberships.has(room.roomId)) return true;
  if (room.content.get('m.room.history_visibility')?.history_visibility === 'world_readable') return true;
  const joinRules = room.content.get('m.room.join_rules') ?? {};
  const rule = joinRules.join_rule;
  if (rule === 'public' || rule === 'knock' || rule === 'knock_restricted') return true;
  if (rule !== 'restricted') return false;
  return allowedRooms(joinRules).some((allowed) => viewer.memberships.get(allowed) === 'join');
}

/**
 * The children that count (a room id as state key, a non-empty `via`; with `suggestedOnly`,
 * `suggested: true`), in the spec's order: by `order` (valid ones first), then by the time of
 * the `m.space.child` event, then by room id.
 */
function validChildren(children: SpaceRoomState['children'], suggestedOnly: boolean): SpaceRoomState['children'] {
  const valid = children.filter(
    (child) =>
      isValidRoomId(child.state_key) &&
      Array.isArray(child.content.via) &&
      child.content.via.some((server) => typeof server === 'string') &&
      (!suggestedOnly || child.content.suggested === true),
  );
  const orderOf = (child: SpaceRoomState['children'][number]): string | undefined => {
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
