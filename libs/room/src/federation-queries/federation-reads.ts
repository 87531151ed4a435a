/**
 * Reads of the write model that only the federation queries need: walks of the event graph,
 * the state a room was in before an event, what a state says about one server, the servers in
 * a room and the published rooms with their summary state. Everything else comes from
 * {@link WriteModelReader}.
 */
import type { Pdu } from '@hs/protocol';
import { z } from 'zod';
import { int8, jsonText, sql, type CommonQueryMethods } from '../write-model/sql';
import { historyVisibilityOf, type ServerView } from './visibility';

/** An event met on a walk of prev_events. */
export interface WalkedEvent {
  eventId: string;
  roomVersion: string;
  pdu: Pdu;
  depth: number;
  streamRevision: bigint;
  /** The state after the event. */
  stateGroup: string;
}

export interface WalkOptions {
  roomId: string;
  /** The events the walk starts from (included when they qualify). */
  from: readonly string[];
  /** Events neither returned nor walked through. */
  exclude: readonly string[];
  /** Events of a lower depth are neither returned nor walked through. */
  minDepth: number;
  limit: number;
}

/** A published room with the state of its directory entry. */
export interface PublishedRoomState {
  roomId: string;
  joinedMembers: number;
  /** The content of the summary state events (state key ''), by type. */
  content: Map<string, Record<string, unknown>>;
}

/** The state event types a published room directory entry is built from. */
export const DIRECTORY_STATE_TYPES = [
  'm.room.create',
  'm.room.name',
  'm.room.topic',
  'm.room.canonical_alias',
  'm.room.avatar',
  'm.room.join_rules',
  'm.room.history_visibility',
  'm.room.guest_access',
] as const;

const walkedRow = z.object({
  event_id: z.string(),
  room_version: z.string(),
  pdu: jsonText,
  depth: int8,
  stream_revision: int8,
  state_group: z.string(),
});
const viewRow = z.object({
  group_id: z.string(),
  type: z.string(),
  membership: z.string().nullable(),
  visibility: z.string().nullable(),
});
const serverRow = z.object({ server: z.string(), members: int8 });
const publishedRow = z.object({ room_id: z.string(), joined: int8 });
const contentRow = z.object({ room_id: z.string(), type: z.string(), content: jsonText });
const spaceStateRow = z.object({ room_id: z.string(), type: z.string(), state_key: z.string(), sender: z.string(), content: jsonText, ts: z.string() });

/** Rows checked and converted by their schema (the pool returns them as the driver parsed them). */
function parseAll<S extends z.ZodTypeAny>(schema: S, rows: readonly unknown[]): z.infer<S>[] {
  return rows.map((row) => schema.parse(row) as z.infer<S>);
}

/** SQL: the server name of a user id column (everything after its first `:`). */
const serverOf = (column: string) => sql.fragment`substring(${sql.identifier(column.split('.'))} from position(':' in ${sql.identifier(column.split('.'))}) + 1)`;

const nearRow = z.object({ event_id: z.string(), ts: z.string(), position: z.string(), state_group: z.string() });

export class FederationReads {
  constructor(private readonly db: CommonQueryMethods) {}

  /**
   * The state group the room was in when the write side accepted the record at
   * `streamRevision`: the state after the latest earlier event that has one. Undefined before
   * the room's first event.
   */
  async groupBeforeRevision(roomId: string, streamRevision: bigint): Promise<string | undefined> {
    const group = await this.db.maybeOneFirst(sql.type(z.object({ state_group: z.string() }))`
      SELECT state_group FROM room.events
       WHERE room_id = ${roomId} AND stream_revision < ${streamRevision.toString()} AND state_group IS NOT NULL AND NOT rejected
       ORDER BY stream_revision DESC LIMIT 1`);
    return group ?? undefined;
  }

  /** For each state group: its history visibility and the memberships of `serverName`'s users in it. */
  async serverViews(groupIds: readonly string[], serverName: string): Promise<Map<string, ServerView>> {
    const views = new Map<string, { historyVisibility: ServerView['historyVisibility']; memberships: string[] }>();
    if (groupIds.length === 0) return views;
    for (const id of groupIds) views.set(id, { historyVisibility: 'shared', memberships: [] });
    const rows = parseAll(viewRow, await this.db.any(sql.type(viewRow)`
      WITH RECURSIVE chain (root, group_id, prev_group, n) AS (
        SELECT group_id, group_id, prev_group, 0 FROM room.state_groups WHERE group_id = ANY(${sql.array([...groupIds], 'text')})
        UNION ALL
        SELECT c.root, g.group_id, g.prev_group, c.n + 1 FROM room.state_groups g JOIN chain c ON g.group_id = c.prev_group
      ), hits AS MATERIALIZED (
        -- Each group of the chains is read once, however many of the asked groups rest on it.
        SELECT e.group_id, e.type, e.state_key, e.event_id FROM room.state_group_entries e
         WHERE e.group_id IN (SELECT group_id FROM chain)
           AND ((e.type = 'm.room.history_visibility' AND e.state_key = '')
                OR (e.type = 'm.room.member' AND ${serverOf('e.state_key')} = ${serverName}))
      ), latest AS (
        SELECT DISTINCT ON (c.root, h.type, h.state_key) c.root, h.type, h.event_id
          FROM chain c JOIN hits h ON h.group_id = c.group_id
         ORDER BY c.root, h.type, h.state_key, c.n ASC
      )
      SELECT l.root AS group_id, l.type, ev.pdu -> 'content' ->> 'membership' AS membership,
             ev.pdu -> 'content' ->> 'history_visibility' AS visibility
        FROM latest l JOIN room.events ev ON ev.event_id = l.event_id`));
    for (const row of rows) {
      const view = views.get(row.group_id);
      if (!view) continue;
      if (row.type === 'm.room.history_visibility') view.historyVisibility = historyVisibilityOf(row.visibility);
      else if (row.membership !== null) view.memberships.push(row.membership);
    }
    return views;
  }

  /** Whether one of `serverName`'s users is joined to the room in its current state. */
  async hasJoinedMember(roomId: string, serverName: string): Promise<boolean> {
    return this.db.exists(sql.unsafe`
      SELECT 1 FROM room.current_state
       WHERE room_id = ${roomId} AND type = 'm.room.member' AND membership = 'join' AND ${serverOf('state_key')} = ${serverName}`);
  }

  /** The servers with users joined to the room in its current state, with how many. */
  async joinedServers(roomId: string): Promise<{ serverName: string; members: number }[]> {
    const rows = parseAll(serverRow, await this.db.any(sql.type(serverRow)`
      SELECT ${serverOf('state_key')} AS server, count(*) AS members FROM room.current_state
       WHERE room_id = ${roomId} AND type = 'm.room.member' AND membership = 'join'
       GROUP BY 1 ORDER BY 2 DESC, 1`));
    return rows.map((r) => ({ serverName: r.server, members: Number(r.members) }));
  }

  /**
   * A breadth-first walk of prev_events from `from`, through events of the room only, at most
   * `limit` events. Rejected events and outliers are not part of the room's graph here and are
   * neither returned nor walked through. The events come in walk order (the starting events
   * first, then their prev events, and so on).
   */
  async walkPrevEvents(options: WalkOptions): Promise<WalkedEvent[]> {
    if (options.from.length === 0 || options.limit <= 0) return [];
    const { roomId, minDepth } = options;
    const exclude = sql.array([...options.exclude], 'text');
    const qualifies = sql.fragment`e.room_id = ${roomId} AND NOT e.rejected AND NOT e.outlier AND e.state_group IS NOT NULL
      AND e.depth >= ${minDepth} AND NOT (e.event_id = ANY(${exclude}))`;
    // A recursive CTE is evaluated only as far as the outer query reads it, so LIMIT ends the
    // walk; UNION drops events met twice, so every event is walked once.
    const rows = parseAll(walkedRow, await this.db.any(sql.type(walkedRow)`
      WITH RECURSIVE walk (event_id, prev_events) AS (
        SELECT e.event_id, e.prev_events FROM room.events e WHERE e.event_id = ANY(${sql.array([...options.from], 'text')}) AND ${qualifies}
        UNION
        SELECT e.event_id, e.prev_events FROM walk w CROSS JOIN LATERAL unnest(w.prev_events) AS p (event_id)
          JOIN room.events e ON e.event_id = p.event_id
         WHERE ${qualifies}
      ), chosen AS (
        SELECT event_id, row_number() OVER () AS n FROM (SELECT event_id FROM walk LIMIT ${options.limit}) w
      )
      SELECT e.event_id, r.room_version, e.pdu::text AS pdu, e.depth, e.stream_revision, e.state_group
        FROM chosen c JOIN room.events e ON e.event_id = c.event_id JOIN room.rooms r ON r.room_id = e.room_id
       ORDER BY c.n`));
    return rows.map((r) => ({
      eventId: r.event_id,
      roomVersion: r.room_version,
      pdu: r.pdu as Pdu,
      depth: Number(r.depth),
      streamRevision: r.stream_revision,
      stateGroup: r.state_group,
    }));
  }

  /** The rooms published in this server's room directory, with their joined members and summary state. */
  async publishedRooms(): Promise<PublishedRoomState[]> {
    const rooms = parseAll(publishedRow, await this.db.any(sql.type(publishedRow)`
      SELECT r.room_id,
             (SELECT count(*) FROM room.current_state m
               WHERE m.room_id = r.room_id AND m.type = 'm.room.member' AND m.membership = 'join') AS joined
        FROM room.rooms r WHERE r.published ORDER BY r.room_id`));
    if (rooms.length === 0) return [];
    const contents = parseAll(contentRow, await this.db.any(sql.type(contentRow)`
      SELECT cs.room_id, cs.type, (e.pdu -> 'content')::text AS content
        FROM room.rooms r JOIN room.current_state cs ON cs.room_id = r.room_id JOIN room.events e ON e.event_id = cs.event_id
       WHERE r.published AND cs.state_key = '' AND cs.type = ANY(${sql.array([...DIRECTORY_STATE_TYPES], 'text')})`));
    const byRoom = new Map<string, PublishedRoomState>(
      rooms.map((r) => [r.room_id, { roomId: r.room_id, joinedMembers: Number(r.joined), content: new Map() }]),
    );
    for (const row of contents) {
      const content = row.content;
      if (typeof content === 'object' && content !== null && !Array.isArray(content)) {
        byRoom.get(row.room_id)?.content.set(row.type, content as Record<string, unknown>);
      }
    }
    return [...byRoom.values()];
  }

  /**
   * Timeline events of the room (not outliers, rejected or soft-failed) from `ts` in direction
   * `dir` (`f`: at or after it, ascending; `b`: at or before it, descending), by
   * `origin_server_ts` then stream position, strictly past `after` when given.
   */
  async eventsNearTimestamp(
    roomId: string,
    ts: number,
    dir: 'f' | 'b',
    limit: number,
    after?: { ts: number; position: string },
  ): Promise<{ eventId: string; ts: number; position: string; stateGroup: string }[]> {
    const eventTs = sql.fragment`(e.pdu ->> 'origin_server_ts')::bigint`;
    const bound = dir === 'f' ? sql.fragment`${eventTs} >= ${ts}` : sql.fragment`${eventTs} <= ${ts}`;
    const past = after
      ? dir === 'f'
        ? sql.fragment`AND (${eventTs}, e.stream_position) > (${after.ts}::bigint, ${after.position}::bigint)`
        : sql.fragment`AND (${eventTs}, e.stream_position) < (${after.ts}::bigint, ${after.position}::bigint)`
      : sql.fragment``;
    const order = dir === 'f' ? sql.fragment`ASC` : sql.fragment`DESC`;
    const rows = parseAll(nearRow, await this.db.any(sql.type(nearRow)`
      SELECT e.event_id, ${eventTs}::text AS ts, e.stream_position::text AS position, e.state_group
        FROM room.events e
       WHERE e.room_id = ${roomId} AND NOT e.outlier AND NOT e.rejected AND NOT e.soft_failed AND e.state_group IS NOT NULL
         AND jsonb_typeof(e.pdu -> 'origin_server_ts') = 'number' AND ${bound} ${past}
       ORDER BY ${eventTs} ${order}, e.stream_position ${order} LIMIT ${limit}`));
    return rows.map((row) => ({ eventId: row.event_id, ts: Number(row.ts), position: row.position, stateGroup: row.state_group }));
  }

  /**
   * Of these rooms, those held with state (not only through an invite), each with its joined
   * member count, the content of its summary state events and its `m.space.child` events
   * (`state_key`, `sender`, `content`, `origin_server_ts`), for the space hierarchy and room summaries (with `m.room.encryption`).
   */
  async spaceRooms(roomIds: readonly string[]): Promise<Map<string, SpaceRoomState>> {
    const result = new Map<string, SpaceRoomState>();
    if (roomIds.length === 0) return result;
    const ids = sql.array([...roomIds], 'text');
    const rooms = parseAll(publishedRow, await this.db.any(sql.type(publishedRow)`
      SELECT r.room_id,
             (SELECT count(*) FROM room.current_state m
               WHERE m.room_id = r.room_id AND m.type = 'm.room.member' AND m.membership = 'join') AS joined
        FROM room.rooms r
       WHERE r.room_id = ANY(${ids}) AND EXISTS (SELECT 1 FROM room.current_state c WHERE c.room_id = r.room_id AND c.type = 'm.room.create')`));
    for (const r of rooms) result.set(r.room_id, { roomId: r.room_id, joinedMembers: Number(r.joined), content: new Map(), children: [] });
    if (result.size === 0) return result;
    const rows = parseAll(spaceStateRow, await this.db.any(sql.type(spaceStateRow)`
      SELECT cs.room_id, cs.type, cs.state_key, e.sender, (e.pdu -> 'content')::text AS content,
             CASE WHEN jsonb_typeof(e.pdu -> 'origin_server_ts') = 'number' THEN (e.pdu ->> 'origin_server_ts')::bigint ELSE 0 END::text AS ts
        FROM room.current_state cs JOIN room.events e ON e.event_id = cs.event_id
       WHERE cs.room_id = ANY(${sql.array([...result.keys()], 'text')})
         AND ((cs.state_key = '' AND cs.type = ANY(${sql.array([...DIRECTORY_STATE_TYPES, 'm.room.encryption'], 'text')})) OR cs.type = 'm.space.child')`));
    for (const row of rows) {
      const room = result.get(row.room_id);
      const content = row.content;
      if (!room || typeof content !== 'object' || content === null || Array.isArray(content)) continue;
      if (row.type === 'm.space.child') {
        room.children.push({ type: 'm.space.child', state_key: row.state_key, sender: row.sender, content: content as Record<string, unknown>, origin_server_ts: Number(row.ts) });
      } else room.content.set(row.type, content as Record<string, unknown>);
    }
    return result;
  }
}

/** A room as the space hierarchy shows it. */
export interface SpaceRoomState extends PublishedRoomState {
  /** Its `m.space.child` events as stripped state with their time. */
  children: { type: 'm.space.child'; state_key: string; sender: string; content: Record<string, unknown>; origin_server_ts: number }[];
}
