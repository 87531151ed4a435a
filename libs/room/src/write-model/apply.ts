/**
 * Applies the records of a room stream to the write model. The same function runs inside the
 * append transaction of a command and when the write model is rebuilt from the store, so
 * both produce identical tables.
 */
import {
  ROOM_ALIAS_DELETED,
  ROOM_ALIAS_SET,
  ROOM_EVENT_ACCEPTED,
  ROOM_EVENT_REJECTED,
  ROOM_FORGOTTEN,
  ROOM_PURGED,
  ROOM_VISIBILITY_SET,
  type RoomAliasDeleted,
  type RoomAliasSet,
  type RoomEventAccepted,
  type RoomEventRejected,
  type RoomForgotten,
  type RoomVisibilitySet,
  type StateEntry,
  type StateGroupWrite,
} from '@hs/contracts';
import type { AppendCteNames, AppendWrites } from '@hs/eventstore';
import { roomCreators, roomVersion, toRoomEvent, type Pdu, type RoomEvent } from '@hs/protocol';
import { isDeepStrictEqual } from 'node:util';
import type { PrimitiveValueExpression } from 'slonik';
import { z } from 'zod';
import { MAX_STATE_GROUP_CHAIN, sql, type CommonQueryMethods, type FragmentSqlToken, type IdentifierSqlToken } from './sql';

/** One record of a room stream, as appended or as read back. */
export interface RoomStreamRecord {
  type: string;
  data: unknown;
  revision: bigint;
  position: bigint;
}

/** Applies one record; records of unknown types only move the room's stream revision. */
export async function applyRoomRecord(tx: CommonQueryMethods, roomId: string, record: RoomStreamRecord): Promise<void> {
  if (await applyRecordRows(tx, roomId, record)) return;
  await recordRevision(tx, roomId, record.revision);
}

/**
 * Applies records of one room appended together, in order, leaving the same tables as
 * {@link applyRoomRecord} on each: runs of events the DAG path holds as outliers or rejects
 * (what joining a room brings by the thousand) are written a few statements per run, and the
 * room's stream revision is written once, at the end.
 */
export async function applyRoomRecords(tx: CommonQueryMethods, roomId: string, records: readonly RoomStreamRecord[]): Promise<void> {
  let written = true;
  for (let i = 0; i < records.length; ) {
    let end = i;
    const ids = new Set<string>();
    while (end < records.length && isHeldOnly(records[end]) && !ids.has((records[end].data as RoomEventAccepted).event_id)) {
      ids.add((records[end].data as RoomEventAccepted).event_id);
      end++;
    }
    if (end - i >= 2) {
      await insertHeldEvents(tx, records.slice(i, end));
      written = false;
      i = end;
    } else {
      written = await applyRecordRows(tx, roomId, records[i]);
      i++;
    }
  }
  const last = records[records.length - 1];
  if (last && !written) await recordRevision(tx, roomId, last.revision);
}

async function recordRevision(tx: CommonQueryMethods, roomId: string, revision: bigint): Promise<void> {
  await tx.query(sql.unsafe`UPDATE room.rooms SET stream_revision = ${revision.toString()} WHERE room_id = ${roomId}`);
}

/** Writes what a record changes but the room's stream revision; true when its statement recorded the revision too. */
async function applyRecordRows(tx: CommonQueryMethods, roomId: string, record: RoomStreamRecord): Promise<boolean> {
  switch (record.type) {
    case ROOM_EVENT_ACCEPTED:
      // A timeline event records the stream revision in its own statement.
      return applyAccepted(tx, record.data as RoomEventAccepted, record);
    case ROOM_EVENT_REJECTED:
      await applyRejected(tx, record.data as RoomEventRejected, record);
      break;
    case ROOM_ALIAS_SET: {
      const fact = record.data as RoomAliasSet;
      await tx.query(sql.unsafe`INSERT INTO room.aliases (alias, room_id, creator) VALUES (${fact.alias}, ${fact.room_id}, ${fact.creator})`);
      break;
    }
    case ROOM_ALIAS_DELETED: {
      const fact = record.data as RoomAliasDeleted;
      await tx.query(sql.unsafe`DELETE FROM room.aliases WHERE alias = ${fact.alias} AND room_id = ${fact.room_id}`);
      break;
    }
    case ROOM_VISIBILITY_SET: {
      const fact = record.data as RoomVisibilitySet;
      await tx.query(sql.unsafe`UPDATE room.rooms SET published = ${fact.visibility === 'public'} WHERE room_id = ${fact.room_id}`);
      break;
    }
    case ROOM_FORGOTTEN: {
      const fact = record.data as RoomForgotten;
      await tx.query(sql.unsafe`INSERT INTO room.forgotten (user_id, room_id) VALUES (${fact.user_id}, ${fact.room_id})
        ON CONFLICT DO NOTHING`);
      break;
    }
    case ROOM_PURGED:
      await tx.query(sql.unsafe`UPDATE room.rooms SET purged = true WHERE room_id = ${roomId}`);
      break;
    default:
      break;
  }
  return false;
}

/**
 * A record that only adds an event row (and clears the sender's forgotten mark for a join,
 * invite or knock): an event the DAG path holds as an outlier, with no state of its own, or
 * one it rejected. A room's create event is not one (it starts the room's row).
 */
function isHeldOnly(record: RoomStreamRecord): boolean {
  if (record.type === ROOM_EVENT_REJECTED) return (record.data as RoomEventRejected).event_group === undefined;
  if (record.type !== ROOM_EVENT_ACCEPTED) return false;
  const fact = record.data as RoomEventAccepted;
  return (
    fact.outlier &&
    isDagFact(fact) &&
    fact.event_group === undefined &&
    fact.current_group === undefined &&
    (fact.state_groups ?? []).length === 0 &&
    fact.state_delta.added.length === 0 &&
    fact.state_delta.removed.length === 0 &&
    fact.local === undefined &&
    !(fact.pdu.type === 'm.room.create' && fact.pdu.state_key === '')
  );
}

/** Rows per statement of {@link insertHeldEvents}. */
const HELD_CHUNK = 500;

/** The rows of {@link isHeldOnly} records (distinct event ids), as {@link insertEvent} and the forgotten marks of applyAccepted write them one by one. */
async function insertHeldEvents(tx: CommonQueryMethods, records: readonly RoomStreamRecord[]): Promise<void> {
  for (let start = 0; start < records.length; start += HELD_CHUNK) {
    const rows = records.slice(start, start + HELD_CHUNK).map((record) => {
      const fact = record.data as RoomEventAccepted | RoomEventRejected;
      const rejected = record.type === ROOM_EVENT_REJECTED;
      return { record, fact, event: normalized(fact.pdu, fact.room_version, fact.event_id), rejected, outlier: !rejected && (fact as RoomEventAccepted).outlier };
    });
    const column = <T extends string | boolean | null>(value: (row: (typeof rows)[number]) => T) => rows.map(value);
    await tx.query(sql.unsafe`
      INSERT INTO room.events (event_id, room_id, type, state_key, sender, depth, pdu, auth_events, prev_events,
                               stream_revision, stream_position, rejected, soft_failed, outlier, room_version)
      SELECT x.event_id, x.room_id, x.type, x.state_key, x.sender, x.depth, x.pdu::jsonb,
             ARRAY(SELECT a FROM jsonb_array_elements_text(x.auth_events::jsonb) WITH ORDINALITY AS t(a, n) ORDER BY n),
             ARRAY(SELECT p FROM jsonb_array_elements_text(x.prev_events::jsonb) WITH ORDINALITY AS t(p, n) ORDER BY n),
             x.stream_revision, x.stream_position, x.rejected, x.soft_failed, x.outlier, x.room_version
        FROM unnest(${sql.array(column((r) => r.event.event_id), 'text')},
                    ${sql.array(column((r) => r.event.room_id), 'text')},
                    ${sql.array(column((r) => r.event.type), 'text')},
                    ${sql.array(column((r) => r.event.state_key ?? null), 'text')},
                    ${sql.array(column((r) => r.event.sender), 'text')},
                    ${sql.array(column((r) => String(r.event.depth)), 'int8')},
                    ${sql.array(column((r) => JSON.stringify(r.fact.pdu)), 'text')},
                    ${sql.array(column((r) => JSON.stringify(r.event.auth_events)), 'text')},
                    ${sql.array(column((r) => JSON.stringify(r.event.prev_events)), 'text')},
                    ${sql.array(column((r) => r.record.revision.toString()), 'int8')},
                    ${sql.array(column((r) => r.record.position.toString()), 'int8')},
                    ${sql.array(column((r) => r.rejected), 'bool')},
                    ${sql.array(column((r) => !r.rejected && (r.fact as RoomEventAccepted).soft_failed), 'bool')},
                    ${sql.array(column((r) => r.outlier), 'bool')},
                    ${sql.array(column((r) => r.fact.room_version), 'text')})
          AS x(event_id, room_id, type, state_key, sender, depth, pdu, auth_events, prev_events,
               stream_revision, stream_position, rejected, soft_failed, outlier, room_version)
      ON CONFLICT (event_id) DO UPDATE
        SET outlier = false, soft_failed = excluded.soft_failed, rejected = excluded.rejected,
            stream_revision = excluded.stream_revision, stream_position = excluded.stream_position
        WHERE room.events.outlier AND NOT excluded.outlier`);
    const unforgotten = rows.filter(
      (r) => !r.rejected && r.event.type === 'm.room.member' && typeof r.event.state_key === 'string' && ['join', 'invite', 'knock'].includes(r.event.content.membership as string),
    );
    if (unforgotten.length > 0) {
      await tx.query(sql.unsafe`DELETE FROM room.forgotten f
        USING unnest(${sql.array(unforgotten.map((r) => r.event.state_key as string), 'text')}, ${sql.array(unforgotten.map((r) => r.event.room_id), 'text')}) AS x(user_id, room_id)
        WHERE f.user_id = x.user_id AND f.room_id = x.room_id`);
    }
  }
}

function normalized(pdu: Pdu, version: string, eventId: string): RoomEvent {
  return toRoomEvent(pdu, version, eventId);
}

/** Applies an accepted event; true when the room's stream revision was recorded with it. */
async function applyAccepted(tx: CommonQueryMethods, fact: RoomEventAccepted, record: RoomStreamRecord): Promise<boolean> {
  const event = normalized(fact.pdu, fact.room_version, fact.event_id);
  if (isTimelineEvent(fact)) {
    await applyTimelineEvent(tx, event, fact, record);
    return true;
  }
  if (event.type === 'm.room.create' && event.state_key === '' && event.prev_events.length === 0) {
    const creator = [...roomCreators(event, roomVersion(fact.room_version))][0] ?? event.sender;
    await tx.query(sql.unsafe`INSERT INTO room.rooms (room_id, room_version, creator, stream_revision)
      VALUES (${fact.room_id}, ${fact.room_version}, ${creator}, ${record.revision.toString()})
      ON CONFLICT (room_id) DO NOTHING`);
  }
  await insertEvent(tx, event, fact.pdu, record, { softFailed: fact.soft_failed, outlier: fact.outlier, rejected: false, roomVersion: fact.room_version });

  if (isDagFact(fact)) await applyDagState(tx, fact);
  else await applyLinearState(tx, fact);
  if (fact.local) {
    await tx.query(sql.unsafe`INSERT INTO room.client_transactions (user_id, device_id, txn_id, scope, room_id, event_id)
      VALUES (${fact.local.user_id}, ${fact.local.device_id}, ${fact.local.txn_id}, ${fact.local.txn_scope ?? ''}, ${fact.room_id}, ${fact.event_id})`);
  }
  const membership = event.type === 'm.room.member' ? event.content.membership : undefined;
  if (typeof event.state_key === 'string' && (membership === 'join' || membership === 'invite' || membership === 'knock')) {
    await tx.query(sql.unsafe`DELETE FROM room.forgotten WHERE user_id = ${event.state_key} AND room_id = ${fact.room_id}`);
  }
  return false;
}

/** The state of an event of the linear path: the room's current state with the fact's delta applied. */
async function applyLinearState(tx: CommonQueryMethods, fact: RoomEventAccepted): Promise<void> {
  const gone = await applyCurrentStateDelta(tx, fact);
  if (fact.state_delta.added.length > 0 || gone.length > 0) {
    await writeStateGroup(tx, fact.room_id, fact.event_id, fact.state_delta.added, gone);
  }
  if (!fact.outlier) {
    await tx.query(sql.unsafe`UPDATE room.events SET state_group = (SELECT state_group FROM room.rooms WHERE room_id = ${fact.room_id})
      WHERE event_id = ${fact.event_id}`);
    await replaceExtremities(tx, fact);
  }
}

/** Applies the fact's delta to the room's current state; returns the entries removed and not replaced. */
async function applyCurrentStateDelta(tx: CommonQueryMethods, fact: RoomEventAccepted): Promise<StateEntry[]> {
  const { added, removed } = fact.state_delta;
  const addedKeys = new Set(added.map((e) => `${e.type}\u0000${e.state_key}`));
  const gone = removed.filter((e) => !addedKeys.has(`${e.type}\u0000${e.state_key}`));
  if (gone.length === 1) {
    const [entry] = gone;
    await tx.query(sql.unsafe`DELETE FROM room.current_state
      WHERE room_id = ${fact.room_id} AND type = ${entry.type} AND state_key = ${entry.state_key} AND event_id = ${entry.event_id}`);
  } else if (gone.length > 1) {
    await tx.query(sql.unsafe`DELETE FROM room.current_state c
      USING ${sql.unnest(gone.map((e) => [e.type, e.state_key, e.event_id]), ['text', 'text', 'text'])} AS x(type, state_key, event_id)
      WHERE c.room_id = ${fact.room_id} AND c.type = x.type AND c.state_key = x.state_key AND c.event_id = x.event_id`);
  }
  if (added.length > 0) {
    await tx.query(sql.unsafe`
      INSERT INTO room.current_state (room_id, type, state_key, event_id, membership)
      SELECT ${fact.room_id}, x.type, x.state_key, x.event_id,
             CASE WHEN x.type = 'm.room.member' THEN e.pdu -> 'content' ->> 'membership' END
        FROM ${sql.unnest(added.map((e) => [e.type, e.state_key, e.event_id]), ['text', 'text', 'text'])} AS x(type, state_key, event_id)
        LEFT JOIN room.events e ON e.event_id = x.event_id
      ON CONFLICT (room_id, type, state_key) DO UPDATE SET event_id = excluded.event_id, membership = excluded.membership`);
  }
  return gone;
}

/** Whether the fact carries its state groups (the DAG path) rather than a delta on the current state. */
function isDagFact(fact: RoomEventAccepted): boolean {
  return fact.event_group !== undefined || fact.state_groups !== undefined || fact.current_group !== undefined;
}

/**
 * The state of an event of the DAG path: the groups the fact creates, the event's group, the
 * current state's delta and group, and (unless the event is an outlier or soft-failed, which
 * leave them as they were) the forward extremities.
 */
async function applyDagState(tx: CommonQueryMethods, fact: RoomEventAccepted): Promise<void> {
  for (const group of fact.state_groups ?? []) await insertStateGroup(tx, fact.room_id, group);
  if (fact.event_group !== undefined) {
    await tx.query(sql.unsafe`UPDATE room.events SET state_group = ${fact.event_group} WHERE event_id = ${fact.event_id}`);
  }
  await applyCurrentStateDelta(tx, fact);
  if (fact.current_group !== undefined) {
    await tx.query(sql.unsafe`UPDATE room.rooms SET state_group = ${fact.current_group} WHERE room_id = ${fact.room_id}`);
  }
  if (!fact.outlier && !fact.soft_failed) await replaceExtremities(tx, fact);
}

async function insertStateGroup(tx: CommonQueryMethods, roomId: string, group: StateGroupWrite): Promise<void> {
  await tx.query(sql.unsafe`INSERT INTO room.state_groups (group_id, room_id, prev_group, chain_length)
    SELECT ${group.id}, ${roomId}, ${group.prev},
           COALESCE(${group.chain_length ?? null}::int, (SELECT chain_length + 1 FROM room.state_groups WHERE group_id = ${group.prev}), 0)`);
  if (group.entries.length === 0) return;
  await tx.query(sql.unsafe`INSERT INTO room.state_group_entries (group_id, type, state_key, event_id)
    SELECT ${group.id}, x.type, x.state_key, x.event_id
      FROM ${sql.unnest(group.entries.map((e) => [e.type, e.state_key, e.event_id]), ['text', 'text', 'text'])} AS x(type, state_key, event_id)`);
}

async function replaceExtremities(tx: CommonQueryMethods, fact: RoomEventAccepted): Promise<void> {
  await tx.query(sql.unsafe`DELETE FROM room.forward_extremities WHERE room_id = ${fact.room_id}`);
  if (fact.forward_extremities.length > 0) {
    await tx.query(sql.unsafe`INSERT INTO room.forward_extremities (room_id, event_id)
      SELECT ${fact.room_id}, unnest(${sql.array(fact.forward_extremities, 'text')})`);
  }
}

/**
 * An event that leaves the state as it was (a message, most often): one statement stores it
 * with the room's current state group, moves the forward extremities, records the client
 * transaction and the stream revision.
 */
async function applyTimelineEvent(tx: CommonQueryMethods, event: RoomEvent, fact: RoomEventAccepted, record: RoomStreamRecord): Promise<void> {
  const revision = sql.fragment`${record.revision.toString()}::bigint`;
  const position = sql.fragment`${record.position.toString()}::bigint`;
  await tx.query(sql.unsafe`WITH ${timelineEventWrites(event, fact, revision, position, (name) => sql.identifier([name]))}
    UPDATE room.rooms SET stream_revision = ${revision} WHERE room_id = ${fact.room_id}`);
}

/** Whether an accepted event is applied by {@link timelineEventWrites} alone. */
export function isTimelineEvent(fact: RoomEventAccepted): boolean {
  const changesState = fact.state_delta.added.length > 0 || fact.state_delta.removed.length > 0;
  return !changesState && !fact.outlier && fact.pdu.type !== 'm.room.create' && !isDagFact(fact);
}

/**
 * The write-model writes of a timeline event ({@link isTimelineEvent}) as common table
 * expressions: the event with the room's current state group, the forward extremities and
 * the client transaction. `revision` and `position` are SQL expressions of the record's stream
 * revision and global position; `cte` names the expressions (unique within a grouped statement).
 */
export function timelineEventWrites(
  event: RoomEvent,
  fact: RoomEventAccepted,
  revision: FragmentSqlToken,
  position: FragmentSqlToken,
  cte: (name: string) => IdentifierSqlToken,
): FragmentSqlToken {
  const local = fact.local;
  const stored = cte('stored');
  return sql.fragment`${stored} AS (
      INSERT INTO room.events (event_id, room_id, type, state_key, sender, depth, pdu, auth_events, prev_events,
                               stream_revision, stream_position, rejected, soft_failed, outlier, state_group)
      SELECT ${event.event_id}, ${event.room_id}, ${event.type}, ${event.state_key ?? null}, ${event.sender}, ${event.depth},
             ${JSON.stringify(fact.pdu)}::jsonb, ${sql.array([...event.auth_events], 'text')}, ${sql.array([...event.prev_events], 'text')},
             ${revision}, ${position}, false, ${fact.soft_failed}, false, r.state_group
        FROM room.rooms r WHERE r.room_id = ${fact.room_id}
      RETURNING event_id
    ), ${cte('gone')} AS (
      DELETE FROM room.forward_extremities
       WHERE room_id = ${fact.room_id} AND NOT (event_id = ANY(${sql.array(fact.forward_extremities, 'text')}))
    ), ${cte('added')} AS (
      INSERT INTO room.forward_extremities (room_id, event_id)
      SELECT ${fact.room_id}, unnest(${sql.array(fact.forward_extremities, 'text')}) ON CONFLICT DO NOTHING
    ), ${cte('txn')} AS (
      INSERT INTO room.client_transactions (user_id, device_id, txn_id, scope, room_id, event_id)
      SELECT ${local?.user_id ?? ''}, ${local?.device_id ?? ''}, ${local?.txn_id ?? ''}, ${local?.txn_scope ?? ''}, ${fact.room_id}, event_id
        FROM ${stored} WHERE ${local !== undefined}
    )`;
}

/**
 * The writes of a timeline event appended with `appendWithWrites`: {@link timelineEventWrites}
 * with the record's revision and position read from `cte('appended')`, and the room's stream
 * revision moved.
 *
 * The text depends only on `cte` (one naming per member of a grouped statement), so it is
 * composed with slonik once per `cte` and kept; later events only gather their values
 * ({@link timelineAppendValues}, checked against slonik's on that first composition).
 */
export function timelineAppendWrites(event: RoomEvent, fact: RoomEventAccepted): AppendWrites {
  return (cte) => {
    const text = timelineAppendTexts.get(cte);
    if (text !== undefined) return { ...EMPTY_FRAGMENT, sql: text, values: timelineAppendValues(event, fact) };
    const composed = composeTimelineAppendWrites(event, fact, cte);
    if (isDeepStrictEqual(composed.values, timelineAppendValues(event, fact))) timelineAppendTexts.set(cte, composed.sql);
    return composed;
  };
}

const EMPTY_FRAGMENT = sql.fragment``;
const timelineAppendTexts = new WeakMap<AppendCteNames, string>();

/** {@link timelineAppendWrites} composed with slonik. */
export function composeTimelineAppendWrites(event: RoomEvent, fact: RoomEventAccepted, cte: AppendCteNames): FragmentSqlToken {
  const revision = sql.fragment`(SELECT revision FROM ${cte('appended')})`;
  const position = sql.fragment`(SELECT position FROM ${cte('appended')})`;
  return sql.fragment`${timelineEventWrites(event, fact, revision, position, cte)},
    ${cte('stream_revision')} AS (UPDATE room.rooms SET stream_revision = ${revision} WHERE room_id = ${fact.room_id})`;
}

/** The values of {@link composeTimelineAppendWrites}, in the order its text binds them. */
export function timelineAppendValues(event: RoomEvent, fact: RoomEventAccepted): PrimitiveValueExpression[] {
  const local = fact.local;
  const room = fact.room_id;
  return [
    event.event_id, event.room_id, event.type, event.state_key ?? null, event.sender, event.depth,
    JSON.stringify(fact.pdu), [...event.auth_events], [...event.prev_events], fact.soft_failed, room,
    room, fact.forward_extremities,
    room, fact.forward_extremities,
    local?.user_id ?? '', local?.device_id ?? '', local?.txn_id ?? '', local?.txn_scope ?? '', room, local !== undefined,
    room,
  ];
}

async function applyRejected(tx: CommonQueryMethods, fact: RoomEventRejected, record: RoomStreamRecord): Promise<void> {
  const event = normalized(fact.pdu, fact.room_version, fact.event_id);
  await insertEvent(tx, event, fact.pdu, record, { softFailed: false, outlier: false, rejected: true, roomVersion: fact.room_version });
  // The state before it, for the events that name it as a prev event.
  for (const group of fact.state_groups ?? []) await insertStateGroup(tx, fact.room_id, group);
  if (fact.event_group !== undefined) {
    await tx.query(sql.unsafe`UPDATE room.events SET state_group = ${fact.event_group} WHERE event_id = ${fact.event_id}`);
  }
}

async function insertEvent(
  tx: CommonQueryMethods,
  event: RoomEvent,
  pdu: Pdu,
  record: RoomStreamRecord,
  flags: { softFailed: boolean; outlier: boolean; rejected: boolean; roomVersion: string },
): Promise<void> {
  await tx.query(sql.unsafe`
    INSERT INTO room.events (event_id, room_id, type, state_key, sender, depth, pdu, auth_events, prev_events,
                             stream_revision, stream_position, rejected, soft_failed, outlier, room_version)
    VALUES (${event.event_id}, ${event.room_id}, ${event.type}, ${event.state_key ?? null}, ${event.sender}, ${event.depth},
            ${sql.jsonb(pdu as never)}, ${sql.array([...event.auth_events], 'text')}, ${sql.array([...event.prev_events], 'text')},
            ${record.revision.toString()}, ${record.position.toString()}, ${flags.rejected}, ${flags.softFailed}, ${flags.outlier}, ${flags.roomVersion})
    ON CONFLICT (event_id) DO UPDATE
      SET outlier = false, soft_failed = excluded.soft_failed, rejected = excluded.rejected,
          stream_revision = excluded.stream_revision, stream_position = excluded.stream_position
      WHERE room.events.outlier AND NOT excluded.outlier`);
}

const groupRow = z.object({ state_group: z.string().nullable(), chain_length: z.number().nullable() });

/**
 * A new state group named after `eventId`: a delta on the room's current group, or a full copy
 * of the current state when there is no group yet or the chain has grown long.
 */
async function writeStateGroup(
  tx: CommonQueryMethods,
  roomId: string,
  eventId: string,
  added: readonly { type: string; state_key: string; event_id: string }[],
  removed: readonly { type: string; state_key: string }[],
): Promise<void> {
  const found = await tx.maybeOne(sql.type(groupRow)`
    SELECT r.state_group, g.chain_length FROM room.rooms r LEFT JOIN room.state_groups g ON g.group_id = r.state_group
     WHERE r.room_id = ${roomId}`);
  const current = found ? groupRow.parse(found) : undefined;
  const prev = current?.state_group ?? null;
  const chain = prev === null ? 0 : (current?.chain_length ?? 0) + 1;
  if (prev === null || chain > MAX_STATE_GROUP_CHAIN) {
    await tx.query(sql.unsafe`INSERT INTO room.state_groups (group_id, room_id, prev_group, chain_length) VALUES (${eventId}, ${roomId}, NULL, 0)`);
    await tx.query(sql.unsafe`INSERT INTO room.state_group_entries (group_id, type, state_key, event_id)
      SELECT ${eventId}, type, state_key, event_id FROM room.current_state WHERE room_id = ${roomId}`);
  } else {
    await tx.query(sql.unsafe`INSERT INTO room.state_groups (group_id, room_id, prev_group, chain_length) VALUES (${eventId}, ${roomId}, ${prev}, ${chain})`);
    const entries: [string, string, string | null][] = [
      ...removed.map((e): [string, string, string | null] => [e.type, e.state_key, null]),
      ...added.map((e): [string, string, string | null] => [e.type, e.state_key, e.event_id]),
    ];
    await tx.query(sql.unsafe`INSERT INTO room.state_group_entries (group_id, type, state_key, event_id)
      SELECT ${eventId}, x.type, x.state_key, x.event_id
        FROM ${sql.unnest(entries, ['text', 'text', 'text'])} AS x(type, state_key, event_id)`);
  }
  await tx.query(sql.unsafe`UPDATE room.rooms SET state_group = ${eventId} WHERE room_id = ${roomId}`);
}
