/**
 * Event relationships (client-server API, "Forming relationships between events"), read from
 * the sync projection's `events` table: an event relates to its parent through
 * `content["m.relates_to"]` (`rel_type`, `event_id`). Two indexes of that table serve them
 * (created with its other tables, so a rebuild makes them again): children by parent id and
 * position, and each room's thread replies by position.
 *
 * - Bundled aggregations (`unsigned["m.relations"]`) of served events: `m.replace` (the most
 *   recent valid edit, whole), `m.thread` (latest reply, count, whether the viewer took part)
 *   and `m.reference` (the ids of referencing events), read for a whole response at once.
 * - GET /rooms/{roomId}/relations/{eventId}[/{relType}[/{eventType}]] (optionally recursive).
 * - GET /rooms/{roomId}/threads, thread roots by latest activity.
 *
 * Only timeline events count (not soft-failed ones nor outliers), and a redacted relating
 * event drops out (its redacted content has no `m.relates_to` either). Edits are not applied
 * to the served event's content (spec v1.7 and later): clients apply the bundled edit.
 */
import { sql, type CommonQueryMethods } from 'slonik';
import { encodePaginationToken, FIRST_PAGINATION_POSITION, parsePaginationToken } from '@hs/contracts';
import type { JsonObject } from '@hs/protocol';
import type { ClientEvent } from './client-event';
import { SyncQueryError } from './errors';
import type { Direction, EventRow, SyncQueries, Viewer } from './sync.queries';
import { fromIgnored } from './sync.queries';
import type { RoomVisibility } from './visibility';

/** The parent id an event relates to (as the index computes it). */
const PARENT_ID = sql.fragment`(e.event -> 'content' -> 'm.relates_to' ->> 'event_id')`;
const REL_TYPE = sql.fragment`(e.event -> 'content' -> 'm.relates_to' ->> 'rel_type')`;

/** The indexes of the `events` table relations are read with (part of the projection's setup). */
export const RELATION_INDEXES = [
  sql.unsafe`
    CREATE INDEX events_relates_to ON events (((event -> 'content' -> 'm.relates_to' ->> 'event_id')), position)`,
  sql.unsafe`
    CREATE INDEX events_thread_replies ON events (room_id, position)
     WHERE (event -> 'content' -> 'm.relates_to' ->> 'rel_type') = 'm.thread'`,
];

/** Levels of relationships GET /relations follows with `recurse` (the spec asks for at least 3). */
export const RELATIONS_RECURSION_DEPTH = 3;
export const DEFAULT_RELATIONS_LIMIT = 50;
export const DEFAULT_THREADS_LIMIT = 20;
const MAX_LIMIT = 1000;
/** Rows read at least per page while skipping what the viewer may not see. */
const MIN_PAGE = 50;

export interface RelationsRequest {
  roomId: string;
  eventId: string;
  viewer: Viewer;
  relType?: string;
  eventType?: string;
  from?: string;
  to?: string;
  limit?: number;
  dir?: Direction;
  /** Undefined: not given (then `recursion_depth` is left out of the answer). */
  recurse?: boolean;
}

export interface RelationsResponse {
  chunk: ClientEvent[];
  next_batch?: string;
  prev_batch?: string;
  recursion_depth?: number;
}

export interface ThreadsRequest {
  roomId: string;
  viewer: Viewer;
  include?: 'all' | 'participated';
  from?: string;
  limit?: number;
}

export interface ThreadsResponse {
  chunk: ClientEvent[];
  next_batch?: string;
}

/** The relation an event's content declares (undefined: none, or not of the right shape). */
export function relationOf(content: JsonObject): { relType: string; eventId: string } | undefined {
  const relates = content['m.relates_to'];
  if (typeof relates !== 'object' || relates === null || Array.isArray(relates)) return undefined;
  const { rel_type: relType, event_id: eventId } = relates;
  if (typeof relType !== 'string' || typeof eventId !== 'string') return undefined;
  return { relType, eventId };
}

/**
 * Whether an edit may replace the event: only an event that is no state event and no edit
 * itself (the spec's validity rules for `m.replace`; the edit's side is checked in SQL).
 */
function replaceable(event: ClientEvent): boolean {
  return event.state_key === undefined && relationOf(event.content)?.relType !== 'm.replace';
}

interface AggregateRow {
  kind: 'm.thread' | 'm.replace' | 'm.reference';
  parent_id: string;
  event_id: string | null;
  latest: bigint | null;
  count: number;
  participated: boolean;
  ids: string[] | null;
}

const EVENT_COLUMNS = sql.fragment`e.position, e.event_id, e.room_id, e.type, e.sender, e.state_key, e.in_timeline, e.event,
  e.prev_content, e.prev_sender, e.replaces_state, e.redacted_because, e.txn_user, e.txn_device, e.txn_id, e.extra_unsigned`;

/**
 * Adds the bundled aggregations of `events` (client form, as served to `viewer`) to their
 * `unsigned["m.relations"]`, in two queries for all of them (one when none has children).
 * `upTo`: count only children at or below this position (what /sync's answer covers).
 * A thread's latest event comes with its own aggregations (its edit, references). An edit or
 * latest reply the viewer may not see is left out (with its aggregation).
 */
export async function bundleAggregations(
  queries: SyncQueries,
  conn: CommonQueryMethods,
  events: readonly ClientEvent[],
  viewer: Viewer,
  options: { upTo?: bigint; nested?: boolean } = {},
): Promise<void> {
  // Each event once in the query; every copy of it served gets the aggregations.
  const copies = new Map<string, ClientEvent[]>();
  for (const event of events) {
    if (event.unsigned === undefined || event.unsigned.redacted_because !== undefined) continue;
    copies.set(event.event_id, [...(copies.get(event.event_id) ?? []), event]);
  }
  const parents = [...copies.values()].map((list) => list[0]);
  if (parents.length === 0) return;
  const upTo = options.upTo !== undefined ? sql.fragment`AND e.position <= ${options.upTo}` : sql.fragment``;
  // The children are found by one index scan over every parent id (`related`), then matched to
  // their parents. Joined to the parents row by row with the same id list as a condition,
  // PostgreSQL prepared the list again for each parent: 9 s for a timeline of 2,060 events.
  const rows = (await conn.any(sql.unsafe`
    WITH parent AS (
      SELECT * FROM unnest(${sql.array(parents.map((e) => e.event_id), 'text')}::text[], ${sql.array(parents.map((e) => e.room_id), 'text')}::text[],
                           ${sql.array(parents.map((e) => e.sender), 'text')}::text[], ${sql.array(parents.map((e) => e.type), 'text')}::text[],
                           ${sql.array(parents.map(replaceable), 'bool')}::bool[]) AS p(event_id, room_id, sender, type, replaceable)
    ), related AS MATERIALIZED (
      SELECT e.position, e.event_id, e.room_id, e.sender, e.type, e.state_key, e.origin_server_ts, ${PARENT_ID} AS parent_id, ${REL_TYPE} AS rel_type,
             (e.event -> 'content' ? 'm.new_content') AS has_new_content
        FROM proj_sync.events e
       WHERE ${PARENT_ID} = ANY(${sql.array(parents.map((e) => e.event_id), 'text')}::text[])
         AND e.in_timeline AND e.redacted_because IS NULL ${upTo}
    ), child AS MATERIALIZED (
      SELECT r.*, p.sender AS parent_sender, p.type AS parent_type, p.replaceable
        FROM related r JOIN parent p ON p.event_id = r.parent_id AND p.room_id = r.room_id
    )
    SELECT 'm.thread' AS kind, parent_id, NULL AS event_id, max(position) AS latest, count(*)::int AS count,
           bool_or(sender = ${viewer.userId}) AS participated, NULL::text[] AS ids
      FROM child WHERE rel_type = 'm.thread' GROUP BY parent_id
    UNION ALL
    (SELECT DISTINCT ON (parent_id) 'm.replace', parent_id, event_id, NULL, 0, false, NULL
       FROM child
      WHERE rel_type = 'm.replace' AND replaceable AND sender = parent_sender AND type = parent_type AND state_key IS NULL
        AND (has_new_content OR type = 'm.room.encrypted')
      ORDER BY parent_id, origin_server_ts DESC, event_id DESC)
    UNION ALL
    SELECT 'm.reference', parent_id, NULL, NULL, count(*)::int, false, array_agg(event_id ORDER BY position)
      FROM child WHERE rel_type = 'm.reference' GROUP BY parent_id`)) as unknown as AggregateRow[];
  if (rows.length === 0) return;
  // The latest thread replies and the edits, read at once and served in full.
  const wanted = rows.filter((r) => r.kind !== 'm.reference');
  const read = (await conn.any(sql.unsafe`
    SELECT ${EVENT_COLUMNS} FROM proj_sync.events e
     WHERE e.event_id = ANY(${sql.array(wanted.filter((r) => r.event_id !== null).map((r) => r.event_id as string), 'text')}::text[])
        OR e.position = ANY(${sql.array(wanted.filter((r) => r.latest !== null).map((r) => String(r.latest)), 'int8')}::int8[])`)) as unknown as EventRow[];
  // An edit or latest reply the viewer may not see (e.g. sent after they left) is not served.
  const visibility = await queries.visibilities(conn, [...new Set(read.map((r) => r.room_id))], viewer.userId);
  const full = read.filter((r) => visibility.get(r.room_id)?.canSee(r) === true);
  const formatted = queries.formatAll(full, viewer);
  const byId = new Map(formatted.map((e) => [e.event_id, e]));
  const byPosition = new Map(full.map((r, i) => [String(r.position), formatted[i]]));
  const latest = rows.filter((r) => r.kind === 'm.thread').map((r) => byPosition.get(String(r.latest)));
  if (!options.nested) {
    await bundleAggregations(
      queries,
      conn,
      latest.filter((e): e is ClientEvent => e !== undefined),
      viewer,
      { ...options, nested: true },
    );
  }
  const aggregations = new Map<string, JsonObject>();
  for (const row of rows) {
    const parent = copies.get(row.parent_id)?.[0];
    if (!parent) continue;
    const relations = aggregations.get(row.parent_id) ?? {};
    if (row.kind === 'm.thread') {
      const event = byPosition.get(String(row.latest));
      if (!event) continue;
      relations['m.thread'] = {
        latest_event: event as unknown as JsonObject,
        count: row.count,
        current_user_participated: row.participated || parent.sender === viewer.userId,
      };
    } else if (row.kind === 'm.replace') {
      const event = row.event_id !== null ? byId.get(row.event_id) : undefined;
      if (!event) continue;
      relations['m.replace'] = event as unknown as JsonObject;
    } else {
      relations['m.reference'] = { chunk: (row.ids ?? []).map((id) => ({ event_id: id })) };
    }
    aggregations.set(row.parent_id, relations);
  }
  for (const [id, relations] of aggregations) {
    for (const event of copies.get(id) ?? []) if (event.unsigned) event.unsigned['m.relations'] = relations;
  }
}

function clampLimit(limit: number | undefined, fallback: number): number {
  if (limit === undefined) return fallback;
  if (!Number.isSafeInteger(limit) || limit < 1) throw new SyncQueryError('M_INVALID_PARAM', 'limit must be a positive integer');
  return Math.min(limit, MAX_LIMIT);
}

/** Pages through rows `read` returns (in order), keeping those `keep` accepts, until `limit` are kept or rows run out. */
async function pageVisible<T>(
  limit: number,
  read: (after: T | undefined, count: number) => Promise<T[]>,
  keep: (row: T) => boolean,
): Promise<{ rows: T[]; last: T | undefined; more: boolean }> {
  const out: T[] = [];
  let last: T | undefined;
  for (;;) {
    const want = Math.max(limit - out.length, MIN_PAGE);
    const page = await read(last, want);
    for (const row of page) {
      last = row;
      if (keep(row)) out.push(row);
      if (out.length === limit) return { rows: out, last, more: true };
    }
    if (page.length < want) return { rows: out, last, more: false };
  }
}

/** The parent event a user asks the relations of: M_NOT_FOUND unless held in the room's timeline and visible to the user. */
async function visibleParent(queries: SyncQueries, conn: CommonQueryMethods, roomId: string, eventId: string, userId: string): Promise<{ row: EventRow; visibility: RoomVisibility }> {
  const row = await queries.eventRow(conn, eventId);
  const visibility = await queries.visibility(conn, roomId, userId);
  if (!row || row.room_id !== roomId || !row.in_timeline || !visibility.canSee(row)) throw new SyncQueryError('M_NOT_FOUND', 'Event not found');
  return { row, visibility };
}

/** GET /_matrix/client/v1/rooms/{roomId}/relations/{eventId}[/{relType}[/{eventType}]]. */
export function relations(queries: SyncQueries, request: RelationsRequest): Promise<RelationsResponse> {
  const limit = clampLimit(request.limit, DEFAULT_RELATIONS_LIMIT);
  const dir = request.dir ?? 'b';
  const depth = request.recurse === true ? RELATIONS_RECURSION_DEPTH : 1;
  return queries.snapshot(async (conn) => {
    const { visibility } = await visibleParent(queries, conn, request.roomId, request.eventId, request.viewer.userId);
    const from =
      request.from !== undefined ? parsePaginationToken(request.from) : dir === 'b' ? await queries.position(conn) : FIRST_PAGINATION_POSITION;
    const to = request.to !== undefined ? parsePaginationToken(request.to) : undefined;
    const relType = request.relType !== undefined ? sql.fragment`AND ${REL_TYPE} = ${request.relType}` : sql.fragment``;
    const eventType = request.eventType !== undefined ? sql.fragment`AND e.type = ${request.eventType}` : sql.fragment``;
    const order = dir === 'b' ? sql.fragment`DESC` : sql.fragment`ASC`;
    const bound = (after: EventRow | undefined) => {
      const start = after === undefined ? from : dir === 'b' ? after.position - 1n : after.position;
      const upper = dir === 'b' ? sql.fragment`e.position <= ${start}` : sql.fragment`e.position > ${start}`;
      const stop = to === undefined ? sql.fragment`` : dir === 'b' ? sql.fragment`AND e.position > ${to}` : sql.fragment`AND e.position <= ${to}`;
      return sql.fragment`${upper} ${stop}`;
    };
    const read = async (after: EventRow | undefined, count: number): Promise<EventRow[]> => {
      const rows =
        depth === 1
          ? await conn.any(sql.unsafe`
              SELECT ${EVENT_COLUMNS} FROM proj_sync.events e
               WHERE ${PARENT_ID} = ${request.eventId} AND e.room_id = ${request.roomId} AND e.in_timeline AND e.redacted_because IS NULL
                 ${relType} ${eventType} AND ${bound(after)}
               ORDER BY e.position ${order} LIMIT ${count}`)
          : await conn.any(sql.unsafe`
              WITH RECURSIVE tree (event_id, depth) AS (
                SELECT ${request.eventId}::text, 0
                UNION
                SELECT e.event_id, tree.depth + 1 FROM tree JOIN proj_sync.events e ON ${PARENT_ID} = tree.event_id
                 WHERE tree.depth < ${depth} AND e.room_id = ${request.roomId} AND e.in_timeline AND e.redacted_because IS NULL ${relType}
              )
              SELECT ${EVENT_COLUMNS} FROM (SELECT DISTINCT event_id FROM tree WHERE depth > 0) t JOIN proj_sync.events e ON e.event_id = t.event_id
               WHERE ${bound(after)} ${eventType}
               ORDER BY e.position ${order} LIMIT ${count}`);
      return rows as unknown as EventRow[];
    };
    const { rows, last, more } = await pageVisible(limit, read, (row) => visibility.canSee(row) && !fromIgnored(row, request.viewer.ignored));
    const chunk = queries.formatAll(rows, request.viewer);
    await bundleAggregations(queries, conn, chunk, request.viewer);
    const response: RelationsResponse = { chunk };
    if (more && last !== undefined) response.next_batch = encodePaginationToken(dir === 'b' ? last.position - 1n : last.position);
    if (request.from !== undefined) response.prev_batch = request.from;
    if (request.recurse !== undefined) response.recursion_depth = depth;
    return response;
  });
}

const ROOT_COLUMNS = sql.fragment`root.position, root.event_id, root.room_id, root.type, root.sender, root.state_key, root.in_timeline,
  root.event, root.prev_content, root.prev_sender, root.replaces_state, root.redacted_because, root.txn_user, root.txn_device, root.txn_id,
  root.extra_unsigned`;

interface ThreadRow extends EventRow {
  latest: bigint;
}

/** GET /_matrix/client/v1/rooms/{roomId}/threads: thread roots by latest activity, most recent first. */
export function threads(queries: SyncQueries, request: ThreadsRequest): Promise<ThreadsResponse> {
  const limit = clampLimit(request.limit, DEFAULT_THREADS_LIMIT);
  const userId = request.viewer.userId;
  return queries.snapshot(async (conn) => {
    const visibility = await queries.visibility(conn, request.roomId, userId);
    if ((await queries.roomVersion(conn, request.roomId)) === null || (visibility.membershipNow() === undefined && !visibility.mayPeek())) {
      throw new SyncQueryError('M_FORBIDDEN', 'You are not a member of this room');
    }
    const from = request.from !== undefined ? parsePaginationToken(request.from) : undefined;
    const participated = request.include === 'participated' ? sql.fragment`AND (t.participated OR root.sender = ${userId})` : sql.fragment``;
    const read = async (after: ThreadRow | undefined, count: number): Promise<ThreadRow[]> => {
      const start = after !== undefined ? after.latest - 1n : from;
      const bound = start === undefined ? sql.fragment`` : sql.fragment`AND t.latest <= ${start}`;
      const rows = await conn.any(sql.unsafe`
        SELECT ${ROOT_COLUMNS}, t.latest
          FROM (SELECT ${PARENT_ID} AS root_id, max(e.position) AS latest, bool_or(e.sender = ${userId}) AS participated
                  FROM proj_sync.events e
                 WHERE e.room_id = ${request.roomId} AND ${REL_TYPE} = 'm.thread' AND e.in_timeline AND e.redacted_because IS NULL
                 GROUP BY 1) t
          JOIN proj_sync.events root ON root.event_id = t.root_id AND root.room_id = ${request.roomId} AND root.in_timeline
         WHERE true ${bound} ${participated}
         ORDER BY t.latest DESC LIMIT ${count}`);
      return rows as unknown as ThreadRow[];
    };
    const { rows, last, more } = await pageVisible(limit, read, (row) => visibility.canSee(row) && !fromIgnored(row, request.viewer.ignored));
    const chunk = queries.formatAll(rows, request.viewer);
    await bundleAggregations(queries, conn, chunk, request.viewer);
    const response: ThreadsResponse = { chunk };
    if (more && last !== undefined) response.next_batch = encodePaginationToken(last.latest - 1n);
    return response;
  });
}
