/**
 * The user directory projection: who is joined to which room (with the display name and avatar
 * of their member event), which rooms are public for the directory (join rule `public` or
 * history visibility `world_readable`), and each user's directory profile (the profile of
 * their latest join) with its search words.
 *
 * Tables (one schema per generation; queries read the views in `proj_user_directory`):
 * - `state_events`: the member, join rules and history visibility events seen (content), so
 *   that state entries a fact adds by event id (a join through another server brings the
 *   room's whole state as outliers first) can be applied.
 * - `rooms`: per room, its join rule and history visibility now.
 * - `members`: the joined members of each room now, with their per-room profile.
 * - `users`: per user seen joined anywhere, their directory profile and `words` (see `words.ts`).
 *
 * Only the current state counts (a fact's state delta), so soft-failed, rejected and
 * backfilled events change nothing.
 */
import { sql, type DatabaseTransactionConnection } from 'slonik';
import { parseStreamName, ROOM_EVENT_ACCEPTED, type RoomEventAccepted, type StateEntry } from '@hs/contracts';
import type { Projector, RecordedEvent } from '@hs/eventstore';
import type { JsonObject, JsonValue } from '@hs/protocol';
import { wordsColumn } from './words';

export const USER_DIRECTORY_PROJECTION = 'user_directory';

const TRACKED = new Set(['m.room.member', 'm.room.join_rules', 'm.room.history_visibility']);

function isAccepted(data: unknown): data is RoomEventAccepted {
  const d = data as Partial<RoomEventAccepted> | null;
  return !!d && d.v === 1 && typeof d.event_id === 'string' && typeof d.room_id === 'string' && !!d.pdu && !!d.state_delta;
}

function isObject(value: JsonValue | undefined): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Whether a fact brings or changes anything the directory follows. */
function concerns(fact: RoomEventAccepted): boolean {
  if (TRACKED.has(fact.pdu.type)) return true;
  return fact.state_delta.added.some((e) => TRACKED.has(e.type)) || fact.state_delta.removed.some((e) => TRACKED.has(e.type));
}

interface Content {
  type: string;
  state_key: string;
  content: JsonObject;
}

interface Member {
  joined: boolean;
  display_name: string | null;
  avatar_url: string | null;
}

const text = (value: JsonValue | undefined): string | null => (typeof value === 'string' ? value : null);

export class UserDirectoryProjector implements Projector {
  readonly name = USER_DIRECTORY_PROJECTION;
  readonly version = 1;
  readonly eventTypes = [ROOM_EVENT_ACCEPTED];
  readonly tables = ['state_events', 'rooms', 'members', 'users'] as const;

  wants(event: RecordedEvent): boolean {
    return parseStreamName(event.stream)?.kind === 'room' && isAccepted(event.data) && concerns(event.data);
  }

  async setup(tx: DatabaseTransactionConnection): Promise<void> {
    await tx.query(sql.unsafe`CREATE TABLE state_events (
      event_id text PRIMARY KEY,
      type text NOT NULL,
      state_key text NOT NULL,
      content jsonb NOT NULL
    )`);
    await tx.query(sql.unsafe`CREATE TABLE rooms (
      room_id text PRIMARY KEY,
      join_rule text,
      history_visibility text
    )`);
    await tx.query(sql.unsafe`CREATE TABLE members (
      room_id text NOT NULL,
      user_id text NOT NULL,
      display_name text,
      avatar_url text,
      PRIMARY KEY (room_id, user_id)
    )`);
    await tx.query(sql.unsafe`CREATE INDEX members_by_user ON members (user_id)`);
    await tx.query(sql.unsafe`CREATE TABLE users (
      user_id text PRIMARY KEY,
      display_name text,
      avatar_url text,
      words text NOT NULL
    )`);
  }

  async handle(batch: RecordedEvent[], tx: DatabaseTransactionConnection): Promise<void> {
    const facts = batch.map((r): unknown => r.data).filter((d): d is RoomEventAccepted => isAccepted(d) && concerns(d));
    if (facts.length === 0) return;
    const contents = new Map<string, Content>();
    for (const fact of facts) {
      const { type, state_key: stateKey, content } = fact.pdu;
      if (TRACKED.has(type) && typeof stateKey === 'string' && isObject(content as JsonValue)) {
        contents.set(fact.event_id, { type, state_key: stateKey, content: content as JsonObject });
      }
    }
    if (contents.size > 0) {
      const held = [...contents];
      await tx.query(sql.unsafe`INSERT INTO state_events (event_id, type, state_key, content)
        SELECT * FROM unnest(${sql.array(held.map(([id]) => id), 'text')}, ${sql.array(held.map(([, c]) => c.type), 'text')},
                             ${sql.array(held.map(([, c]) => c.state_key), 'text')}, ${sql.array(held.map(([, c]) => JSON.stringify(c.content)), 'jsonb')})
        ON CONFLICT (event_id) DO NOTHING`);
    }
    const wanted = new Set(facts.flatMap((f) => f.state_delta.added).filter((e) => TRACKED.has(e.type) && !contents.has(e.event_id)).map((e) => e.event_id));
    if (wanted.size > 0) {
      const rows = (await tx.any(sql.unsafe`SELECT event_id, type, state_key, content FROM state_events
        WHERE event_id = ANY(${sql.array([...wanted], 'text')})`)) as unknown as (Content & { event_id: string })[];
      for (const row of rows) contents.set(row.event_id, row);
    }

    // The batch's outcome, in store order (the last change of each key wins).
    const joinRules = new Map<string, string | null>();
    const visibilities = new Map<string, string | null>();
    const members = new Map<string, { roomId: string; userId: string; member: Member }>();
    const profiles = new Map<string, Member>();
    const apply = (roomId: string, entry: StateEntry, content: JsonObject | undefined) => {
      if (entry.type === 'm.room.join_rules') joinRules.set(roomId, text(content?.join_rule));
      else if (entry.type === 'm.room.history_visibility') visibilities.set(roomId, text(content?.history_visibility));
      else {
        const member: Member = {
          joined: content?.membership === 'join',
          display_name: text(content?.displayname),
          avatar_url: text(content?.avatar_url),
        };
        members.set(JSON.stringify([roomId, entry.state_key]), { roomId, userId: entry.state_key, member });
        if (member.joined) profiles.set(entry.state_key, member);
      }
    };
    for (const fact of facts) {
      const key = (e: StateEntry) => `${e.type}\u0000${e.state_key}`;
      const added = fact.state_delta.added.filter((e) => TRACKED.has(e.type));
      const addedKeys = new Set(added.map(key));
      for (const entry of fact.state_delta.removed) {
        if (TRACKED.has(entry.type) && !addedKeys.has(key(entry))) apply(fact.room_id, entry, undefined);
      }
      for (const entry of added) {
        const content = contents.get(entry.event_id);
        // An entry whose event the directory never saw cannot say anything: left as it was.
        if (content) apply(fact.room_id, entry, content.content);
      }
    }
    await this.write(tx, joinRules, visibilities, [...members.values()], profiles);
  }

  private async write(
    tx: DatabaseTransactionConnection,
    joinRules: Map<string, string | null>,
    visibilities: Map<string, string | null>,
    members: { roomId: string; userId: string; member: Member }[],
    profiles: Map<string, Member>,
  ): Promise<void> {
    if (joinRules.size > 0) {
      await tx.query(sql.unsafe`INSERT INTO rooms (room_id, join_rule)
        SELECT * FROM unnest(${sql.array([...joinRules.keys()], 'text')}, ${sql.array([...joinRules.values()], 'text')})
        ON CONFLICT (room_id) DO UPDATE SET join_rule = EXCLUDED.join_rule`);
    }
    if (visibilities.size > 0) {
      await tx.query(sql.unsafe`INSERT INTO rooms (room_id, history_visibility)
        SELECT * FROM unnest(${sql.array([...visibilities.keys()], 'text')}, ${sql.array([...visibilities.values()], 'text')})
        ON CONFLICT (room_id) DO UPDATE SET history_visibility = EXCLUDED.history_visibility`);
    }
    const joined = members.filter((m) => m.member.joined);
    const gone = members.filter((m) => !m.member.joined);
    if (gone.length > 0) {
      await tx.query(sql.unsafe`DELETE FROM members m USING unnest(${sql.array(gone.map((g) => g.roomId), 'text')}, ${sql.array(gone.map((g) => g.userId), 'text')}) AS g(room_id, user_id)
        WHERE m.room_id = g.room_id AND m.user_id = g.user_id`);
    }
    if (joined.length > 0) {
      await tx.query(sql.unsafe`INSERT INTO members (room_id, user_id, display_name, avatar_url)
        SELECT * FROM unnest(${sql.array(joined.map((j) => j.roomId), 'text')}, ${sql.array(joined.map((j) => j.userId), 'text')},
                             ${sql.array(joined.map((j) => j.member.display_name), 'text')}, ${sql.array(joined.map((j) => j.member.avatar_url), 'text')})
        ON CONFLICT (room_id, user_id) DO UPDATE SET display_name = EXCLUDED.display_name, avatar_url = EXCLUDED.avatar_url`);
    }
    if (profiles.size > 0) {
      const users = [...profiles];
      await tx.query(sql.unsafe`INSERT INTO users (user_id, display_name, avatar_url, words)
        SELECT * FROM unnest(${sql.array(users.map(([id]) => id), 'text')}, ${sql.array(users.map(([, p]) => p.display_name), 'text')},
                             ${sql.array(users.map(([, p]) => p.avatar_url), 'text')}, ${sql.array(users.map(([id, p]) => wordsColumn(id, p.display_name)), 'text')})
        ON CONFLICT (user_id) DO UPDATE SET display_name = EXCLUDED.display_name, avatar_url = EXCLUDED.avatar_url, words = EXCLUDED.words`);
    }
  }
}
