/**
 * PostgresEventStore.appendWithWrites: the append and the caller's writes in one statement,
 * and group commit (appends of other streams made while a statement is in flight travel
 * together in the next one). Runs on PGlite, and on PostgreSQL when TEST_DATABASE_URL is set.
 */
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createSqlTag } from 'slonik';
import { z } from 'zod';
import { createTemporaryDatabase, migrate, openDatabase, sqlState, type Database } from '@hs/persistence';
import { DuplicateEventIdError, WrongExpectedRevisionError } from './errors';
import { PostgresEventStore, type AppendWrites } from './postgres-event-store';
import type { AppendResult, NewEvent } from './types';

const sql = createSqlTag();
const REPO = resolve(__dirname, '../../..');

interface Bed {
  db: Database;
  store: PostgresEventStore;
  close(): Promise<void>;
}

async function openBed(): Promise<Bed> {
  const baseUrl = process.env.TEST_DATABASE_URL;
  const temporary = baseUrl ? await createTemporaryDatabase(baseUrl, 'hs_es_group') : null;
  const db = await openDatabase(temporary ? { url: temporary.url, maxConnections: 6 } : { maxConnections: 6 });
  const dir = mkdtempSync(join(tmpdir(), 'eventstore-migrations-'));
  try {
    symlinkSync(join(REPO, 'migrations', 'eventstore'), join(dir, 'eventstore'));
    await migrate(db, { dir });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  await db.pool.query(sql.unsafe`CREATE TABLE public.group_writes (
    stream text NOT NULL, event_id text PRIMARY KEY, revision bigint NOT NULL, position bigint NOT NULL)`);
  await db.pool.query(sql.unsafe`CREATE TABLE public.group_keys (key text PRIMARY KEY)`);
  await db.pool.query(sql.unsafe`INSERT INTO public.group_keys (key) VALUES ('taken')`);
  // One statement in flight: every append made meanwhile waits for the next (deterministic groups).
  const store = await PostgresEventStore.open(db, { appendStatementsInFlight: 1 });
  return {
    db,
    store,
    async close() {
      await store.close();
      await db.close();
      await temporary?.drop();
    },
  };
}

async function until(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

let counter = 0;
function events(n: number, prefix = 'e'): NewEvent[] {
  return Array.from({ length: n }, () => ({ id: `${prefix}-${++counter}`, type: 'Tested', data: { n: counter } }));
}

/** Writes one row per appended record into group_writes (and optionally claims a unique key). */
function recordWrites(stream: string, claimKey?: string): AppendWrites {
  return (cte) => {
    const rows = sql.fragment`${cte('rows')} AS (
      INSERT INTO public.group_writes (stream, event_id, revision, position)
      SELECT ${stream}, event_id, revision, position FROM ${cte('appended')})`;
    if (claimKey === undefined) return rows;
    return sql.fragment`${rows}, ${cte('claim')} AS (INSERT INTO public.group_keys (key) VALUES (${claimKey}))`;
  };
}

const writtenRow = z.object({ stream: z.string(), event_id: z.string(), revision: z.bigint(), position: z.bigint() });
const xidCount = z.object({ count: z.bigint() });

describe('PostgresEventStore.appendWithWrites (group commit)', () => {
  let bed: Bed;
  beforeAll(async () => {
    bed = await openBed();
  });
  afterAll(async () => {
    await bed?.close();
  });

  async function written(streams: readonly string[]) {
    return bed.db.pool.any(sql.type(writtenRow)`SELECT stream, event_id, revision, position FROM public.group_writes
      WHERE stream = ANY(${sql.array([...streams], 'text')}) ORDER BY position`);
  }
  async function transactionsOf(streams: readonly string[]): Promise<bigint> {
    return bed.db.pool.oneFirst(sql.type(xidCount)`SELECT count(DISTINCT xid::text)::bigint AS count FROM eventstore.events
      WHERE stream_id = ANY(${sql.array([...streams], 'text')})`);
  }

  it('appends of many streams made together all land with their writes, grouped into fewer statements', async () => {
    const streams = Array.from({ length: 20 }, (_, i) => `group-a-${i}`);
    const results = await Promise.all(streams.map((s) => bed.store.appendWithWrites(s, 'no_stream', events(2), recordWrites(s))));
    for (const result of results) {
      expect(result.written).toBe(true);
      expect(result.events.map((e) => e.revision)).toEqual([0n, 1n]);
      expect(result.nextExpectedRevision).toBe(1n);
      expect(result.position).toBe(result.events[1].position);
    }
    // Each caller got its own records, and the writes saw exactly those.
    const rows = await written(streams);
    expect(rows).toHaveLength(40);
    for (let i = 0; i < streams.length; i++) {
      const mine = rows.filter((r) => r.stream === streams[i]);
      expect(mine.map((r) => [r.event_id, r.revision, r.position])).toEqual(results[i].events.map((e) => [e.id, e.revision, e.position]));
    }
    const positions = results.flatMap((r) => r.events.map((e) => e.position));
    expect(new Set(positions).size).toBe(40);
    // The first append went alone; the 19 made while it was in flight shared one statement.
    expect(await transactionsOf(streams)).toBe(2n);
    // Readers see them once no older transaction is in flight anywhere in the cluster (other
    // test files share it).
    const ids = results.flatMap((r) => r.events.map((e) => e.id));
    let stored: string[] = [];
    for (let i = 0; i < 1000; i++) {
      stored = (await bed.store.readAll({ fromPosition: 0n, limit: 1000 })).map((e) => e.id);
      if (ids.every((id) => stored.includes(id))) break;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    for (const id of ids) expect(stored).toContain(id);
  });

  it('with three statements allowed in flight, the first three appends go alone and the rest share the next', async () => {
    const store = await PostgresEventStore.open(bed.db, { appendStatementsInFlight: 3 });
    try {
      const streams = Array.from({ length: 12 }, (_, i) => `group-g-${i}`);
      const results = await Promise.all(streams.map((s) => store.appendWithWrites(s, 'no_stream', events(1), recordWrites(s))));
      expect(results.every((r) => r.written && r.nextExpectedRevision === 0n)).toBe(true);
      expect(await written(streams)).toHaveLength(12);
      expect(await transactionsOf(streams)).toBe(4n);
    } finally {
      await store.close();
    }
  });

  it('keeps the order of one stream: a second append of a stream waits for the next statement', async () => {
    const streams = ['group-b-0', 'group-b-1', 'group-b-2'];
    const calls: Promise<AppendResult>[] = [];
    for (let round = 0; round < 3; round++) {
      for (const s of streams) calls.push(bed.store.appendWithWrites(s, 'any', events(1, `b${round}`), recordWrites(s)));
    }
    const results = await Promise.all(calls);
    for (let i = 0; i < streams.length; i++) {
      const revisions = [0, 1, 2].map((round) => results[round * streams.length + i].events[0].revision);
      expect(revisions).toEqual([0n, 1n, 2n]);
    }
    const rows = await written(streams);
    expect(rows).toHaveLength(9);
  });

  it('a member with a wrong expected revision fails alone; the others of its group land', async () => {
    const streams = Array.from({ length: 6 }, (_, i) => `group-c-${i}`);
    await Promise.all(streams.map((s) => bed.store.appendWithWrites(s, 'no_stream', events(1), recordWrites(s))));
    // Hold the queue with an append in flight so the next six form one group.
    const holder = bed.store.appendWithWrites('group-c-holder', 'no_stream', events(1), recordWrites('group-c-holder'));
    const outcomes = await Promise.allSettled(
      streams.map((s, i) => bed.store.appendWithWrites(s, i === 3 ? 5n : 0n, events(1), recordWrites(s))),
    );
    await holder;
    outcomes.forEach((outcome, i) => {
      if (i === 3) {
        expect(outcome.status).toBe('rejected');
        const error = (outcome as PromiseRejectedResult).reason as WrongExpectedRevisionError;
        expect(error).toBeInstanceOf(WrongExpectedRevisionError);
        expect(error.actual).toBe(0n);
      } else {
        expect(outcome.status).toBe('fulfilled');
        expect((outcome as PromiseFulfilledResult<AppendResult>).value.nextExpectedRevision).toBe(1n);
      }
    });
    const rows = await written(streams);
    expect(rows.filter((r) => r.stream === streams[3])).toHaveLength(1);
    for (const s of streams.filter((_, i) => i !== 3)) expect(rows.filter((r) => r.stream === s)).toHaveLength(2);
    expect((await bed.store.readStream(streams[3])).map((e) => e.revision)).toEqual([0n]);
  });

  it('a member whose writes hit a unique key gets that error unchanged; the others land', async () => {
    const streams = Array.from({ length: 4 }, (_, i) => `group-d-${i}`);
    const holder = bed.store.appendWithWrites('group-d-holder', 'no_stream', events(1), recordWrites('group-d-holder'));
    const outcomes = await Promise.allSettled(
      streams.map((s, i) => bed.store.appendWithWrites(s, 'no_stream', events(1), recordWrites(s, i === 1 ? 'taken' : `key-${s}`))),
    );
    await holder;
    expect(outcomes[1].status).toBe('rejected');
    expect(sqlState((outcomes[1] as PromiseRejectedResult).reason)).toBe('23505');
    expect(await bed.store.readStream(streams[1])).toEqual([]);
    for (const i of [0, 2, 3]) expect(outcomes[i].status).toBe('fulfilled');
    const rows = await written(streams);
    expect(rows.map((r) => r.stream).sort()).toEqual([streams[0], streams[2], streams[3]]);
  });

  it('a member re-using a stored event id gets DuplicateEventIdError; the others land', async () => {
    const taken = events(1, 'dup');
    await bed.store.appendWithWrites('group-e-owner', 'no_stream', taken, recordWrites('group-e-owner'));
    const streams = Array.from({ length: 4 }, (_, i) => `group-e-${i}`);
    const holder = bed.store.appendWithWrites('group-e-holder', 'no_stream', events(1), recordWrites('group-e-holder'));
    const outcomes = await Promise.allSettled(
      streams.map((s, i) => bed.store.appendWithWrites(s, 'no_stream', i === 2 ? taken : events(1), recordWrites(s))),
    );
    await holder;
    expect((outcomes[2] as PromiseRejectedResult).reason).toBeInstanceOf(DuplicateEventIdError);
    for (const i of [0, 1, 3]) expect(outcomes[i].status).toBe('fulfilled');
    expect((await written(streams)).map((r) => r.stream).sort()).toEqual([streams[0], streams[1], streams[3]]);
  });

  it('a grouped append wakes the readers of another store on the database; its own listener ignores the signed NOTIFY', async () => {
    if (bed.db.kind !== 'postgres') return; // NOTIFY reaches other processes on PostgreSQL only
    const other = await PostgresEventStore.open(bed.db);
    const head = await bed.store.headPosition();
    const seenHere: string[] = [];
    const seenThere: string[] = [];
    const here = bed.store.subscribeToAll(head, (e) => void seenHere.push(e.id));
    const there = other.subscribeToAll(head, (e) => void seenThere.push(e.id));
    try {
      await until(() => bed.store.notifier.waiting > 0 && other.notifier.waiting > 0);
      const before = bed.store.notifier.version;
      const grouped = await bed.store.appendWithWrites('group-notify-a', 'no_stream', events(1), recordWrites('group-notify-a'));
      // The other store learns of it only through the NOTIFY.
      await until(() => seenThere.includes(grouped.events[0].id));
      await until(() => seenHere.includes(grouped.events[0].id));
      // A standalone append of the other store notifies after its commit; this store's listener
      // gets it after the grouped append's own notification (one connection, commit order).
      const standalone = await other.append('group-notify-b', 'no_stream', events(1));
      await until(() => seenHere.includes(standalone.events[0].id));
      // One wake from the grouped append (when its statement returned), one from the other
      // store's NOTIFY; none from the grouped append's NOTIFY.
      expect(bed.store.notifier.version - before).toBe(2);
    } finally {
      await here.close();
      await there.close();
      await other.close();
    }
  });

  it('rejects a malformed append before it joins a group', async () => {
    await expect(bed.store.appendWithWrites('', 'any', events(1), recordWrites('x'))).rejects.toThrow('stream name');
    await expect(bed.store.appendWithWrites('group-f', -1n, events(1), recordWrites('group-f'))).rejects.toThrow('expected revision');
  });
});
