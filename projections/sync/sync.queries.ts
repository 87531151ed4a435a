/**
 * Queries of the sync projection (through the views in `proj_sync`): timelines, state now and
 * at a position, members, joined rooms, single events and their context, /messages. Every
 * query that returns events to a user applies history visibility.
 */
import { sql, type CommonQueryMethods, type DatabasePool } from 'slonik';
import { readActive } from '@hs/eventstore';
import {
  encodePaginationPoint,
  encodeTopologicalToken,
  FIRST_PAGINATION_POSITION,
  parsePaginationPoint,
  parsePaginationToken,
  type PaginationPoint,
} from '@hs/contracts';
import type { JsonObject } from '@hs/protocol';
import type { ClientEvent, StrippedStateEvent } from './client-event';
import { SyncQueryError } from './errors';
import { eventMatches, filterCondition, type RoomEventFilter } from './filters';
import { SYNC_PROJECTION } from './names';
import { AdminVisibility, RoomVisibility, type ValueChange } from './visibility';

/** A row of the `events` view. */
export interface EventRow {
  position: bigint;
  event_id: string;
  room_id: string;
  type: string;
  sender: string;
  state_key: string | null;
  /** The PDU's depth: with `position`, the event's topological place (see the projector). */
  depth: bigint;
  in_timeline: boolean;
  event: ClientEvent;
  prev_content: JsonObject | null;
  prev_sender: string | null;
  replaces_state: string | null;
  redacted_because: ClientEvent | null;
  txn_user: string | null;
  txn_device: string | null;
  txn_id: string | null;
  extra_unsigned: JsonObject | null;
}

export interface MembershipRow {
  room_id: string;
  user_id: string;
  membership: string;
  event_id: string | null;
  position: bigint;
  stripped_state: StrippedStateEvent[] | null;
  forgotten: boolean;
}

/** Who is reading: `unsigned.transaction_id` is shown to the sending device only. */
export interface Viewer {
  userId: string;
  deviceId?: string;
  /** Users the viewer ignores: their events other than state events are left out of timelines. */
  ignored?: ReadonlySet<string>;
  /** A server admin reading through the admin API: sees every event and the current state, member or not. */
  admin?: boolean;
}

/** Whether a timeline event is left out for a viewer who ignores its sender (state events never are). */
export function fromIgnored(row: Pick<EventRow, 'sender' | 'state_key'>, ignored: ReadonlySet<string> | undefined): boolean {
  return ignored !== undefined && row.state_key === null && ignored.has(row.sender);
}

export type Direction = 'b' | 'f';

/** An event's place in a room's topological order: (depth, store position). */
export interface TopologicalKey {
  depth: bigint;
  position: bigint;
}

export interface MessagesRequest {
  roomId: string;
  viewer: Viewer;
  from?: string;
  to?: string;
  dir: Direction;
  limit?: number;
  filter?: RoomEventFilter;
}

export interface MessagesResponse {
  chunk: ClientEvent[];
  start: string;
  end?: string;
  state?: ClientEvent[];
}

export interface ContextResponse {
  event: ClientEvent;
  events_before: ClientEvent[];
  events_after: ClientEvent[];
  start: string;
  end: string;
  state: ClientEvent[];
}

export interface RoomSummary {
  'm.heroes'?: string[];
  'm.joined_member_count': number;
  'm.invited_member_count': number;
}

export interface JoinedMember {
  display_name?: string;
  avatar_url?: string;
}

/** Events looked at a time by `eventNearTimestamp`. */
const TIMESTAMP_CANDIDATES = 50;

const EVENT_COLUMNS = sql.fragment`e.position, e.event_id, e.room_id, e.type, e.sender, e.state_key, e.depth, e.in_timeline, e.event,
  e.prev_content, e.prev_sender, e.replaces_state, e.redacted_because, e.txn_user, e.txn_device, e.txn_id, e.extra_unsigned`;

export const DEFAULT_MESSAGES_LIMIT = 10;
export const MAX_LIMIT = 1000;

function clampLimit(limit: number | undefined, fallback: number): number {
  if (limit === undefined) return fallback;
  if (!Number.isSafeInteger(limit) || limit < 0) throw new SyncQueryError('M_INVALID_PARAM', 'limit must be a non-negative integer');
  return Math.min(limit, MAX_LIMIT);
}

export interface SyncQueriesOptions {
  /** Milliseconds since the epoch, for `unsigned.age`. */
  now?: () => number;
}

export class SyncQueries {
  readonly now: () => number;

  constructor(
    readonly pool: DatabasePool,
    options: SyncQueriesOptions = {},
  ) {
    this.now = options.now ?? Date.now;
  }

  /**
   * Runs `read` on one consistent snapshot of the read models (repeatable read). The
   * transaction is opened with its isolation level in one statement (one round trip). An
   * error of `read` (a client's 403 or 404 among them) is rethrown after the connection went
   * back to the pool: slonik closes a connection whose handler throws, and a new one costs
   * PostgreSQL a process.
   */
  async snapshot<T>(read: (conn: CommonQueryMethods) => Promise<T>): Promise<T> {
    const outcome = await this.pool.connect(async (conn): Promise<{ value: T } | { error: unknown }> => {
      await conn.query(sql.unsafe`START TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY`);
      let value: T;
      try {
        value = await read(conn);
      } catch (error) {
        await conn.query(sql.unsafe`ROLLBACK`);
        return { error };
      }
      await conn.query(sql.unsafe`COMMIT`);
      return { value };
    });
    if ('error' in outcome) throw outcome.error;
    return outcome.value;
  }

  /** Position up to which the sync projection has applied the store (its checkpoint). */
  async position(conn: CommonQueryMethods = this.pool): Promise<bigint> {
    return (await readActive(conn, SYNC_PROJECTION))?.checkpoint ?? 0n;
  }

  /** The client form of a stored event, with `unsigned` for this viewer. */
  format(row: EventRow, viewer: Viewer, now = this.now()): ClientEvent {
    const unsigned: JsonObject = { ...(row.extra_unsigned ?? {}) };
    if (unsigned.invite_room_state !== undefined && row.state_key !== viewer.userId) delete unsigned.invite_room_state;
    unsigned.age = Math.max(0, now - row.event.origin_server_ts);
    if (row.txn_id !== null && row.txn_user === viewer.userId && viewer.deviceId !== undefined && row.txn_device === viewer.deviceId) {
      unsigned.transaction_id = row.txn_id;
    }
    if (row.redacted_because) unsigned.redacted_because = row.redacted_because as unknown as JsonObject;
    if (row.replaces_state !== null) {
      unsigned.replaces_state = row.replaces_state;
      if (row.prev_content) unsigned.prev_content = row.prev_content;
      if (row.prev_sender !== null) unsigned.prev_sender = row.prev_sender;
    }
    return { ...row.event, unsigned };
  }

  formatAll(rows: readonly EventRow[], viewer: Viewer): ClientEvent[] {
    const now = this.now();
    return rows.map((r) => this.format(r, viewer, now));
  }

  async roomVersion(conn: CommonQueryMethods, roomId: string): Promise<string | null> {
    return (await conn.maybeOneFirst(sql.unsafe`SELECT room_version FROM proj_sync.rooms WHERE room_id = ${roomId}`)) as string | null;
  }

  /**
   * Timeline events of a room. Backwards: positions at or below `from` (and above `to`), newest
   * first. Forwards: positions above `from` (and at or below `to`), oldest first.
   */
  async timeline(
    conn: CommonQueryMethods,
    roomId: string,
    options: { from: bigint; to?: bigint; dir: Direction; limit: number; filter?: RoomEventFilter },
  ): Promise<EventRow[]> {
    const bound =
      options.dir === 'b'
        ? sql.fragment`e.position <= ${options.from}${options.to !== undefined ? sql.fragment` AND e.position > ${options.to}` : sql.fragment``}`
        : sql.fragment`e.position > ${options.from}${options.to !== undefined ? sql.fragment` AND e.position <= ${options.to}` : sql.fragment``}`;
    const order = options.dir === 'b' ? sql.fragment`DESC` : sql.fragment`ASC`;
    const rows = await conn.any(sql.unsafe`
      SELECT ${EVENT_COLUMNS} FROM proj_sync.events e
       WHERE e.room_id = ${roomId} AND e.in_timeline AND ${bound} AND ${filterCondition(options.filter)}
       ORDER BY e.position ${order} LIMIT ${options.limit}`);
    return rows as unknown as EventRow[];
  }

  /** The rows of the events held among `eventIds` (in no particular order). */
  async eventRows(conn: CommonQueryMethods, eventIds: readonly string[]): Promise<EventRow[]> {
    if (eventIds.length === 0) return [];
    const rows = await conn.any(sql.unsafe`SELECT ${EVENT_COLUMNS} FROM proj_sync.events e WHERE e.event_id = ANY(${sql.array([...eventIds], 'text')})`);
    return rows as unknown as EventRow[];
  }

  /**
   * Timeline events of a room in topological order, (depth, position). Backwards: at or below
   * `from` (and above `to`), newest first; forwards: above `from` (and at or below `to`), oldest
   * first. A stream point bounds the position alone (a token of /sync: the events at or below
   * it are those the client has not seen). `after`: where the previous page of the same scan
   * ended (strictly past it).
   */
  async topologicalTimeline(
    conn: CommonQueryMethods,
    roomId: string,
    options: { from: PaginationPoint; to?: PaginationPoint; after?: TopologicalKey; dir: Direction; limit: number; filter?: RoomEventFilter },
  ): Promise<EventRow[]> {
    const back = options.dir === 'b';
    const bounds = [
      pointBound(options.from, back ? '<=' : '>'),
      options.to === undefined ? sql.fragment`true` : pointBound(options.to, back ? '>' : '<='),
      options.after === undefined ? sql.fragment`true` : pointBound({ kind: 'topological', depth: options.after.depth, stream: options.after.position }, back ? '<=' : '>'),
    ];
    const order = back ? sql.fragment`DESC` : sql.fragment`ASC`;
    const rows = await conn.any(sql.unsafe`
      SELECT ${EVENT_COLUMNS} FROM proj_sync.events e
       WHERE e.room_id = ${roomId} AND e.in_timeline AND ${sql.join(bounds, sql.fragment` AND `)} AND ${filterCondition(options.filter)}
       ORDER BY e.depth ${order}, e.position ${order} LIMIT ${options.limit}`);
    return rows as unknown as EventRow[];
  }

  async eventRow(conn: CommonQueryMethods, eventId: string): Promise<EventRow | null> {
    const row = await conn.maybeOne(sql.unsafe`SELECT ${EVENT_COLUMNS} FROM proj_sync.events e WHERE e.event_id = ${eventId}`);
    return row as unknown as EventRow | null;
  }

  /** The room's current state (optionally only some types). */
  async currentState(conn: CommonQueryMethods, roomId: string, types?: readonly string[]): Promise<EventRow[]> {
    const only = types ? sql.fragment`AND c.type = ANY(${sql.array([...types], 'text')})` : sql.fragment``;
    const rows = await conn.any(sql.unsafe`
      SELECT ${EVENT_COLUMNS} FROM proj_sync.current_state c JOIN proj_sync.events e ON e.event_id = c.event_id
       WHERE c.room_id = ${roomId} ${only} ORDER BY c.type, c.state_key`);
    return rows as unknown as EventRow[];
  }

  /** One current state event. */
  async currentStateEvent(conn: CommonQueryMethods, roomId: string, type: string, stateKey: string): Promise<EventRow | null> {
    const row = await conn.maybeOne(sql.unsafe`
      SELECT ${EVENT_COLUMNS} FROM proj_sync.current_state c JOIN proj_sync.events e ON e.event_id = c.event_id
       WHERE c.room_id = ${roomId} AND c.type = ${type} AND c.state_key = ${stateKey}`);
    return row as unknown as EventRow | null;
  }

  /**
   * The room's state after the fact at `position` was applied. With `keys`, only those
   * (type, state_key) entries; with `types`, only those types. With `beforeNext`, the state
   * just before the event at `position + 1` (the first of a timeline that starts there): with
   * what that event's fact changed before the event itself (see `state_changes`).
   */
  async stateAt(
    conn: CommonQueryMethods,
    roomId: string,
    position: bigint,
    options: { types?: readonly string[]; keys?: readonly { type: string; state_key: string }[]; beforeNext?: boolean } = {},
  ): Promise<EventRow[]> {
    if (options.keys && options.keys.length === 0) return [];
    const typeFilter = options.types ? sql.fragment`AND s.type = ANY(${sql.array([...options.types], 'text')})` : sql.fragment``;
    const keyFilter = options.keys
      ? sql.fragment`AND (s.type, s.state_key) IN (SELECT * FROM unnest(${sql.array(
          options.keys.map((k) => k.type),
          'text',
        )}::text[], ${sql.array(
          options.keys.map((k) => k.state_key),
          'text',
        )}::text[]))`
      : sql.fragment``;
    const rows = await conn.any(sql.unsafe`
      SELECT ${EVENT_COLUMNS}
        FROM (SELECT DISTINCT ON (s.type, s.state_key) s.type, s.state_key, s.event_id
                FROM proj_sync.state_changes s
               WHERE s.room_id = ${roomId} AND ${upToCondition(position, options.beforeNext === true)} ${typeFilter} ${keyFilter}
               ORDER BY s.type, s.state_key, s.position DESC, s.before) latest
        JOIN proj_sync.events e ON e.event_id = latest.event_id
       ORDER BY latest.type, latest.state_key`);
    return rows as unknown as EventRow[];
  }

  /**
   * Every event row of the projection in (after, upTo], in position order, with the users
   * whose memberships changed and the rooms whose state changed in that range (in one query:
   * every change happens at an event's position, in its room).
   */
  async rangeBetween(
    conn: CommonQueryMethods,
    after: bigint,
    upTo: bigint,
  ): Promise<{ rows: EventRow[]; users: Set<string>; stateRooms: Set<string> }> {
    const users = new Set<string>();
    const stateRooms = new Set<string>();
    if (after >= upTo) return { rows: [], users, stateRooms };
    const found = (await conn.any(sql.unsafe`
      WITH ev AS MATERIALIZED (
        SELECT ${EVENT_COLUMNS} FROM proj_sync.events e WHERE e.position > ${after} AND e.position <= ${upTo}),
      changes AS MATERIALIZED (
        SELECT ARRAY(SELECT DISTINCT m.user_id FROM proj_sync.memberships m
                      WHERE m.room_id IN (SELECT room_id FROM ev) AND m.position > ${after} AND m.position <= ${upTo}) AS changed_users,
               ARRAY(SELECT DISTINCT s.room_id FROM proj_sync.state_changes s
                      WHERE s.room_id IN (SELECT room_id FROM ev) AND s.position > ${after} AND s.position <= ${upTo}) AS state_rooms)
      SELECT ev.*, changes.changed_users, changes.state_rooms FROM ev CROSS JOIN changes ORDER BY ev.position`)) as unknown as (EventRow & {
      changed_users: string[];
      state_rooms: string[];
    })[];
    const rows: EventRow[] = [];
    for (const { changed_users: _users, state_rooms: _rooms, ...row } of found) rows.push(row);
    if (found.length > 0) {
      for (const user of found[0].changed_users) users.add(user);
      for (const room of found[0].state_rooms) stateRooms.add(room);
    }
    return { rows, users, stateRooms };
  }

  /**
   * The (type, state_key) entries of a room that changed in (after, upTo]; with `beforeNext`,
   * also those the fact at `upTo + 1` changed before its event (see `stateAt`).
   */
  async stateKeysChanged(
    conn: CommonQueryMethods,
    roomId: string,
    after: bigint,
    upTo: bigint,
    beforeNext = false,
  ): Promise<{ type: string; state_key: string }[]> {
    const rows = await conn.any(sql.unsafe`
      SELECT DISTINCT type, state_key FROM proj_sync.state_changes s
       WHERE room_id = ${roomId} AND position > ${after} AND ${upToCondition(upTo, beforeNext)}`);
    return rows as unknown as { type: string; state_key: string }[];
  }

  /**
   * `membershipsOf` with, for each joined room, whether it has events or state changes in
   * (after, upTo], in the same query.
   */
  async membershipsWithActivity(
    conn: CommonQueryMethods,
    userId: string,
    after: bigint,
    upTo: bigint,
  ): Promise<{ memberships: MembershipRow[]; active: Set<string> }> {
    const rows = (await conn.any(sql.unsafe`
      SELECT m.room_id, m.user_id, m.membership, m.event_id, m.position, m.stripped_state, m.forgotten,
             (m.membership = 'join' AND ${after < upTo}::boolean AND (
               EXISTS (SELECT 1 FROM proj_sync.events e WHERE e.room_id = m.room_id AND e.position > ${after} AND e.position <= ${upTo})
               OR EXISTS (SELECT 1 FROM proj_sync.state_changes s WHERE s.room_id = m.room_id AND s.position > ${after} AND s.position <= ${upTo}))) AS active
        FROM proj_sync.memberships m WHERE m.user_id = ${userId} ORDER BY m.position`)) as unknown as (MembershipRow & { active: boolean })[];
    const active = new Set<string>();
    const memberships: MembershipRow[] = [];
    for (const { active: isActive, ...row } of rows) {
      if (isActive) active.add(row.room_id);
      memberships.push(row);
    }
    return { memberships, active };
  }

  /** Every membership row of a user (current membership of each room they have one in). */
  async membershipsOf(conn: CommonQueryMethods, userId: string): Promise<MembershipRow[]> {
    const rows = await conn.any(sql.unsafe`
      SELECT room_id, user_id, membership, event_id, position, stripped_state, forgotten
        FROM proj_sync.memberships WHERE user_id = ${userId} ORDER BY position`);
    return rows as unknown as MembershipRow[];
  }

  async membership(conn: CommonQueryMethods, roomId: string, userId: string): Promise<MembershipRow | null> {
    const row = await conn.maybeOne(sql.unsafe`
      SELECT room_id, user_id, membership, event_id, position, stripped_state, forgotten
        FROM proj_sync.memberships WHERE room_id = ${roomId} AND user_id = ${userId}`);
    return row as unknown as MembershipRow | null;
  }

  /** GET /joined_rooms: rooms the user is joined to. */
  async joinedRooms(conn: CommonQueryMethods, userId: string): Promise<string[]> {
    const rows = await conn.anyFirst(sql.unsafe`
      SELECT room_id FROM proj_sync.memberships WHERE user_id = ${userId} AND membership = 'join' ORDER BY room_id`);
    return rows as unknown as string[];
  }

  /**
   * Which of `userIds` are joined to a room the user is joined to (for presence; with
   * `invitedToo`, also those invited to one, for device lists). A long list (an initial sync's)
   * is not sent: every such user is read and the list kept to them.
   */
  async usersSharingRoomWith(conn: CommonQueryMethods, userId: string, userIds: readonly string[], invitedToo = false): Promise<Set<string>> {
    if (userIds.length === 0) return new Set();
    const few = userIds.length <= 1000;
    const among = few ? sql.fragment`AND theirs.user_id = ANY(${sql.array([...userIds], 'text')})` : sql.fragment``;
    const theirMembership = invitedToo ? sql.fragment`theirs.membership IN ('join', 'invite')` : sql.fragment`theirs.membership = 'join'`;
    const rows = (await conn.anyFirst(sql.unsafe`
      SELECT DISTINCT theirs.user_id
        FROM proj_sync.memberships mine
        JOIN proj_sync.memberships theirs ON theirs.room_id = mine.room_id AND ${theirMembership}
       WHERE mine.user_id = ${userId} AND mine.membership = 'join' ${among}`)) as unknown as string[];
    if (few) return new Set(rows);
    const wanted = new Set(userIds);
    return new Set(rows.filter((id) => wanted.has(id)));
  }

  /**
   * The last membership change of each user in the rooms `userId` has a membership of, after
   * `after` up to `upTo` (room-event positions): whose, in which room, and the membership it set.
   */
  async membershipChangesAround(conn: CommonQueryMethods, userId: string, after: bigint, upTo: bigint): Promise<{ roomId: string; userId: string; membership: string }[]> {
    const rows = (await conn.any(sql.unsafe`
      SELECT DISTINCT ON (e.room_id, e.state_key) e.room_id, e.state_key, e.event->'content'->>'membership' AS membership
        FROM proj_sync.events e
       WHERE e.position > ${after} AND e.position <= ${upTo} AND e.type = 'm.room.member' AND e.state_key IS NOT NULL
         AND e.room_id IN (SELECT room_id FROM proj_sync.memberships WHERE user_id = ${userId})
       ORDER BY e.room_id, e.state_key, e.position DESC`)) as unknown as { room_id: string; state_key: string; membership: string | null }[];
    return rows.map((row) => ({ roomId: row.room_id, userId: row.state_key, membership: row.membership ?? '' }));
  }

  /** The rooms each of the users is joined to (users joined to none are left out). */
  async joinedRoomsOf(conn: CommonQueryMethods, userIds: readonly string[]): Promise<Map<string, string[]>> {
    const out = new Map<string, string[]>();
    if (userIds.length === 0) return out;
    const rows = (await conn.any(sql.unsafe`
      SELECT user_id, room_id FROM proj_sync.memberships
       WHERE user_id = ANY(${sql.array([...userIds], 'text')}) AND membership = 'join'`)) as unknown as { user_id: string; room_id: string }[];
    for (const row of rows) out.set(row.user_id, [...(out.get(row.user_id) ?? []), row.room_id]);
    return out;
  }

  /** Users whose membership of the room is `join`. */
  async joinedUserIds(conn: CommonQueryMethods, roomId: string): Promise<string[]> {
    const rows = await conn.anyFirst(sql.unsafe`
      SELECT user_id FROM proj_sync.memberships WHERE room_id = ${roomId} AND membership = 'join' ORDER BY user_id`);
    return rows as unknown as string[];
  }

  /** GET /joined_members: joined users with their display names and avatars. */
  async joinedMembers(conn: CommonQueryMethods, roomId: string): Promise<Record<string, JoinedMember>> {
    const rows = (await conn.any(sql.unsafe`
      SELECT m.user_id, e.event FROM proj_sync.memberships m JOIN proj_sync.events e ON e.event_id = m.event_id
       WHERE m.room_id = ${roomId} AND m.membership = 'join' ORDER BY m.user_id`)) as unknown as { user_id: string; event: ClientEvent }[];
    const out: Record<string, JoinedMember> = {};
    for (const row of rows) {
      const member: JoinedMember = {};
      if (typeof row.event.content.displayname === 'string') member.display_name = row.event.content.displayname;
      if (typeof row.event.content.avatar_url === 'string') member.avatar_url = row.event.content.avatar_url;
      out[row.user_id] = member;
    }
    return out;
  }

  /**
   * The room summary of /sync: joined and invited member counts and, when the room has neither
   * a name nor a canonical alias, up to five other members to name it after (`m.heroes`).
   */
  async roomSummary(conn: CommonQueryMethods, roomId: string, userId: string): Promise<RoomSummary> {
    const counts = (await conn.one(sql.unsafe`
      SELECT count(*) FILTER (WHERE membership = 'join') AS joined, count(*) FILTER (WHERE membership = 'invite') AS invited
        FROM proj_sync.memberships WHERE room_id = ${roomId}`)) as unknown as { joined: bigint; invited: bigint };
    const summary: RoomSummary = {
      'm.joined_member_count': Number(counts.joined),
      'm.invited_member_count': Number(counts.invited),
    };
    const named = (await conn.anyFirst(sql.unsafe`
      SELECT e.event -> 'content' FROM proj_sync.current_state c JOIN proj_sync.events e ON e.event_id = c.event_id
       WHERE c.room_id = ${roomId} AND c.state_key = '' AND c.type IN ('m.room.name', 'm.room.canonical_alias')`)) as unknown as JsonObject[];
    const hasName = named.some((content) => (typeof content.name === 'string' && content.name !== '') || (typeof content.alias === 'string' && content.alias !== ''));
    if (!hasName) {
      const heroes = (await conn.anyFirst(sql.unsafe`
        SELECT user_id FROM proj_sync.memberships
         WHERE room_id = ${roomId} AND user_id <> ${userId} AND membership IN ('join', 'invite')
         ORDER BY position LIMIT 5`)) as unknown as string[];
      summary['m.heroes'] = heroes;
    }
    return summary;
  }

  /** Member events of a room, now or at a position, filtered by membership. */
  async members(
    conn: CommonQueryMethods,
    roomId: string,
    options: { at?: bigint; membership?: string; notMembership?: string } = {},
  ): Promise<EventRow[]> {
    const rows =
      options.at === undefined
        ? await this.currentState(conn, roomId, ['m.room.member'])
        : await this.stateAt(conn, roomId, options.at, { types: ['m.room.member'] });
    return rows.filter((r) => {
      const membership = r.event.content.membership;
      if (options.membership !== undefined && membership !== options.membership) return false;
      if (options.notMembership !== undefined && membership === options.notMembership) return false;
      return true;
    });
  }

  /** The history visibility of a room's events for a user. */
  async visibility(conn: CommonQueryMethods, roomId: string, userId: string): Promise<RoomVisibility> {
    return (await this.visibilities(conn, [roomId], userId)).get(roomId) ?? new RoomVisibility(userId, [], []);
  }

  /** `visibility` of several rooms in one query (room id -> its visibility for the user). */
  async visibilities(conn: CommonQueryMethods, roomIds: readonly string[], userId: string): Promise<Map<string, RoomVisibility>> {
    const out = new Map<string, RoomVisibility>();
    if (roomIds.length === 0) return out;
    const rows = (await conn.any(sql.unsafe`
      SELECT s.room_id, s.type, s.position, e.event -> 'content' AS content
        FROM proj_sync.state_changes s LEFT JOIN proj_sync.events e ON e.event_id = s.event_id
       WHERE s.room_id = ANY(${sql.array([...roomIds], 'text')})
         AND (s.state_key = ${userId} AND s.type = 'm.room.member' OR s.state_key = '' AND s.type = 'm.room.history_visibility')
       ORDER BY s.position, s.before DESC`)) as unknown as { room_id: string; type: string; position: bigint; content: JsonObject | null }[];
    const changes = new Map<string, { visibility: ValueChange[]; membership: ValueChange[] }>();
    for (const roomId of roomIds) changes.set(roomId, { visibility: [], membership: [] });
    for (const row of rows) {
      const room = changes.get(row.room_id);
      if (!room) continue;
      if (row.type === 'm.room.member') {
        const value = row.content?.membership;
        room.membership.push({ position: row.position, value: typeof value === 'string' ? value : 'leave' });
      } else {
        const value = row.content?.history_visibility;
        room.visibility.push({ position: row.position, value: typeof value === 'string' ? value : undefined });
      }
    }
    for (const [roomId, room] of changes) out.set(roomId, new RoomVisibility(userId, room.visibility, room.membership));
    return out;
  }

  /** Throws M_FORBIDDEN unless the user is or was in the room, or it is world readable. */
  private async requireAccess(conn: CommonQueryMethods, roomId: string, userId: string, admin = false): Promise<RoomVisibility> {
    if (admin) {
      if ((await this.roomVersion(conn, roomId)) === null) throw new SyncQueryError('M_NOT_FOUND', 'Unknown room');
      return new AdminVisibility(userId);
    }
    if ((await this.roomVersion(conn, roomId)) === null) {
      throw new SyncQueryError('M_FORBIDDEN', 'You are not a member of this room');
    }
    const visibility = await this.visibility(conn, roomId, userId);
    if (visibility.membershipNow() === undefined && !visibility.mayPeek()) {
      throw new SyncQueryError('M_FORBIDDEN', 'You are not a member of this room');
    }
    return visibility;
  }

  /**
   * Visible timeline events in one direction: pages through the timeline, dropping what the
   * user may not see, until `limit` events are found or the timeline ends. `next` is where the
   * scan stopped (undefined when the timeline is exhausted).
   *
   * With `currentStateVisible` (a member of the room now, who may read its current state), a
   * state event that is part of the room's current state is shown even where history
   * visibility hides it (e.g. a join that happened while the user was away from a room with
   * `joined` visibility): otherwise a client that replays the timeline over the state at its
   * start would miss a change to the state it is entitled to. It costs one query for a page
   * only when the page has hidden state events.
   */
  async visibleTimeline(
    conn: CommonQueryMethods,
    roomId: string,
    visibility: RoomVisibility,
    options: {
      from: bigint;
      to?: bigint;
      dir: Direction;
      limit: number;
      filter?: RoomEventFilter;
      ignored?: ReadonlySet<string>;
      currentStateVisible?: boolean;
    },
    /** Reads one page (default: `timeline` on `conn`); lets callers share pages between requests. */
    readPage: (page: { from: bigint; to?: bigint; dir: Direction; limit: number; filter?: RoomEventFilter }) => Promise<EventRow[]> = (page) =>
      this.timeline(conn, roomId, page),
  ): Promise<{ rows: EventRow[]; next: bigint | undefined }> {
    const { ignored, currentStateVisible, ...pageOptions } = options;
    return this.scanVisible(
      conn,
      roomId,
      visibility,
      { limit: options.limit, ignored, currentStateVisible },
      options.from,
      (from, limit) => readPage({ ...pageOptions, from, limit }),
      (row) => (options.dir === 'b' ? row.position - 1n : row.position),
    );
  }

  /**
   * `visibleTimeline` in topological order (see `topologicalTimeline`): `next` is the key past
   * the last event looked at, or undefined when the timeline is exhausted.
   */
  async visibleTopologicalTimeline(
    conn: CommonQueryMethods,
    roomId: string,
    visibility: RoomVisibility,
    options: { from: PaginationPoint; to?: PaginationPoint; dir: Direction; limit: number; filter?: RoomEventFilter; ignored?: ReadonlySet<string> },
  ): Promise<{ rows: EventRow[]; next: TopologicalKey | undefined }> {
    const { ignored, ...pageOptions } = options;
    return this.scanVisible<TopologicalKey | undefined>(
      conn,
      roomId,
      visibility,
      { limit: options.limit, ignored },
      undefined,
      (after, limit) => this.topologicalTimeline(conn, roomId, { ...pageOptions, after, limit }),
      (row) => ({ depth: row.depth, position: options.dir === 'b' ? row.position - 1n : row.position }),
    );
  }

  /**
   * Pages through a timeline from `start` (`readPage` reads up to `limit` events past a cursor,
   * `cursorAfter` is the cursor past an event), keeping the events the user may see (see
   * `visibleTimeline`) until `limit` are kept or the timeline ends.
   */
  private async scanVisible<C>(
    conn: CommonQueryMethods,
    roomId: string,
    visibility: RoomVisibility,
    options: { limit: number; ignored?: ReadonlySet<string>; currentStateVisible?: boolean },
    start: C,
    readPage: (cursor: C, limit: number) => Promise<EventRow[]>,
    cursorAfter: (row: EventRow) => C,
  ): Promise<{ rows: EventRow[]; next: C | undefined }> {
    const out: EventRow[] = [];
    let cursor = start;
    while (out.length < options.limit) {
      const size = Math.max(options.limit - out.length, 50);
      const page = await readPage(cursor, size);
      const hiddenState = options.currentStateVisible ? page.filter((r) => r.state_key !== null && !visibility.canSee(r)) : [];
      const current = hiddenState.length > 0 ? await this.inCurrentState(conn, roomId, hiddenState) : undefined;
      for (const row of page) {
        cursor = cursorAfter(row);
        if ((visibility.canSee(row) || current?.has(row.event_id)) && !fromIgnored(row, options.ignored)) out.push(row);
        if (out.length === options.limit) return { rows: out, next: cursor };
      }
      if (page.length < size) return { rows: out, next: undefined };
    }
    return { rows: out, next: cursor };
  }

  /** The ids of those of a room's state events that are part of its current state (looked up by key). */
  private async inCurrentState(conn: CommonQueryMethods, roomId: string, rows: readonly EventRow[]): Promise<Set<string>> {
    const found = (await conn.anyFirst(sql.unsafe`
      SELECT c.event_id FROM proj_sync.current_state c
       WHERE c.room_id = ${roomId}
         AND (c.type, c.state_key) IN (SELECT * FROM unnest(${sql.array(
           rows.map((r) => r.type),
           'text',
         )}::text[], ${sql.array(
           rows.map((r) => r.state_key ?? ''),
           'text',
         )}::text[]))`)) as unknown as string[];
    return new Set(found);
  }

  /**
   * GET /rooms/{roomId}/messages, in topological order (see `topologicalTimeline`). `end` is a
   * topological token; `from` and `to` may be tokens of /sync too.
   */
  async messages(request: MessagesRequest): Promise<MessagesResponse> {
    const limit = clampLimit(request.limit, DEFAULT_MESSAGES_LIMIT);
    return this.snapshot(async (conn) => {
      const visibility = await this.requireAccess(conn, request.roomId, request.viewer.userId, request.viewer.admin);
      const from: PaginationPoint =
        request.from !== undefined
          ? parsePaginationPoint(request.from)
          : { kind: 'stream', stream: request.dir === 'b' ? await this.position(conn) : FIRST_PAGINATION_POSITION };
      const to = request.to !== undefined ? parsePaginationPoint(request.to) : undefined;
      const { rows, next } = await this.visibleTopologicalTimeline(conn, request.roomId, visibility, {
        from,
        to,
        dir: request.dir,
        limit,
        filter: request.filter,
        ignored: request.viewer.ignored,
      });
      const response: MessagesResponse = {
        chunk: this.formatAll(rows, request.viewer),
        start: encodePaginationPoint(from),
      };
      // Forwards to the live end (`next` undefined): the client may continue from the last
      // event once more events arrive.
      const end = next ?? (request.dir === 'f' ? rows[rows.length - 1] : undefined);
      if (end !== undefined && rows.length > 0) response.end = encodeTopologicalToken(end.depth, end.position);
      if (request.filter?.lazy_load_members) {
        response.state = rows.length > 0 ? this.formatAll(await this.senderMembers(conn, request.roomId, rows), request.viewer) : [];
      }
      return response;
    });
  }

  /** Member events of the senders of `rows` (for lazy-loading clients), as of the latest of them in store order. */
  private async senderMembers(conn: CommonQueryMethods, roomId: string, rows: readonly EventRow[]): Promise<EventRow[]> {
    const senders = [...new Set(rows.map((r) => r.sender))];
    const latest = rows.reduce((a, b) => (b.position > a.position ? b : a));
    return this.stateAtEvent(conn, roomId, latest, { keys: senders.map((s) => ({ type: 'm.room.member', state_key: s })) });
  }

  /**
   * The room's state at an event of its timeline (`stateAt` its position). History fetched by
   * backfill is held below position 0, before any state the room holds: its state is the
   * earliest held.
   */
  private async stateAtEvent(conn: CommonQueryMethods, roomId: string, row: EventRow, options: Parameters<SyncQueries['stateAt']>[3] = {}): Promise<EventRow[]> {
    let position = row.position;
    if (position < 0n) {
      const first = (await conn.oneFirst(sql.unsafe`SELECT min(position) FROM proj_sync.state_changes WHERE room_id = ${roomId}`)) as bigint | null;
      if (first !== null) position = first;
    }
    return this.stateAt(conn, roomId, position, options);
  }

  /** GET /rooms/{roomId}/event/{eventId}: only if the user may see it. */
  async eventForUser(roomId: string, eventId: string, viewer: Viewer): Promise<ClientEvent> {
    return this.snapshot(async (conn) => {
      const row = await this.eventRow(conn, eventId);
      if (!row || row.room_id !== roomId || !row.in_timeline) throw new SyncQueryError('M_NOT_FOUND', 'Event not found');
      const visibility = await this.visibility(conn, roomId, viewer.userId);
      if (!visibility.canSee(row)) throw new SyncQueryError('M_NOT_FOUND', 'Event not found');
      return this.format(row, viewer);
    });
  }

  /**
   * GET /rooms/{roomId}/timestamp_to_event: the visible timeline event closest to `ts` in
   * direction `dir` (`f`: the first at or after it, `b`: the last at or before it), by
   * `origin_server_ts` then position. Candidates the user may not see are skipped, up to
   * {@link TIMESTAMP_CANDIDATES} at a time. M_FORBIDDEN when the user may not read the room,
   * M_NOT_FOUND when no such event is held.
   */
  async eventNearTimestamp(roomId: string, ts: number, dir: 'f' | 'b', viewer: Viewer): Promise<{ event_id: string; origin_server_ts: number }> {
    return this.snapshot(async (conn) => {
      const visibility = await this.requireAccess(conn, roomId, viewer.userId);
      const bound = dir === 'f' ? sql.fragment`e.origin_server_ts >= ${ts}` : sql.fragment`e.origin_server_ts <= ${ts}`;
      const order = dir === 'f' ? sql.fragment`ASC` : sql.fragment`DESC`;
      let after: { ts: string; position: bigint } | undefined;
      for (;;) {
        const past = after
          ? dir === 'f'
            ? sql.fragment`AND (e.origin_server_ts, e.position) > (${after.ts}::bigint, ${after.position})`
            : sql.fragment`AND (e.origin_server_ts, e.position) < (${after.ts}::bigint, ${after.position})`
          : sql.fragment``;
        const rows = (await conn.any(sql.unsafe`
          SELECT ${EVENT_COLUMNS}, e.origin_server_ts FROM proj_sync.events e
           WHERE e.room_id = ${roomId} AND e.in_timeline AND ${bound} ${past}
           ORDER BY e.origin_server_ts ${order}, e.position ${order} LIMIT ${TIMESTAMP_CANDIDATES}`)) as unknown as (EventRow & { origin_server_ts: string | number })[];
        const found = rows.find((row) => visibility.canSee(row));
        if (found) return { event_id: found.event_id, origin_server_ts: Number(found.origin_server_ts) };
        if (rows.length < TIMESTAMP_CANDIDATES) throw new SyncQueryError('M_NOT_FOUND', `No event found ${dir === 'f' ? 'at or after' : 'at or before'} ${ts}`);
        const last = rows[rows.length - 1];
        after = { ts: String(last.origin_server_ts), position: BigInt(last.position) };
      }
    });
  }

  /**
   * GET /rooms/{roomId}/context/{eventId}: the events before and after it in topological order
   * (see `topologicalTimeline`), with topological `start` and `end` tokens.
   */
  async context(roomId: string, eventId: string, viewer: Viewer, limit?: number, filter?: RoomEventFilter): Promise<ContextResponse> {
    const total = clampLimit(limit, DEFAULT_MESSAGES_LIMIT);
    return this.snapshot(async (conn) => {
      const visibility = await this.requireAccess(conn, roomId, viewer.userId);
      const row = await this.eventRow(conn, eventId);
      if (!row || row.room_id !== roomId || !row.in_timeline || !visibility.canSee(row)) {
        throw new SyncQueryError('M_NOT_FOUND', 'Event not found');
      }
      const beforeCount = Math.floor(total / 2);
      const afterCount = total - beforeCount;
      const at = (position: bigint): PaginationPoint => ({ kind: 'topological', depth: row.depth, stream: position });
      const options = { filter, ignored: viewer.ignored };
      const before = await this.visibleTopologicalTimeline(conn, roomId, visibility, { ...options, from: at(row.position - 1n), dir: 'b', limit: beforeCount });
      const after = await this.visibleTopologicalTimeline(conn, roomId, visibility, { ...options, from: at(row.position), dir: 'f', limit: afterCount });
      const last = after.rows[after.rows.length - 1] ?? row;
      const first = before.rows[before.rows.length - 1] ?? row;
      const all = [...before.rows, row, ...after.rows];
      const state = await this.stateAtEvent(
        conn,
        roomId,
        last,
        filter?.lazy_load_members ? { keys: [...new Set(all.map((r) => r.sender))].map((s) => ({ type: 'm.room.member', state_key: s })) } : {},
      );
      return {
        event: this.format(row, viewer),
        events_before: this.formatAll(before.rows, viewer),
        events_after: this.formatAll(after.rows, viewer),
        start: encodeTopologicalToken(first.depth, first.position - 1n),
        end: encodeTopologicalToken(last.depth, last.position),
        state: this.formatAll(state, viewer),
      };
    });
  }

  /**
   * The state a user may see: the current state while joined (or for a world-readable room),
   * otherwise the state as of their leaving (GET /rooms/{roomId}/state).
   */
  async roomStateForUser(roomId: string, viewer: Viewer): Promise<ClientEvent[]> {
    return this.snapshot(async (conn) => {
      const rows = viewer.admin ? await this.adminStateRows(conn, roomId) : await this.visibleStateRows(conn, roomId, viewer.userId);
      return this.formatAll(rows, viewer);
    });
  }

  /** GET /rooms/{roomId}/state/{eventType}/{stateKey}: the event (content is taken by the caller). */
  async stateEventForUser(roomId: string, type: string, stateKey: string, viewer: Viewer): Promise<ClientEvent> {
    return this.snapshot(async (conn) => {
      const rows = await this.visibleStateRows(conn, roomId, viewer.userId);
      const row = rows.find((r) => r.type === type && r.state_key === stateKey);
      if (!row) throw new SyncQueryError('M_NOT_FOUND', `No ${type} state event with state key ${JSON.stringify(stateKey)}`);
      return this.format(row, viewer);
    });
  }

  private async adminStateRows(conn: CommonQueryMethods, roomId: string): Promise<EventRow[]> {
    if ((await this.roomVersion(conn, roomId)) === null) throw new SyncQueryError('M_NOT_FOUND', 'Unknown room');
    return this.currentState(conn, roomId);
  }

  private async visibleStateRows(conn: CommonQueryMethods, roomId: string, userId: string): Promise<EventRow[]> {
    const membership = await this.membership(conn, roomId, userId);
    if (membership?.membership === 'join') return this.currentState(conn, roomId);
    const visibility = await this.visibility(conn, roomId, userId);
    if (visibility.mayPeek()) return this.currentState(conn, roomId);
    if (membership && (membership.membership === 'leave' || membership.membership === 'ban')) {
      const wasJoined = (await this.visibility(conn, roomId, userId)).canSee({
        position: membership.position,
        type: 'm.room.member',
        state_key: userId,
      });
      if (wasJoined) return this.stateAt(conn, roomId, membership.position);
    }
    throw new SyncQueryError('M_FORBIDDEN', 'You are not a member of this room');
  }

  /** GET /rooms/{roomId}/members (`at` a pagination or sync token). */
  async membersForUser(
    roomId: string,
    viewer: Viewer,
    options: { at?: string; membership?: string; notMembership?: string } = {},
  ): Promise<ClientEvent[]> {
    return this.snapshot(async (conn) => {
      const membership = await this.membership(conn, roomId, viewer.userId);
      const visibility = await this.visibility(conn, roomId, viewer.userId);
      let limit: bigint | undefined;
      if (membership?.membership !== 'join' && !visibility.mayPeek()) {
        if (!membership || (membership.membership !== 'leave' && membership.membership !== 'ban')) {
          throw new SyncQueryError('M_FORBIDDEN', 'You are not a member of this room');
        }
        // A former member sees the members as of their leaving.
        limit = membership.position;
      }
      let at = options.at !== undefined ? parsePaginationToken(options.at) : undefined;
      if (limit !== undefined && (at === undefined || at > limit)) at = limit;
      const rows = await this.members(conn, roomId, { at, membership: options.membership, notMembership: options.notMembership });
      return this.formatAll(rows, viewer);
    });
  }

  /** GET /rooms/{roomId}/joined_members (members of the room only). */
  async joinedMembersForUser(roomId: string, viewer: Viewer): Promise<Record<string, JoinedMember>> {
    return this.snapshot(async (conn) => {
      const membership = await this.membership(conn, roomId, viewer.userId);
      if (membership?.membership !== 'join') {
        const visibility = await this.visibility(conn, roomId, viewer.userId);
        if (!visibility.mayPeek()) throw new SyncQueryError('M_FORBIDDEN', 'You are not a member of this room');
      }
      return this.joinedMembers(conn, roomId);
    });
  }

  /** Filters state events in memory by an event filter's types and senders. */
  filterState(rows: readonly EventRow[], filter: RoomEventFilter | undefined): EventRow[] {
    return rows.filter((r) => eventMatches(r, filter));
  }
}

/** Events (alias `e`) at or below (`<=`) or above (`>`) a point: by (depth, position), or by position alone for a stream point. */
function pointBound(point: PaginationPoint, op: '<=' | '>') {
  if (point.kind === 'stream') return op === '<=' ? sql.fragment`e.position <= ${point.stream}` : sql.fragment`e.position > ${point.stream}`;
  const key = sql.fragment`(${point.depth}::bigint, ${point.stream}::bigint)`;
  return op === '<=' ? sql.fragment`(e.depth, e.position) <= ${key}` : sql.fragment`(e.depth, e.position) > ${key}`;
}

/** State changes (alias `s`) up to `position`; with `beforeNext`, and those before the event at `position + 1`. */
function upToCondition(position: bigint, beforeNext: boolean) {
  return beforeNext ? sql.fragment`(s.position <= ${position} OR (s.position = ${position + 1n} AND s.before))` : sql.fragment`s.position <= ${position}`;
}

/**
 * The `mxc://` URIs a room's events refer to (content `url`, `info.thumbnail_url`, and the
 * room avatar's `url`), each once: what an admin quarantines with the room's media.
 */
export async function mxcUrisInRoom(conn: CommonQueryMethods, roomId: string): Promise<string[]> {
  const rows = await conn.anyFirst(sql.unsafe`
    SELECT DISTINCT uri FROM (
      SELECT e.event->'content'->>'url' AS uri FROM proj_sync.events e WHERE e.room_id = ${roomId} AND e.contains_url
      UNION ALL
      SELECT e.event->'content'->'info'->>'thumbnail_url' FROM proj_sync.events e WHERE e.room_id = ${roomId} AND e.event->'content'->'info' ? 'thumbnail_url'
    ) u WHERE uri LIKE 'mxc://%' ORDER BY uri`);
  return rows as string[];
}
