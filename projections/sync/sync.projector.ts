/**
 * The sync projection: what /sync, /messages, /context, /state and /members read.
 *
 * Tables (one schema per generation; queries read the views in `proj_sync`):
 * - `events`: every accepted event in client format, ordered by its store position; the
 *   timeline is the rows with `in_timeline` (neither soft-failed nor outliers). A redacted
 *   event holds its redacted form and `redacted_because`. `depth` is the PDU's: /messages and
 *   /context order a room's timeline by (depth, position), its DAG order, which differs from
 *   store order for events received late (a healed split, a gap filled) or backfilled.
 * - `state_changes`: each change of a room's current state at the position of the fact that
 *   made it (`event_id` null when an entry left the state in a state reset), so the state at
 *   any position can be read back. A fact's changes other than its own event's entry (the
 *   room's whole state brought by a join through another server, what state resolution changed
 *   where branches of the room meet, entries a reset removed) are the state *before* the event
 *   and have `before` set: /sync shows them as the state at the start of a timeline that begins
 *   with the event.
 *   Events fetched from another server with /backfill (older than what the room held) have
 *   their store position negated, so that history pages back below everything else.
 * - `current_state`: the room's state now.
 * - `memberships`: each user's current membership of each room, with the position at which it
 *   took its current value (a later member event that keeps the membership, such as a display
 *   name change, moves `event_id` but not `position`) and, for invites and knocks, the
 *   stripped state shown to the user.
 * - `pending_redactions`: redactions whose target has not arrived yet.
 * Relations between events are read from `events` through two indexes (see `relations.ts`).
 */
import { sql, type DatabaseTransactionConnection, type IdentifierSqlToken } from 'slonik';
import { searchPathTable, writeResult, type BatchStatement, type GenerationTable, type Projector, type RecordedEvent } from '@hs/eventstore';
import {
  ROOM_EVENT_ACCEPTED,
  ROOM_FORGOTTEN,
  ROOM_PURGED,
  type RoomEventAccepted,
  type RoomForgotten,
  type RoomPurged,
  type StateEntry,
} from '@hs/contracts';
import { redactedContent, roomVersion, STRIPPED_STATE_TYPES, type JsonObject, type JsonValue } from '@hs/protocol';
import { clientEventOf, containsUrl, isJsonObject, strippedStateOf, type ClientEvent, type StrippedStateEvent } from './client-event';
import { SYNC_PROJECTION } from './names';
import { RELATION_INDEXES } from './relations';
import type { EventRow } from './sync.queries';

export { SYNC_PROJECTION };

export const SYNC_TABLES = ['rooms', 'events', 'state_changes', 'current_state', 'memberships', 'pending_redactions'] as const;

/**
 * What the statement of a plain batch writes (`BatchStatement.written`): its event rows as
 * a read of `proj_sync.events` over the batch's range returns them. No membership and no
 * state changes: a plain batch has none.
 */
export class PlainEventRows {
  constructor(readonly rows: readonly EventRow[]) {}
}

/** The event rows a sync batch statement reported writing, if `written` is such a report. */
export function writtenEventRows(written: unknown): readonly EventRow[] | undefined {
  return written instanceof PlainEventRows ? written.rows : undefined;
}

/** How `handle` merges a plain event with a stored row of the same event id. */
const PLAIN_MERGE = sql.fragment`ON CONFLICT (event_id) DO UPDATE SET position = EXCLUDED.position, in_timeline = true
  WHERE events.in_timeline = false AND EXCLUDED.in_timeline`;

/** A plain event with its client form serialised once (for the insert and the written rows). */
interface PlainEvent {
  position: bigint;
  fact: RoomEventAccepted;
  event: ClientEvent;
  eventJson: string;
  unsignedJson: string | null;
}

function plainEvent(position: bigint, fact: RoomEventAccepted): PlainEvent {
  const event = clientEventOf(fact.pdu, fact.event_id, fact.room_id, fact.room_version);
  return { position, fact, event, eventJson: JSON.stringify(event), unsignedJson: fact.unsigned ? JSON.stringify(fact.unsigned) : null };
}

const SETUP = [
  sql.unsafe`
    CREATE TABLE rooms (
      room_id text PRIMARY KEY,
      room_version text NOT NULL
    )`,
  sql.unsafe`
    CREATE TABLE events (
      position bigint PRIMARY KEY,
      event_id text NOT NULL UNIQUE,
      room_id text NOT NULL,
      type text NOT NULL,
      sender text NOT NULL,
      state_key text,
      origin_server_ts bigint NOT NULL,
      depth bigint NOT NULL,
      in_timeline boolean NOT NULL,
      contains_url boolean NOT NULL,
      event jsonb NOT NULL,
      prev_content jsonb,
      prev_sender text,
      replaces_state text,
      redacted_because jsonb,
      txn_user text,
      txn_device text,
      txn_id text,
      extra_unsigned jsonb
    )`,
  sql.unsafe`
    CREATE INDEX events_timeline ON events (room_id, position) WHERE in_timeline`,
  sql.unsafe`
    CREATE INDEX events_topological ON events (room_id, depth, position) WHERE in_timeline`,
  sql.unsafe`
    CREATE TABLE state_changes (
      room_id text NOT NULL,
      type text NOT NULL,
      state_key text NOT NULL,
      position bigint NOT NULL,
      event_id text,
      before boolean NOT NULL DEFAULT false,
      PRIMARY KEY (room_id, type, state_key, position, before)
    )`,
  sql.unsafe`
    CREATE INDEX state_changes_by_position ON state_changes (room_id, position)`,
  sql.unsafe`
    CREATE TABLE current_state (
      room_id text NOT NULL,
      type text NOT NULL,
      state_key text NOT NULL,
      event_id text NOT NULL,
      position bigint NOT NULL,
      PRIMARY KEY (room_id, type, state_key)
    )`,
  sql.unsafe`
    CREATE TABLE memberships (
      room_id text NOT NULL,
      user_id text NOT NULL,
      membership text NOT NULL,
      event_id text,
      position bigint NOT NULL,
      stripped_state jsonb,
      forgotten boolean NOT NULL DEFAULT false,
      PRIMARY KEY (room_id, user_id)
    )`,
  sql.unsafe`
    CREATE INDEX memberships_by_user ON memberships (user_id, membership)`,
  sql.unsafe`
    CREATE TABLE pending_redactions (
      target_id text NOT NULL,
      redaction_id text NOT NULL,
      PRIMARY KEY (target_id, redaction_id)
    )`,
  ...RELATION_INDEXES,
];

const EVENT_INSERT_COLUMNS = sql.fragment`position, event_id, room_id, type, sender, state_key, origin_server_ts, depth, in_timeline,
  contains_url, event, prev_content, prev_sender, replaces_state, txn_user, txn_device, txn_id, extra_unsigned`;

interface StoredEventRow {
  position: bigint;
  event_id: string;
  room_id: string;
  sender: string;
  type: string;
  event: ClientEvent;
  in_timeline: boolean;
  redacted_because: ClientEvent | null;
}

/** What one batch has learnt, to spare queries (never kept across batches or generations). */
interface BatchContext {
  /** Event ids some redaction waits for. */
  pendingTargets: Set<string>;
}

function isAccepted(data: unknown): data is RoomEventAccepted {
  const d = data as Partial<RoomEventAccepted> | null;
  return !!d && d.v === 1 && typeof d.event_id === 'string' && typeof d.room_id === 'string' && !!d.pdu;
}

function isForgotten(data: unknown): data is RoomForgotten {
  const d = data as Partial<RoomForgotten> | null;
  return !!d && d.v === 1 && typeof d.room_id === 'string' && typeof d.user_id === 'string';
}

function isPurged(data: unknown): data is RoomPurged {
  const d = data as Partial<RoomPurged> | null;
  return !!d && d.v === 1 && typeof d.room_id === 'string';
}

export class SyncProjector implements Projector {
  readonly name = SYNC_PROJECTION;
  readonly version = 4;
  readonly eventTypes = [ROOM_EVENT_ACCEPTED, ROOM_FORGOTTEN, ROOM_PURGED];
  readonly tables = SYNC_TABLES;

  async setup(tx: DatabaseTransactionConnection): Promise<void> {
    for (const statement of SETUP) await tx.query(statement);
  }

  async handle(batch: RecordedEvent[], tx: DatabaseTransactionConnection): Promise<void> {
    const accepted = batch.filter((r) => r.type === ROOM_EVENT_ACCEPTED && isAccepted(r.data)).map((r) => r.data as unknown as RoomEventAccepted);
    const context: BatchContext = { pendingTargets: new Set() };
    if (accepted.length > 0) {
      // One round trip: the batch's rooms (first room version seen wins, as one by one) and
      // which of its events a redaction waits for.
      const targets = (await tx.anyFirst(sql.unsafe`
        WITH new_rooms AS (${this.insertRooms(accepted, searchPathTable('rooms'))})
        SELECT DISTINCT target_id FROM pending_redactions
         WHERE target_id = ANY(${sql.array(accepted.map((fact) => fact.event_id), 'text')})`)) as unknown as string[];
      context.pendingTargets = new Set(targets);
    }
    // Plain timeline events (no state change, no redaction involved) are written together,
    // in store order, before anything that reads or changes what they would be part of.
    const buffered: { position: bigint; fact: RoomEventAccepted }[] = [];
    const bufferedIds = new Set<string>();
    const flush = async () => {
      if (buffered.length === 0) return;
      bufferedIds.clear();
      await this.insertPlain(buffered.splice(0), tx);
    };
    for (const record of batch) {
      if (record.type === ROOM_EVENT_ACCEPTED && isAccepted(record.data)) {
        const fact = record.data;
        if (this.isPlain(fact, context) && !bufferedIds.has(fact.event_id)) {
          buffered.push({ position: record.position, fact });
          bufferedIds.add(fact.event_id);
          continue;
        }
        await flush();
        // Backfilled history goes below everything held: at its position negated (a backfill
        // appends newest first), never in a range that /sync reads as new.
        await this.accept(fact.backfilled === true ? -record.position : record.position, fact, tx, context);
      } else if (record.type === ROOM_FORGOTTEN && isForgotten(record.data)) {
        await flush();
        await tx.query(sql.unsafe`UPDATE memberships SET forgotten = true
          WHERE room_id = ${record.data.room_id} AND user_id = ${record.data.user_id}`);
      } else if (record.type === ROOM_PURGED && isPurged(record.data)) {
        await flush();
        await this.forgetRoom(record.data.room_id, tx);
      }
    }
    await flush();
  }

  /**
   * A batch of plain timeline events only (see `isPlainFact`; each event once, no
   * ROOM_FORGOTTEN) in one statement: the rooms and the events, as `handle` writes them,
   * provided no redaction waits for one of the events (else `handle` applies it).
   */
  statement(batch: RecordedEvent[], table: GenerationTable): BatchStatement | undefined {
    const plain: PlainEvent[] = [];
    const ids = new Set<string>();
    for (const record of batch) {
      if (record.type === ROOM_EVENT_ACCEPTED && isAccepted(record.data)) {
        const fact = record.data;
        if (!isPlainFact(fact) || ids.has(fact.event_id)) return undefined;
        ids.add(fact.event_id);
        plain.push(plainEvent(record.position, fact));
      } else if ((record.type === ROOM_FORGOTTEN && isForgotten(record.data)) || (record.type === ROOM_PURGED && isPurged(record.data))) {
        return undefined;
      }
    }
    if (plain.length === 0) return { writes: [] };
    const insertEvents = this.insertPlainStatement(plain, table('events'), true);
    const writes = [this.insertRooms(plain.map((p) => p.fact), table('rooms')), insertEvents];
    return {
      writes,
      // No redaction waits for the events, and every event is a new row (`handle` merges an
      // event already stored, e.g. an outlier that joins the timeline, with its row): then
      // the rows are exactly what `written` describes.
      requires: [
        sql.fragment`NOT EXISTS (SELECT 1 FROM ${table('pending_redactions')} WHERE target_id = ANY(${sql.array([...ids], 'text')}))`,
        sql.fragment`(SELECT count(*) FROM ${writeResult(writes.indexOf(insertEvents))}) = ${plain.length}`,
      ],
      written: new PlainEventRows(plain.map(writtenRow)),
    };
  }

  /** A purged room: every row of it goes (its timeline, state, memberships and redactions waiting for its events). */
  private async forgetRoom(roomId: string, tx: DatabaseTransactionConnection): Promise<void> {
    await tx.query(sql.unsafe`DELETE FROM pending_redactions WHERE target_id IN (SELECT event_id FROM events WHERE room_id = ${roomId})
      OR redaction_id IN (SELECT event_id FROM events WHERE room_id = ${roomId})`);
    for (const table of ['events', 'state_changes', 'current_state', 'memberships', 'rooms']) {
      await tx.query(sql.unsafe`DELETE FROM ${sql.identifier([table])} WHERE room_id = ${roomId}`);
    }
  }

  /**
   * Whether `handle` may write the event with the plain events: it changes no state and is no
   * redaction (a state event held as an outlier, as a join brings by the thousand, is written
   * the same way: no previous state to look up) and no redaction waits for it.
   */
  private isPlain(fact: RoomEventAccepted, context: BatchContext): boolean {
    return isHeldFact(fact) && !context.pendingTargets.has(fact.event_id);
  }

  /** The rooms of a batch's events (the first room version seen wins, as one by one). */
  private insertRooms(accepted: readonly RoomEventAccepted[], rooms: IdentifierSqlToken) {
    const versions = new Map<string, string>();
    for (const fact of accepted) if (!versions.has(fact.room_id)) versions.set(fact.room_id, fact.room_version);
    return sql.fragment`INSERT INTO ${rooms} (room_id, room_version)
      SELECT * FROM unnest(${sql.array([...versions.keys()], 'text')}, ${sql.array([...versions.values()], 'text')})
      ON CONFLICT (room_id) DO NOTHING`;
  }

  private eventValues(position: bigint, fact: RoomEventAccepted, event: ClientEvent, prev: { content: JsonObject | null; sender: string | null; replaces: string | null }) {
    const inTimeline = !fact.soft_failed && !fact.outlier;
    return sql.fragment`(${position}, ${fact.event_id}, ${fact.room_id}, ${event.type}, ${event.sender}, ${event.state_key ?? null},
      ${event.origin_server_ts}, ${depthOf(fact)}, ${inTimeline}, ${containsUrl(event.content)}, ${sql.jsonb(toJson(event))},
      ${prev.content === null ? null : sql.jsonb(prev.content)}, ${prev.sender}, ${prev.replaces},
      ${fact.local?.user_id ?? null}, ${fact.local?.device_id ?? null}, ${fact.local?.txn_id ?? null},
      ${fact.unsigned ? sql.jsonb(fact.unsigned) : null})`;
  }

  private async insertPlain(rows: { position: bigint; fact: RoomEventAccepted }[], tx: DatabaseTransactionConnection): Promise<void> {
    const plain = rows.map(({ position, fact }) => plainEvent(position, fact));
    await tx.query(sql.unsafe`${this.insertPlainStatement(plain, searchPathTable('events'))}`);
  }

  /**
   * Plain timeline events (no previous state to look up), each once. The rows travel as one
   * array per column, so the statement's text is the same for any number of events (and is
   * prepared once per connection on PostgreSQL). `newOnly`: an event already stored is left
   * as it is, and only the new rows are returned (one row each); otherwise it is merged as
   * `accept` merges it.
   */
  private insertPlainStatement(rows: readonly PlainEvent[], events: IdentifierSqlToken, newOnly = false) {
    const column = <T extends string | boolean | null>(value: (row: PlainEvent) => T) => rows.map(value);
    return sql.fragment`
      INSERT INTO ${events} AS events (${EVENT_INSERT_COLUMNS})
      SELECT u.position, u.event_id, u.room_id, u.type, u.sender, u.state_key, u.origin_server_ts, u.depth, u.in_timeline, u.contains_url, u.event,
             NULL, NULL, NULL, u.txn_user, u.txn_device, u.txn_id, u.extra_unsigned
        FROM unnest(${sql.array(column(({ position }) => String(position)), 'int8')},
                    ${sql.array(column(({ fact }) => fact.event_id), 'text')},
                    ${sql.array(column(({ fact }) => fact.room_id), 'text')},
                    ${sql.array(column(({ event }) => event.type), 'text')},
                    ${sql.array(column(({ event }) => event.sender), 'text')},
                    ${sql.array(column(({ event }) => event.state_key ?? null), 'text')},
                    ${sql.array(column(({ event }) => String(event.origin_server_ts)), 'int8')},
                    ${sql.array(column(({ fact }) => String(depthOf(fact))), 'int8')},
                    ${sql.array(column(({ fact }) => !fact.soft_failed && !fact.outlier), 'bool')},
                    ${sql.array(column(({ event }) => containsUrl(event.content)), 'bool')},
                    ${sql.array(column(({ eventJson }) => eventJson), 'jsonb')},
                    ${sql.array(column(({ fact }) => fact.local?.user_id ?? null), 'text')},
                    ${sql.array(column(({ fact }) => fact.local?.device_id ?? null), 'text')},
                    ${sql.array(column(({ fact }) => fact.local?.txn_id ?? null), 'text')},
                    ${sql.array(column(({ unsignedJson }) => unsignedJson), 'jsonb')})
          AS u(position, event_id, room_id, type, sender, state_key, origin_server_ts, depth, in_timeline, contains_url, event,
               txn_user, txn_device, txn_id, extra_unsigned)
      ${newOnly ? sql.fragment`ON CONFLICT (event_id) DO NOTHING RETURNING 1` : PLAIN_MERGE}`;
  }

  private async accept(position: bigint, fact: RoomEventAccepted, tx: DatabaseTransactionConnection, context: BatchContext): Promise<void> {
    const roomId = fact.room_id;
    const version = fact.room_version;
    const event = clientEventOf(fact.pdu, fact.event_id, roomId, version);
    const inTimeline = !fact.soft_failed && !fact.outlier;

    // The state entry this event replaces, for unsigned.prev_content / replaces_state.
    let prevContent: JsonObject | null = null;
    let prevSender: string | null = null;
    let replacesState: string | null = null;
    if (event.state_key !== undefined && fact.state_delta.added.some((e) => e.event_id === fact.event_id)) {
      const prev = (await tx.maybeOne(sql.unsafe`
        SELECT e.event_id, e.event FROM current_state c JOIN events e ON e.event_id = c.event_id
         WHERE c.room_id = ${roomId} AND c.type = ${event.type} AND c.state_key = ${event.state_key}`)) as
        | { event_id: string; event: ClientEvent }
        | null;
      if (prev && prev.event_id !== fact.event_id) {
        prevContent = prev.event.content;
        prevSender = prev.event.sender;
        replacesState = prev.event_id;
      }
    }

    const inserted = await tx.maybeOne(sql.unsafe`
      INSERT INTO events (${EVENT_INSERT_COLUMNS})
      VALUES ${this.eventValues(position, fact, event, { content: prevContent, sender: prevSender, replaces: replacesState })}
      ON CONFLICT (event_id) DO UPDATE SET position = EXCLUDED.position, in_timeline = true
        WHERE events.in_timeline = false AND EXCLUDED.in_timeline
      RETURNING event_id`);

    await this.applyStateDelta(position, roomId, fact.event_id, fact.state_delta.added, fact.state_delta.removed, tx);

    if (!inserted) return;
    if (event.type === 'm.room.redaction' && inTimeline && event.redacts !== undefined) {
      if (!(await this.redact(event.redacts, event, version, tx))) context.pendingTargets.add(event.redacts);
    }
    if (!context.pendingTargets.has(fact.event_id)) return;
    // A redaction that arrived before this event applies now.
    const pending = (await tx.any(sql.unsafe`
      SELECT e.event FROM pending_redactions p JOIN events e ON e.event_id = p.redaction_id
       WHERE p.target_id = ${fact.event_id} ORDER BY e.position`)) as readonly { event: ClientEvent }[];
    for (const row of pending) await this.redact(fact.event_id, row.event, version, tx);
  }

  private async applyStateDelta(
    position: bigint,
    roomId: string,
    eventId: string,
    added: readonly StateEntry[],
    removed: readonly StateEntry[],
    tx: DatabaseTransactionConnection,
  ): Promise<void> {
    // One statement writes the whole delta. Removed and added keys are disjoint, so its parts
    // touch different rows; a key listed twice counts once (the last entry, as one by one).
    const key = (e: StateEntry) => `${e.type}\u0000${e.state_key}`;
    const addedByKey = new Map(added.map((e) => [key(e), e]));
    const removedByKey = new Map(removed.filter((e) => !addedByKey.has(key(e))).map((e) => [key(e), e]));
    if (addedByKey.size > 0 || removedByKey.size > 0) {
      const gone = [...removedByKey.values()];
      const kept = [...addedByKey.values()];
      const goneTypes = sql.array(gone.map((e) => e.type), 'text');
      const goneKeys = sql.array(gone.map((e) => e.state_key), 'text');
      await tx.query(sql.unsafe`
        WITH removed AS (
          SELECT * FROM unnest(${goneTypes}, ${goneKeys}) AS r(type, state_key)
        ), left_state AS (
          DELETE FROM current_state c USING removed r
           WHERE c.room_id = ${roomId} AND c.type = r.type AND c.state_key = r.state_key
        ), removed_changes AS (
          INSERT INTO state_changes (room_id, type, state_key, position, event_id, before)
          SELECT ${roomId}, type, state_key, ${position}, NULL, true FROM removed
          ON CONFLICT (room_id, type, state_key, position, before) DO UPDATE SET event_id = NULL
        ), reset_members AS (
          -- A state reset took the user out of the room: they are no longer a member.
          INSERT INTO memberships (room_id, user_id, membership, event_id, position)
          SELECT ${roomId}, state_key, 'leave', NULL, ${position} FROM removed WHERE type = 'm.room.member'
          ON CONFLICT (room_id, user_id) DO UPDATE SET membership = 'leave', event_id = NULL,
            position = CASE WHEN memberships.membership = 'leave' THEN memberships.position ELSE EXCLUDED.position END,
            stripped_state = NULL, forgotten = false
        ), added AS (
          SELECT * FROM unnest(${sql.array(kept.map((e) => e.type), 'text')}, ${sql.array(kept.map((e) => e.state_key), 'text')},
                               ${sql.array(kept.map((e) => e.event_id), 'text')}) AS a(type, state_key, event_id)
        ), added_state AS (
          INSERT INTO current_state (room_id, type, state_key, event_id, position)
          SELECT ${roomId}, type, state_key, event_id, ${position} FROM added
          ON CONFLICT (room_id, type, state_key) DO UPDATE SET event_id = EXCLUDED.event_id, position = EXCLUDED.position
        )
        INSERT INTO state_changes (room_id, type, state_key, position, event_id, before)
        SELECT ${roomId}, type, state_key, ${position}, event_id, event_id <> ${eventId} FROM added
        ON CONFLICT (room_id, type, state_key, position, before) DO UPDATE SET event_id = EXCLUDED.event_id`);
    }
    const members = added.filter((entry) => entry.type === 'm.room.member');
    if (members.length > 1 && new Set(members.map((e) => e.state_key)).size === members.length) {
      await this.applyMemberships(position, roomId, members, tx);
      return;
    }
    for (const entry of members) {
      const member = (await tx.maybeOne(sql.unsafe`SELECT event, extra_unsigned FROM events WHERE event_id = ${entry.event_id}`)) as {
        event: ClientEvent;
        extra_unsigned: JsonObject | null;
      } | null;
      // A member event the projection does not hold cannot say the membership: leave it as it was.
      if (!member) continue;
      const membership = typeof member.event.content.membership === 'string' ? member.event.content.membership : 'leave';
      let stripped: StrippedStateEvent[] | null = null;
      if (membership === 'invite' || membership === 'knock') {
        stripped = await this.strippedState(roomId, member.event, tx, member.extra_unsigned);
      }
      await tx.query(sql.unsafe`
        INSERT INTO memberships (room_id, user_id, membership, event_id, position, stripped_state)
        VALUES (${roomId}, ${entry.state_key}, ${membership}, ${entry.event_id}, ${position},
                ${stripped === null ? null : sql.jsonb(toJson(stripped))})
        ON CONFLICT (room_id, user_id) DO UPDATE SET membership = EXCLUDED.membership, event_id = EXCLUDED.event_id,
          position = CASE WHEN memberships.membership = EXCLUDED.membership THEN memberships.position ELSE EXCLUDED.position END,
          stripped_state = EXCLUDED.stripped_state, forgotten = false`);
    }
  }

  /**
   * The memberships of member entries added at once (each user once; a join brings the whole
   * room's): one statement for all but invites and knocks, which carry their stripped state and
   * are written one by one, as `applyStateDelta` writes each.
   */
  private async applyMemberships(position: bigint, roomId: string, members: readonly StateEntry[], tx: DatabaseTransactionConnection): Promise<void> {
    const rows = (await tx.any(sql.unsafe`
      SELECT event_id, CASE WHEN jsonb_typeof(event -> 'content' -> 'membership') = 'string' THEN event -> 'content' ->> 'membership' ELSE 'leave' END AS membership
        FROM events WHERE event_id = ANY(${sql.array(members.map((e) => e.event_id), 'text')})`)) as readonly { event_id: string; membership: string }[];
    const membershipOf = new Map(rows.map((r) => [r.event_id, r.membership]));
    // A member event the projection does not hold cannot say the membership: left as it was.
    const held = members.filter((e) => membershipOf.has(e.event_id));
    const withStripped = held.filter((e) => ['invite', 'knock'].includes(membershipOf.get(e.event_id) as string));
    const plain = held.filter((e) => !withStripped.includes(e));
    if (plain.length > 0) {
      await tx.query(sql.unsafe`
        INSERT INTO memberships (room_id, user_id, membership, event_id, position, stripped_state)
        SELECT ${roomId}, m.user_id, m.membership, m.event_id, ${position}, NULL
          FROM unnest(${sql.array(plain.map((e) => e.state_key), 'text')}, ${sql.array(plain.map((e) => membershipOf.get(e.event_id) as string), 'text')},
                      ${sql.array(plain.map((e) => e.event_id), 'text')}) AS m(user_id, membership, event_id)
        ON CONFLICT (room_id, user_id) DO UPDATE SET membership = EXCLUDED.membership, event_id = EXCLUDED.event_id,
          position = CASE WHEN memberships.membership = EXCLUDED.membership THEN memberships.position ELSE EXCLUDED.position END,
          stripped_state = EXCLUDED.stripped_state, forgotten = false`);
    }
    for (const entry of withStripped) {
      const member = (await tx.one(sql.unsafe`SELECT event, extra_unsigned FROM events WHERE event_id = ${entry.event_id}`)) as {
        event: ClientEvent;
        extra_unsigned: JsonObject | null;
      };
      const stripped = await this.strippedState(roomId, member.event, tx, member.extra_unsigned);
      await tx.query(sql.unsafe`
        INSERT INTO memberships (room_id, user_id, membership, event_id, position, stripped_state)
        VALUES (${roomId}, ${entry.state_key}, ${membershipOf.get(entry.event_id) as string}, ${entry.event_id}, ${position}, ${sql.jsonb(toJson(stripped))})
        ON CONFLICT (room_id, user_id) DO UPDATE SET membership = EXCLUDED.membership, event_id = EXCLUDED.event_id,
          position = CASE WHEN memberships.membership = EXCLUDED.membership THEN memberships.position ELSE EXCLUDED.position END,
          stripped_state = EXCLUDED.stripped_state, forgotten = false`);
    }
  }

  /**
   * The stripped state shown with an invite or knock: room basics and the sender's member
   * event, from the room's current state when this server holds it, else the stripped state the
   * inviting server sent with the invite (`invite_room_state` of the event's unsigned).
   */
  private async strippedState(
    roomId: string,
    member: ClientEvent,
    tx: DatabaseTransactionConnection,
    extraUnsigned: JsonObject | null = null,
  ): Promise<StrippedStateEvent[]> {
    const rows = (await tx.any(sql.unsafe`
      SELECT e.event FROM current_state c JOIN events e ON e.event_id = c.event_id
       WHERE c.room_id = ${roomId}
         AND (c.type = ANY(${sql.array([...STRIPPED_STATE_TYPES], 'text')})
              OR (c.type = 'm.room.member' AND c.state_key = ${member.sender}))
       ORDER BY c.type, c.state_key`)) as readonly { event: ClientEvent }[];
    const held = rows.some((r) => r.event.type === 'm.room.create');
    const sent = extraUnsigned?.invite_room_state ?? extraUnsigned?.knock_room_state;
    if (!held && Array.isArray(sent)) return sent.flatMap((e) => strippedFromRemote(e, member.event_id));
    return rows.filter((r) => r.event.event_id !== member.event_id).map((r) => strippedStateOf(r.event));
  }

  /**
   * Applies a redaction to its target: the stored event becomes its redacted form with
   * `redacted_because`. A redaction whose target is unknown waits in `pending_redactions`.
   * Only redactions by the target's server or by a user allowed to redact others apply.
   */
  /** Returns false when the target is not known yet (the redaction waits for it). */
  private async redact(targetId: string, redaction: ClientEvent, version: string, tx: DatabaseTransactionConnection): Promise<boolean> {
    const target = (await tx.maybeOne(sql.unsafe`
      SELECT position, event_id, room_id, sender, type, event, in_timeline, redacted_because
        FROM events WHERE event_id = ${targetId}`)) as StoredEventRow | null;
    if (!target) {
      await tx.query(sql.unsafe`INSERT INTO pending_redactions (target_id, redaction_id)
        VALUES (${targetId}, ${redaction.event_id}) ON CONFLICT DO NOTHING`);
      return false;
    }
    if (target.redacted_because !== null || target.room_id !== redaction.room_id) return true;
    if (!(await this.mayRedact(redaction, target, version, tx))) return true;
    const redacted: ClientEvent = {
      ...target.event,
      content: redactedContent(target.type, target.event.content, version) as JsonObject,
    };
    if (!roomVersion(version).redactsInContent) delete redacted.redacts;
    await tx.query(sql.unsafe`UPDATE events SET event = ${sql.jsonb(toJson(redacted))},
        redacted_because = ${sql.jsonb(toJson(redaction))}, contains_url = false
      WHERE event_id = ${targetId}`);
    await tx.query(sql.unsafe`DELETE FROM pending_redactions WHERE target_id = ${targetId}`);
    return true;
  }

  private async mayRedact(redaction: ClientEvent, target: StoredEventRow, version: string, tx: DatabaseTransactionConnection): Promise<boolean> {
    if (domainOf(redaction.sender) === domainOf(target.sender)) return true;
    const rows = (await tx.any(sql.unsafe`
      SELECT e.event FROM current_state c JOIN events e ON e.event_id = c.event_id
       WHERE c.room_id = ${target.room_id} AND c.state_key = '' AND c.type IN ('m.room.power_levels', 'm.room.create')`)) as readonly {
      event: ClientEvent;
    }[];
    const create = rows.find((r) => r.event.type === 'm.room.create')?.event;
    const power = rows.find((r) => r.event.type === 'm.room.power_levels')?.event.content;
    if (roomVersion(version).privilegedCreators && create) {
      const extra = Array.isArray(create.content.additional_creators) ? create.content.additional_creators : [];
      if (create.sender === redaction.sender || extra.includes(redaction.sender)) return true;
    }
    if (!power) return create?.sender === redaction.sender;
    const users = power.users && typeof power.users === 'object' && !Array.isArray(power.users) ? power.users : {};
    const level = toLevel(users[redaction.sender], toLevel(power.users_default, 0));
    return level >= toLevel(power.redact, 50);
  }
}

/** The row a plain event's insert creates, as read back (JSON columns parsed from what was sent). */
function writtenRow(plain: PlainEvent): EventRow {
  const { position, fact, event } = plain;
  return {
    position,
    event_id: fact.event_id,
    room_id: fact.room_id,
    type: event.type,
    sender: event.sender,
    state_key: null,
    depth: BigInt(depthOf(fact)),
    in_timeline: !fact.soft_failed && !fact.outlier,
    event: JSON.parse(plain.eventJson) as ClientEvent,
    prev_content: null,
    prev_sender: null,
    replaces_state: null,
    redacted_because: null,
    txn_user: fact.local?.user_id ?? null,
    txn_device: fact.local?.device_id ?? null,
    txn_id: fact.local?.txn_id ?? null,
    extra_unsigned: plain.unsignedJson === null ? null : (JSON.parse(plain.unsignedJson) as JsonObject),
  };
}

/**
 * The event's depth (its place in the room's DAG) as its PDU gives it; one that is not a
 * non-negative safe integer (the protocol checks refuse such PDUs) counts as 0.
 */
function depthOf(fact: RoomEventAccepted): number {
  const depth: unknown = fact.pdu.depth;
  return typeof depth === 'number' && Number.isSafeInteger(depth) && depth >= 0 ? depth : 0;
}

/** No state change and not a redaction: an event written as it is (no previous state to look up, nothing to redact). */
function isHeldFact(fact: RoomEventAccepted): boolean {
  return fact.pdu.type !== 'm.room.redaction' && fact.state_delta.added.length === 0 && fact.state_delta.removed.length === 0 && fact.backfilled !== true;
}

/** No state key, not a redaction, no state change: a timeline event nothing else depends on. */
function isPlainFact(fact: RoomEventAccepted): boolean {
  return (
    fact.pdu.state_key === undefined &&
    fact.pdu.type !== 'm.room.redaction' &&
    fact.state_delta.added.length === 0 &&
    fact.state_delta.removed.length === 0 &&
    fact.backfilled !== true
  );
}

function toLevel(value: unknown, fallback: number): number {
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  if (typeof value === 'string' && /^[+-]?[0-9]+$/.test(value.trim())) return Number(value);
  return fallback;
}

function domainOf(userId: string): string {
  const i = userId.indexOf(':');
  return i < 0 ? '' : userId.slice(i + 1);
}

/** A value as JSON for `sql.jsonb` (which accepts serializable values). */
function toJson<T>(value: T): Parameters<typeof sql.jsonb>[0] {
  return value as unknown as Parameters<typeof sql.jsonb>[0];
}

/** An entry of another server's invite_room_state as stripped state (entries of the wrong shape, and the invite itself, are left out). */
function strippedFromRemote(entry: JsonValue, inviteId: string): StrippedStateEvent[] {
  if (!isJsonObject(entry)) return [];
  const { type, state_key: key, sender, content } = entry;
  if (typeof type !== 'string' || typeof key !== 'string' || typeof sender !== 'string' || !isJsonObject(content)) return [];
  if (entry.event_id === inviteId) return [];
  return [{ type, state_key: key, sender, content }];
}
