/**
 * The public room directory projection: for every room, whether it is published in this
 * server's directory (`RoomVisibilitySet`), its joined member count and the summary the
 * directory shows (name, topic, canonical alias, avatar, join rule, room type, world
 * readable, guest access), kept from the facts' state deltas.
 *
 * Tables (queries read the views in `proj_directory`):
 * - `state_events`: the content of the summary and member events seen, so that state entries
 *   a fact adds by event id (a join through another server brings the room's state as
 *   outliers first) can be applied.
 * - `rooms`: one row per room with its summary and `published`; listed rooms are read in the
 *   directory's order (joined members, then room id) through a partial index.
 * - `members`: the joined members of each room now (the count is theirs).
 * - `network_rooms`: the rooms application services published in their networks'
 *   directories (`RoomNetworkVisibilitySet`), by instance id.
 *
 * Only the current state counts, so soft-failed, rejected and backfilled events change
 * nothing. A purged room leaves the directory.
 */
import { sql, type DatabaseTransactionConnection } from 'slonik';
import {
  ROOM_EVENT_ACCEPTED,
  ROOM_NETWORK_VISIBILITY_SET,
  ROOM_PURGED,
  ROOM_VISIBILITY_SET,
  parseStreamName,
  type RoomNetworkVisibilitySet,
  type RoomEventAccepted,
  type RoomPurged,
  type RoomVisibilitySet,
  type StateEntry,
} from '@hs/contracts';
import type { Projector, RecordedEvent } from '@hs/eventstore';
import { isValidRoomAlias, type JsonObject, type JsonValue } from '@hs/protocol';

export const DIRECTORY_PROJECTION = 'directory';

/** The state the directory shows, each kept under its state key `''`. */
const SUMMARY_TYPES = new Set([
  'm.room.name',
  'm.room.topic',
  'm.room.canonical_alias',
  'm.room.avatar',
  'm.room.join_rules',
  'm.room.create',
  'm.room.history_visibility',
  'm.room.guest_access',
]);

const tracked = (entry: { type: string; state_key: string }) =>
  entry.type === 'm.room.member' || (SUMMARY_TYPES.has(entry.type) && entry.state_key === '');

function isAccepted(data: unknown): data is RoomEventAccepted {
  const d = data as Partial<RoomEventAccepted> | null;
  return !!d && d.v === 1 && typeof d.event_id === 'string' && typeof d.room_id === 'string' && !!d.pdu && !!d.state_delta;
}

function isVisibilitySet(data: unknown): data is RoomVisibilitySet {
  const d = data as Partial<RoomVisibilitySet> | null;
  return !!d && d.v === 1 && typeof d.room_id === 'string' && (d.visibility === 'public' || d.visibility === 'private');
}

function isNetworkVisibilitySet(data: unknown): data is RoomNetworkVisibilitySet {
  const d = data as Partial<RoomNetworkVisibilitySet> | null;
  return !!d && d.v === 1 && typeof d.room_id === 'string' && typeof d.instance_id === 'string' && (d.visibility === 'public' || d.visibility === 'private');
}

function isPurged(data: unknown): data is RoomPurged {
  const d = data as Partial<RoomPurged> | null;
  return !!d && d.v === 1 && typeof d.room_id === 'string';
}

function isObject(value: JsonValue | undefined): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Whether a fact brings or changes anything the directory follows. */
function concerns(fact: RoomEventAccepted): boolean {
  if (fact.backfilled) return false;
  const pdu = fact.pdu as { type: string; state_key?: unknown };
  if (typeof pdu.state_key === 'string' && tracked({ type: pdu.type, state_key: pdu.state_key })) return true;
  return fact.state_delta.added.some(tracked) || fact.state_delta.removed.some(tracked);
}

/** A room's row as the directory keeps it. */
export interface DirectoryRoomRow {
  room_id: string;
  published: boolean;
  name: string | null;
  topic: string | null;
  canonical_alias: string | null;
  avatar_url: string | null;
  join_rule: string | null;
  room_type: string | null;
  world_readable: boolean;
  guest_can_join: boolean;
}

const text = (value: JsonValue | undefined): string | null => (typeof value === 'string' && value !== '' ? value : null);

/** What a summary event (or its absence, `content` undefined) sets in the room's row. */
function applySummary(row: DirectoryRoomRow, type: string, content: JsonObject | undefined): void {
  switch (type) {
    case 'm.room.name':
      row.name = text(content?.name);
      break;
    case 'm.room.topic':
      row.topic = text(content?.topic);
      break;
    case 'm.room.canonical_alias': {
      const alias = text(content?.alias);
      row.canonical_alias = alias !== null && isValidRoomAlias(alias) ? alias : null;
      break;
    }
    case 'm.room.avatar':
      row.avatar_url = text(content?.url);
      break;
    case 'm.room.join_rules':
      row.join_rule = text(content?.join_rule);
      break;
    case 'm.room.create':
      row.room_type = text(content?.type);
      break;
    case 'm.room.history_visibility':
      row.world_readable = content?.history_visibility === 'world_readable';
      break;
    case 'm.room.guest_access':
      row.guest_can_join = content?.guest_access === 'can_join';
      break;
    default:
      break;
  }
}

/**
 * What a search term is looked for in: the name, topic and canonical alias, lower-cased, one
 * per line (a term never spans two of them: terms are matched without their line breaks).
 */
export function searchText(row: Pick<DirectoryRoomRow, 'name' | 'topic' | 'canonical_alias'>): string {
  return [row.name, row.topic, row.canonical_alias]
    .filter((field): field is string => field !== null)
    .map((field) => field.replace(/\n/g, ' ').toLowerCase())
    .join('\n');
}

const emptyRow = (roomId: string): DirectoryRoomRow => ({
  room_id: roomId,
  published: false,
  name: null,
  topic: null,
  canonical_alias: null,
  avatar_url: null,
  join_rule: null,
  room_type: null,
  world_readable: false,
  guest_can_join: false,
});

interface Content {
  type: string;
  content: JsonObject;
}

export class DirectoryProjector implements Projector {
  readonly name = DIRECTORY_PROJECTION;
  readonly version = 1;
  readonly eventTypes = [ROOM_EVENT_ACCEPTED, ROOM_VISIBILITY_SET, ROOM_NETWORK_VISIBILITY_SET, ROOM_PURGED];
  readonly tables = ['state_events', 'rooms', 'members', 'network_rooms'] as const;

  wants(event: RecordedEvent): boolean {
    if (parseStreamName(event.stream)?.kind !== 'room') return false;
    if (event.type === ROOM_EVENT_ACCEPTED) return isAccepted(event.data) && concerns(event.data);
    return event.type === ROOM_VISIBILITY_SET || event.type === ROOM_NETWORK_VISIBILITY_SET || event.type === ROOM_PURGED;
  }

  async setup(tx: DatabaseTransactionConnection): Promise<void> {
    await tx.query(sql.unsafe`CREATE TABLE state_events (event_id text PRIMARY KEY, type text NOT NULL, content jsonb NOT NULL)`);
    await tx.query(sql.unsafe`CREATE TABLE rooms (
      room_id text PRIMARY KEY,
      published boolean NOT NULL,
      joined_members integer NOT NULL DEFAULT 0,
      name text,
      topic text,
      canonical_alias text,
      avatar_url text,
      join_rule text,
      room_type text,
      world_readable boolean NOT NULL,
      guest_can_join boolean NOT NULL,
      search_text text NOT NULL DEFAULT ''
    )`);
    await tx.query(sql.unsafe`CREATE INDEX rooms_listed ON rooms (joined_members DESC, room_id COLLATE "C") WHERE published`);
    await tx.query(sql.unsafe`CREATE TABLE members (room_id text NOT NULL, user_id text NOT NULL, PRIMARY KEY (room_id, user_id))`);
    await tx.query(sql.unsafe`CREATE TABLE network_rooms (instance_id text NOT NULL, room_id text NOT NULL, PRIMARY KEY (instance_id, room_id))`);
    await tx.query(sql.unsafe`CREATE INDEX network_rooms_by_room ON network_rooms (room_id)`);
  }

  async handle(batch: RecordedEvent[], tx: DatabaseTransactionConnection): Promise<void> {
    const facts: RoomEventAccepted[] = [];
    const roomIds = new Set<string>();
    for (const record of batch) {
      const data = record.data;
      if (record.type === ROOM_EVENT_ACCEPTED && isAccepted(data) && concerns(data)) facts.push(data);
      else if (record.type === ROOM_VISIBILITY_SET && isVisibilitySet(data)) roomIds.add(data.room_id);
      else if (record.type === ROOM_PURGED && isPurged(data)) roomIds.add(data.room_id);
      else if (record.type === ROOM_NETWORK_VISIBILITY_SET && isNetworkVisibilitySet(data)) roomIds.add(data.room_id);
    }
    for (const fact of facts) roomIds.add(fact.room_id);
    if (roomIds.size === 0) return;

    // The contents of the events the batch's state entries name: its own, then those seen before.
    const contents = new Map<string, Content>();
    for (const fact of facts) {
      const pdu = fact.pdu as { type: string; state_key?: unknown; content?: unknown };
      if (typeof pdu.state_key === 'string' && tracked({ type: pdu.type, state_key: pdu.state_key }) && isObject(pdu.content as JsonValue)) {
        const content = pdu.content as JsonObject;
        // Of a member event, the membership is all that counts.
        contents.set(fact.event_id, { type: pdu.type, content: pdu.type === 'm.room.member' ? { membership: content.membership ?? null } : content });
      }
    }
    if (contents.size > 0) {
      const held = [...contents];
      await tx.query(sql.unsafe`INSERT INTO state_events (event_id, type, content)
        SELECT * FROM unnest(${sql.array(held.map(([id]) => id), 'text')}, ${sql.array(held.map(([, c]) => c.type), 'text')},
                             ${sql.array(held.map(([, c]) => JSON.stringify(c.content)), 'jsonb')})
        ON CONFLICT (event_id) DO NOTHING`);
    }
    const wanted = new Set(facts.flatMap((f) => f.state_delta.added).filter((e) => tracked(e) && !contents.has(e.event_id)).map((e) => e.event_id));
    if (wanted.size > 0) {
      const rows = (await tx.any(sql.unsafe`SELECT event_id, type, content FROM state_events
        WHERE event_id = ANY(${sql.array([...wanted], 'text')})`)) as unknown as (Content & { event_id: string })[];
      for (const row of rows) contents.set(row.event_id, row);
    }

    const rows = new Map<string, DirectoryRoomRow>();
    for (const row of (await tx.any(sql.unsafe`
      SELECT room_id, published, name, topic, canonical_alias, avatar_url, join_rule, room_type, world_readable, guest_can_join
        FROM rooms WHERE room_id = ANY(${sql.array([...roomIds], 'text')})`)) as unknown as DirectoryRoomRow[]) {
      rows.set(row.room_id, row);
    }
    const rowOf = (roomId: string) => {
      let row = rows.get(roomId);
      if (!row) rows.set(roomId, (row = emptyRow(roomId)));
      return row;
    };
    // Member changes in store order: the last change of each (room, user) wins.
    const members = new Map<string, { roomId: string; userId: string; joined: boolean }>();
    const purged = new Set<string>();
    const networks = new Map<string, { instanceId: string; roomId: string; listed: boolean }>();
    const apply = (roomId: string, entry: StateEntry, content: JsonObject | undefined) => {
      if (entry.type === 'm.room.member') {
        members.set(JSON.stringify([roomId, entry.state_key]), { roomId, userId: entry.state_key, joined: content?.membership === 'join' });
      } else applySummary(rowOf(roomId), entry.type, content);
    };
    for (const record of batch) {
      const data = record.data;
      if (record.type === ROOM_VISIBILITY_SET && isVisibilitySet(data)) {
        rowOf(data.room_id).published = data.visibility === 'public';
        continue;
      }
      if (record.type === ROOM_NETWORK_VISIBILITY_SET && isNetworkVisibilitySet(data)) {
        networks.set(JSON.stringify([data.instance_id, data.room_id]), { instanceId: data.instance_id, roomId: data.room_id, listed: data.visibility === 'public' });
        continue;
      }
      if (record.type === ROOM_PURGED && isPurged(data)) {
        purged.add(data.room_id);
        for (const [key, change] of networks) if (change.roomId === data.room_id) networks.delete(key);
        rows.delete(data.room_id);
        for (const [key, change] of members) if (change.roomId === data.room_id) members.delete(key);
        continue;
      }
      if (record.type !== ROOM_EVENT_ACCEPTED || !isAccepted(data) || !concerns(data)) continue;
      const fact = data;
      purged.delete(fact.room_id);
      rowOf(fact.room_id);
      const key = (e: StateEntry) => `${e.type}\u0000${e.state_key}`;
      const added = fact.state_delta.added.filter(tracked);
      const addedKeys = new Set(added.map(key));
      for (const entry of fact.state_delta.removed) if (tracked(entry) && !addedKeys.has(key(entry))) apply(fact.room_id, entry, undefined);
      for (const entry of added) {
        const content = contents.get(entry.event_id);
        // An entry whose event the directory never saw cannot say anything: left as it was.
        if (content) apply(fact.room_id, entry, content.content);
      }
    }
    await this.write(tx, [...rows.values()], [...members.values()], [...purged]);
    const entries = [...networks.values()];
    await writePairs(tx, 'network_rooms', ['instance_id', 'room_id'], entries.map((n) => [n.instanceId, n.roomId, n.listed]));
  }

  private async write(
    tx: DatabaseTransactionConnection,
    rows: DirectoryRoomRow[],
    members: { roomId: string; userId: string; joined: boolean }[],
    purged: string[],
  ): Promise<void> {
    if (purged.length > 0) {
      await tx.query(sql.unsafe`DELETE FROM members WHERE room_id = ANY(${sql.array(purged, 'text')})`);
      await tx.query(sql.unsafe`DELETE FROM network_rooms WHERE room_id = ANY(${sql.array(purged, 'text')})`);
      await tx.query(sql.unsafe`DELETE FROM rooms WHERE room_id = ANY(${sql.array(purged, 'text')})`);
    }
    if (rows.length > 0) {
      const column = <K extends keyof DirectoryRoomRow>(key: K) => rows.map((row) => row[key]);
      await tx.query(sql.unsafe`
        INSERT INTO rooms (room_id, published, name, topic, canonical_alias, avatar_url, join_rule, room_type, world_readable, guest_can_join, search_text)
        SELECT * FROM unnest(${sql.array(column('room_id'), 'text')}, ${sql.array(column('published'), 'bool')},
                             ${sql.array(column('name'), 'text')}, ${sql.array(column('topic'), 'text')},
                             ${sql.array(column('canonical_alias'), 'text')}, ${sql.array(column('avatar_url'), 'text')},
                             ${sql.array(column('join_rule'), 'text')}, ${sql.array(column('room_type'), 'text')},
                             ${sql.array(column('world_readable'), 'bool')}, ${sql.array(column('guest_can_join'), 'bool')},
                             ${sql.array(rows.map(searchText), 'text')})
        ON CONFLICT (room_id) DO UPDATE SET search_text = EXCLUDED.search_text,
          published = EXCLUDED.published, name = EXCLUDED.name, topic = EXCLUDED.topic, canonical_alias = EXCLUDED.canonical_alias,
          avatar_url = EXCLUDED.avatar_url, join_rule = EXCLUDED.join_rule, room_type = EXCLUDED.room_type,
          world_readable = EXCLUDED.world_readable, guest_can_join = EXCLUDED.guest_can_join`);
    }
    if (members.length === 0) return;
    await writePairs(tx, 'members', ['room_id', 'user_id'], members.map((m) => [m.roomId, m.userId, m.joined]));
    const changed = [...new Set(members.map((m) => m.roomId))];
    await tx.query(sql.unsafe`
      UPDATE rooms r SET joined_members = (SELECT count(*) FROM members m WHERE m.room_id = r.room_id)
       WHERE r.room_id = ANY(${sql.array(changed, 'text')})`);
  }
}

/** Rows of a two-column table kept (`true`) or removed (`false`), in two statements. */
async function writePairs(
  tx: DatabaseTransactionConnection,
  table: 'members' | 'network_rooms',
  columns: [string, string],
  rows: readonly (readonly [string, string, boolean])[],
): Promise<void> {
  const [a, b] = columns.map((c) => sql.identifier([c]));
  const name = sql.identifier([table]);
  const gone = rows.filter((r) => !r[2]);
  const kept = rows.filter((r) => r[2]);
  if (gone.length > 0) {
    await tx.query(sql.unsafe`DELETE FROM ${name} t USING unnest(${sql.array(gone.map((r) => r[0]), 'text')}, ${sql.array(gone.map((r) => r[1]), 'text')}) AS g(a, b)
      WHERE t.${a} = g.a AND t.${b} = g.b`);
  }
  if (kept.length > 0) {
    await tx.query(sql.unsafe`INSERT INTO ${name} (${a}, ${b})
      SELECT * FROM unnest(${sql.array(kept.map((r) => r[0]), 'text')}, ${sql.array(kept.map((r) => r[1]), 'text')})
      ON CONFLICT DO NOTHING`);
  }
}
