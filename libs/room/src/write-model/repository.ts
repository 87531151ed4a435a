/** Reads of the write model: exact answers about rooms, events and state. */
import type { StateEntry } from '@hs/contracts';
import { ROOM_VERSIONS, roomVersion, stateKey, toRoomEvent, type Pdu, type PrevEventRef, type RoomEvent, type RoomVersionRules, type StateKey } from '@hs/protocol';
import { z } from 'zod';
import { int8, jsonText, sql, type CommonQueryMethods } from './sql';

/** An event as the write model holds it. */
/** An event's signed wire form with its room version. */
export interface WireEvent {
  eventId: string;
  roomVersion: string;
  pdu: Pdu;
}

export interface StoredEvent {
  event: RoomEvent;
  /** The signed wire form. */
  pdu: Pdu;
  streamRevision: bigint;
  streamPosition: bigint;
  rejected: boolean;
  softFailed: boolean;
  outlier: boolean;
  /** The state group after the event (undefined for rejected events and outliers). */
  stateGroup: string | undefined;
}

/** Where an event stands in the write model (see {@link WriteModelReader.eventPlaces}). */
export interface EventPlace {
  eventId: string;
  roomId: string;
  /** The state after the event; undefined for outliers and rejected events. */
  stateGroup: string | undefined;
  outlier: boolean;
  rejected: boolean;
  softFailed: boolean;
  depth: number;
}

/** What a command needs to know about a room to write into it. */
export interface RoomSnapshot {
  roomId: string;
  rules: RoomVersionRules;
  creator: string;
  /** Revision of the last record of the room stream. */
  revision: bigint;
  /** The current state, by (type, state_key). */
  state: Map<StateKey, RoomEvent>;
  /** The forward extremities, with their events (room versions 1-2 reference them with their hashes). */
  extremities: Extremity[];
}

export interface Extremity extends PrevEventRef {
  event: RoomEvent;
}

export interface RoomSummary {
  roomId: string;
  roomVersion: string;
  creator: string;
  published: boolean;
}

const roomRow = z.object({
  room_id: z.string(),
  room_version: z.string(),
  creator: z.string(),
  stream_revision: int8,
  published: z.boolean(),
});
const eventRow = z.object({
  event_id: z.string(),
  room_version: z.string(),
  pdu: jsonText,
  stream_revision: int8,
  stream_position: int8,
  rejected: z.boolean(),
  soft_failed: z.boolean(),
  outlier: z.boolean(),
  state_group: z.string().nullable(),
});
/** Room versions whose events do not list m.room.create in auth_events. */
const V12_CREATE_IMPLICIT = [...ROOM_VERSIONS.values()].filter((v) => v.roomIdFromCreateEvent).map((v) => v.id);

const pduRow = z.object({ event_id: z.string(), pdu: jsonText });
const versionedPduRow = z.object({ event_id: z.string(), room_version: z.string(), pdu: jsonText });

/** Rows checked and converted by their schema (the pool returns them as the driver parsed them). */
function parseAll<S extends z.ZodTypeAny>(schema: S, rows: readonly unknown[]): z.infer<S>[] {
  return rows.map((row) => schema.parse(row) as z.infer<S>);
}

function parseMaybe<S extends z.ZodTypeAny>(schema: S, row: unknown): z.infer<S> | undefined {
  return row === null || row === undefined ? undefined : (schema.parse(row) as z.infer<S>);
}
const placeRow = z.object({
  event_id: z.string(),
  room_id: z.string(),
  state_group: z.string().nullable(),
  outlier: z.boolean(),
  rejected: z.boolean(),
  soft_failed: z.boolean(),
  depth: int8,
});
const extremityRow = z.object({ event_id: z.string(), depth: int8, pdu: jsonText });
const entryRow = z.object({ type: z.string(), state_key: z.string(), event_id: z.string() });
const membershipRow = z.object({ room_id: z.string(), membership: z.string() });

export class WriteModelReader {
  constructor(private readonly db: CommonQueryMethods) {}

  async room(roomId: string, connection: CommonQueryMethods = this.db): Promise<RoomSummary | undefined> {
    const row = parseMaybe(roomRow, await connection.maybeOne(sql.type(roomRow)`
      SELECT room_id, room_version, creator, stream_revision, published FROM room.rooms WHERE room_id = ${roomId}`));
    return row ? { roomId: row.room_id, roomVersion: row.room_version, creator: row.creator, published: row.published } : undefined;
  }

  /** The room's version, current state and forward extremities; undefined for an unknown room. */
  async snapshot(roomId: string, connection: CommonQueryMethods = this.db): Promise<RoomSnapshot | undefined> {
    const row = parseMaybe(roomRow, await connection.maybeOne(sql.type(roomRow)`
      SELECT room_id, room_version, creator, stream_revision, published FROM room.rooms WHERE room_id = ${roomId}`));
    if (!row) return undefined;
    const rules = roomVersion(row.room_version);
    const stateRows = parseAll(pduRow, await connection.any(sql.type(pduRow)`
      SELECT e.event_id, e.pdu::text AS pdu FROM room.current_state cs JOIN room.events e ON e.event_id = cs.event_id
       WHERE cs.room_id = ${roomId}`));
    const state = new Map<StateKey, RoomEvent>();
    for (const r of stateRows) {
      const event = toRoomEvent(r.pdu as Pdu, rules, r.event_id);
      state.set(stateKey(event.type, event.state_key ?? ''), event);
    }
    const extremities = parseAll(extremityRow, await connection.any(sql.type(extremityRow)`
      SELECT e.event_id, e.depth, e.pdu::text AS pdu FROM room.forward_extremities fe JOIN room.events e ON e.event_id = fe.event_id
       WHERE fe.room_id = ${roomId}`));
    return {
      roomId,
      rules,
      creator: row.creator,
      revision: row.stream_revision,
      state,
      extremities: extremities.map((x) => ({
        eventId: x.event_id,
        depth: Number(x.depth),
        event: toRoomEvent(x.pdu as Pdu, rules, x.event_id),
      })),
    };
  }

  async event(eventId: string, connection: CommonQueryMethods = this.db): Promise<StoredEvent | undefined> {
    const row = parseMaybe(eventRow, await connection.maybeOne(sql.type(eventRow)`
      SELECT e.event_id, r.room_version, e.pdu::text AS pdu, e.stream_revision, e.stream_position, e.rejected, e.soft_failed,
             e.outlier, e.state_group
        FROM room.events e JOIN room.rooms r ON r.room_id = e.room_id WHERE e.event_id = ${eventId}`));
    if (!row) return undefined;
    const pdu = row.pdu as Pdu;
    return {
      event: toRoomEvent(pdu, row.room_version, row.event_id),
      pdu,
      streamRevision: row.stream_revision,
      streamPosition: row.stream_position,
      rejected: row.rejected,
      softFailed: row.soft_failed,
      outlier: row.outlier,
      stateGroup: row.state_group ?? undefined,
    };
  }

  /** The events with these ids that the write model holds (in no particular order). */
  async events(eventIds: readonly string[], connection: CommonQueryMethods = this.db): Promise<RoomEvent[]> {
    if (eventIds.length === 0) return [];
    const rows = parseAll(versionedPduRow, await connection.any(sql.type(versionedPduRow)`
      SELECT e.event_id, COALESCE(e.room_version, r.room_version) AS room_version, e.pdu::text AS pdu
        FROM room.events e LEFT JOIN room.rooms r ON r.room_id = e.room_id
       WHERE e.event_id = ANY(${sql.array([...eventIds], 'text')}) AND COALESCE(e.room_version, r.room_version) IS NOT NULL`));
    return rows.map((r) => toRoomEvent(r.pdu as Pdu, r.room_version, r.event_id));
  }

  /**
   * What the DAG path needs to know of events it may build on: their room, state group,
   * outcome flags and depth, for the ones of these ids the write model holds.
   */
  async eventPlaces(eventIds: readonly string[], connection: CommonQueryMethods = this.db): Promise<Map<string, EventPlace>> {
    const places = new Map<string, EventPlace>();
    if (eventIds.length === 0) return places;
    const rows = parseAll(placeRow, await connection.any(sql.type(placeRow)`
      SELECT event_id, room_id, state_group, outlier, rejected, soft_failed, depth FROM room.events
       WHERE event_id = ANY(${sql.array([...eventIds], 'text')})`));
    for (const r of rows) {
      places.set(r.event_id, {
        eventId: r.event_id,
        roomId: r.room_id,
        stateGroup: r.state_group ?? undefined,
        outlier: r.outlier,
        rejected: r.rejected,
        softFailed: r.soft_failed,
        depth: Number(r.depth),
      });
    }
    return places;
  }

  /**
   * Where the room's held history begins: prev events of its timeline events (neither outliers
   * nor rejected) that are not held in the timeline themselves, those of the shallowest events
   * first (at most `limit`). What /backfill is asked from.
   */
  async backwardExtremities(roomId: string, limit: number, connection: CommonQueryMethods = this.db): Promise<string[]> {
    const rows = await connection.anyFirst(sql.type(z.object({ prev: z.string() }))`
      SELECT prev FROM (
        SELECT p.prev, min(e.depth) AS depth
          FROM room.events e CROSS JOIN LATERAL unnest(e.prev_events) AS p(prev)
         WHERE e.room_id = ${roomId} AND NOT e.outlier AND NOT e.rejected
           AND NOT EXISTS (SELECT 1 FROM room.events x WHERE x.event_id = p.prev AND NOT x.outlier)
         GROUP BY p.prev) edges
       ORDER BY depth, prev LIMIT ${limit}`);
    return [...rows];
  }

  /** The state of a group as (type, state_key) -> event id. */
  async stateGroupMap(groupId: string, connection: CommonQueryMethods = this.db): Promise<Map<StateKey, string>> {
    const entries = await this.stateGroupEntries(groupId, connection);
    return new Map(entries.map((e) => [stateKey(e.type, e.state_key), e.event_id]));
  }

  /** The number of deltas between a group and the full map it rests on; undefined for an unknown group. */
  async stateGroupChainLength(groupId: string, connection: CommonQueryMethods = this.db): Promise<number | undefined> {
    const value = await connection.maybeOneFirst(sql.type(z.object({ chain_length: z.number() }))`
      SELECT chain_length FROM room.state_groups WHERE group_id = ${groupId}`);
    return value ?? undefined;
  }

  /** The room's current state group, if any. */
  async currentStateGroup(roomId: string, connection: CommonQueryMethods = this.db): Promise<string | undefined> {
    const value = await connection.maybeOneFirst(sql.type(z.object({ state_group: z.string().nullable() }))`
      SELECT state_group FROM room.rooms WHERE room_id = ${roomId}`);
    return value ?? undefined;
  }

  /** The ones of these rooms that are published in the room directory. */
  async publishedRooms(roomIds: readonly string[], connection: CommonQueryMethods = this.db): Promise<Set<string>> {
    if (roomIds.length === 0) return new Set();
    const rows = await connection.anyFirst(sql.type(z.object({ room_id: z.string() }))`
      SELECT room_id FROM room.rooms WHERE published AND room_id = ANY(${sql.array([...roomIds], 'text')})`);
    return new Set(rows.map((r) => String(r)));
  }

  /**
   * The signed wire form (PDU) of the events with these ids that the write model holds, with
   * their room version (in no particular order). Unredacted: the caller redacts.
   */
  async wireEvents(eventIds: readonly string[], connection: CommonQueryMethods = this.db): Promise<WireEvent[]> {
    if (eventIds.length === 0) return [];
    const rows = parseAll(versionedPduRow, await connection.any(sql.type(versionedPduRow)`
      SELECT e.event_id, r.room_version, e.pdu::text AS pdu FROM room.events e JOIN room.rooms r ON r.room_id = e.room_id
       WHERE e.event_id = ANY(${sql.array([...eventIds], 'text')})`));
    return rows.map((r) => ({ eventId: r.event_id, roomVersion: r.room_version, pdu: r.pdu as Pdu }));
  }

  /**
   * The auth chain of the given events: every event reachable through auth_events, the events
   * themselves excluded unless one is in another's chain. From room version 12, where
   * auth_events no longer list m.room.create, the room's create event is part of every chain.
   */
  async authChain(eventIds: readonly string[], connection: CommonQueryMethods = this.db): Promise<string[]> {
    if (eventIds.length === 0) return [];
    const rows = await connection.anyFirst(sql.type(z.object({ event_id: z.string() }))`
      WITH RECURSIVE chain (event_id) AS (
        SELECT unnest(auth_events) FROM room.events WHERE event_id = ANY(${sql.array([...eventIds], 'text')})
        UNION
        SELECT unnest(e.auth_events) FROM room.events e JOIN chain c ON e.event_id = c.event_id
      )
      SELECT event_id FROM chain
      UNION
      SELECT c.event_id FROM room.events e
        JOIN room.rooms r ON r.room_id = e.room_id
        JOIN room.events c ON c.room_id = e.room_id AND c.type = 'm.room.create' AND c.state_key = '' AND c.prev_events = '{}'
       WHERE e.event_id = ANY(${sql.array([...eventIds], 'text')}) AND r.room_version = ANY(${sql.array(V12_CREATE_IMPLICIT, 'text')})
         AND e.event_id <> c.event_id
      ORDER BY 1`);
    return [...rows];
  }

  /** The entries of a state group, following its deltas down to the full map it rests on. */
  async stateGroupEntries(groupId: string, connection: CommonQueryMethods = this.db): Promise<StateEntry[]> {
    const rows = await connection.any(sql.type(entryRow)`
      WITH RECURSIVE chain (group_id, prev_group, n) AS (
        SELECT group_id, prev_group, 0 FROM room.state_groups WHERE group_id = ${groupId}
        UNION ALL
        SELECT g.group_id, g.prev_group, c.n + 1 FROM room.state_groups g JOIN chain c ON g.group_id = c.prev_group
      ), latest AS (
        SELECT DISTINCT ON (e.type, e.state_key) e.type, e.state_key, e.event_id
          FROM chain c JOIN room.state_group_entries e ON e.group_id = c.group_id
         ORDER BY e.type, e.state_key, c.n ASC
      )
      SELECT type, state_key, event_id FROM latest WHERE event_id IS NOT NULL ORDER BY type, state_key`);
    return rows.map((r) => ({ type: r.type, state_key: r.state_key, event_id: r.event_id }));
  }

  /** The current state entries of a room. */
  async currentStateEntries(roomId: string, connection: CommonQueryMethods = this.db): Promise<StateEntry[]> {
    const rows = await connection.any(sql.type(entryRow)`
      SELECT type, state_key, event_id FROM room.current_state WHERE room_id = ${roomId} ORDER BY type, state_key`);
    return rows.map((r) => ({ type: r.type, state_key: r.state_key, event_id: r.event_id }));
  }

  /** The current state event of (type, state_key) in a room, if any. */
  async stateEvent(roomId: string, type: string, stateKey: string, connection: CommonQueryMethods = this.db): Promise<RoomEvent | undefined> {
    const row = parseMaybe(versionedPduRow, await connection.maybeOne(sql.type(versionedPduRow)`
      SELECT e.event_id, r.room_version, e.pdu::text AS pdu
        FROM room.current_state cs JOIN room.events e ON e.event_id = cs.event_id JOIN room.rooms r ON r.room_id = cs.room_id
       WHERE cs.room_id = ${roomId} AND cs.type = ${type} AND cs.state_key = ${stateKey}`));
    return row ? toRoomEvent(row.pdu as Pdu, row.room_version, row.event_id) : undefined;
  }

  /** The current state entry of (type, state_key), also in a room held only through an invite. */
  async currentStateEntry(roomId: string, type: string, key: string, connection: CommonQueryMethods = this.db): Promise<StateEntry | undefined> {
    const row = await connection.maybeOne(sql.type(entryRow)`
      SELECT type, state_key, event_id FROM room.current_state WHERE room_id = ${roomId} AND type = ${type} AND state_key = ${key}`);
    return row ? { type: row.type, state_key: row.state_key, event_id: row.event_id } : undefined;
  }

  /** The current m.room.member membership of a user in a room, if any. */
  async membership(roomId: string, userId: string, connection: CommonQueryMethods = this.db): Promise<string | undefined> {
    const value = await connection.maybeOneFirst(sql.type(z.object({ membership: z.string().nullable() }))`
      SELECT membership FROM room.current_state WHERE room_id = ${roomId} AND type = 'm.room.member' AND state_key = ${userId}`);
    return value ?? undefined;
  }

  /** The rooms where the user's current membership is one of `memberships` (all memberships when empty). */
  async roomsOfUser(userId: string, memberships: readonly string[] = [], connection: CommonQueryMethods = this.db): Promise<{ roomId: string; membership: string }[]> {
    const filter = memberships.length > 0 ? sql.fragment`AND membership = ANY(${sql.array([...memberships], 'text')})` : sql.fragment``;
    const rows = await connection.any(sql.type(membershipRow)`
      SELECT room_id, membership FROM room.current_state
       WHERE type = 'm.room.member' AND state_key = ${userId} AND membership IS NOT NULL ${filter}
       ORDER BY room_id`);
    return rows.map((r) => ({ roomId: r.room_id, membership: r.membership }));
  }

  async transaction(
    userId: string,
    deviceId: string,
    txnId: string,
    scope = '',
    connection: CommonQueryMethods = this.db,
  ): Promise<{ roomId: string; eventId: string } | undefined> {
    const row = await connection.maybeOne(sql.type(z.object({ room_id: z.string(), event_id: z.string() }))`
      SELECT room_id, event_id FROM room.client_transactions
       WHERE user_id = ${userId} AND device_id = ${deviceId} AND txn_id = ${txnId} AND scope = ${scope}`);
    return row ? { roomId: row.room_id, eventId: row.event_id } : undefined;
  }

  async alias(alias: string, connection: CommonQueryMethods = this.db): Promise<{ roomId: string; creator: string } | undefined> {
    const row = await connection.maybeOne(sql.type(z.object({ room_id: z.string(), creator: z.string() }))`
      SELECT room_id, creator FROM room.aliases WHERE alias = ${alias}`);
    return row ? { roomId: row.room_id, creator: row.creator } : undefined;
  }

  async aliasesOfRoom(roomId: string, connection: CommonQueryMethods = this.db): Promise<string[]> {
    const rows = await connection.anyFirst(sql.type(z.object({ alias: z.string() }))`
      SELECT alias FROM room.aliases WHERE room_id = ${roomId} ORDER BY alias`);
    return [...rows];
  }

  async isForgotten(userId: string, roomId: string, connection: CommonQueryMethods = this.db): Promise<boolean> {
    return connection.oneFirst(sql.type(z.object({ forgotten: z.boolean() }))`
      SELECT EXISTS (SELECT 1 FROM room.forgotten WHERE user_id = ${userId} AND room_id = ${roomId}) AS forgotten`);
  }
  /** Who blocked the room and when, if a server admin blocked it. */
  async blocked(roomId: string, connection: CommonQueryMethods = this.db): Promise<{ by: string; ts: number } | undefined> {
    const row = await connection.maybeOne(sql.type(z.object({ blocked_by: z.string(), blocked_ts: int8 }))`
      SELECT blocked_by, blocked_ts FROM room.blocked_rooms WHERE room_id = ${roomId}`);
    return row ? { by: row.blocked_by, ts: Number(row.blocked_ts) } : undefined;
  }

  /** Blocks the room (`block` given) or unblocks it; true when that changed anything. */
  async setBlocked(roomId: string, block: { by: string; ts: number } | undefined, connection: CommonQueryMethods = this.db): Promise<boolean> {
    const changed = block
      ? await connection.maybeOne(sql.unsafe`
          INSERT INTO room.blocked_rooms (room_id, blocked_by, blocked_ts) VALUES (${roomId}, ${block.by}, ${block.ts})
          ON CONFLICT (room_id) DO NOTHING RETURNING room_id`)
      : await connection.maybeOne(sql.unsafe`DELETE FROM room.blocked_rooms WHERE room_id = ${roomId} RETURNING room_id`);
    return changed !== null;
  }
}
