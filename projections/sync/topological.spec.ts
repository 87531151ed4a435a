/**
 * /messages and /context in topological order (depth, then store position) on rooms whose
 * store order differs from it: an event of a branch that arrived late, and history fetched by
 * backfill (held at its position negated).
 */
import { Client } from 'pg';
import { sql } from 'slonik';
import { encodePaginationToken, encodeSyncToken, parsePaginationPoint, ZERO_SYNC_TOKEN } from '@hs/contracts';
import { rebuildProjection } from '@hs/eventstore';
import { defaultMigrationsDir, listMigrations } from '@hs/persistence';
import { SyncProjector } from './sync.projector';
import { SyncQueries, type MessagesRequest } from './sync.queries';
import { TestRoom, type Sent } from './testing/test-room';
import { openProjectionHarness, type ProjectionHarness } from './testing/harness';

const alice = '@alice:test.local';
const bob = '@bob:test.local';

let h: ProjectionHarness;
let q: SyncQueries;

beforeEach(async () => {
  h = await openProjectionHarness([new SyncProjector()]);
  q = new SyncQueries(h.db.pool, { now: () => 1_700_000_100_000 });
});

afterEach(async () => {
  await h?.close();
});

function bodies(events: { content: { body?: unknown } }[]): unknown[] {
  return events.filter((e) => e.content.body !== undefined).map((e) => e.content.body);
}

function depthOf(sent: Sent): number {
  if (sent.depth === undefined) throw new Error('no depth');
  return sent.depth;
}

/**
 * A room whose store order differs from its DAG order. Store order: create … bob's join
 * (depths 1 to 6), m1, m2, m3, late, m4, then the backfilled h2, h1 (newest first, as a
 * backfill appends). Depths: m1 7, m2 8, m3 9, late 8 (built on m1: a branch that reached us
 * after m3), m4 10 (on m3), h1 7 and h2 8 (a branch on bob's join, fetched from another
 * server, held at negated positions).
 * Topological order: create … bob's join, h1, m1, h2, m2, late, m3, m4.
 */
async function forkedRoom() {
  const room = await TestRoom.create(h.store, alice);
  await room.join(bob);
  const base = { eventId: room.stateEventId('m.room.member', bob) as string, depth: 6 };
  const m1 = await room.message(alice, 'm1');
  const m2 = await room.message(alice, 'm2');
  const m3 = await room.message(alice, 'm3');
  const late = await room.message(bob, 'late', {}, { prevEvents: [{ eventId: m1.eventId, depth: depthOf(m1) }] });
  const m4 = await room.message(alice, 'm4');
  const h1 = room.prepare(bob, 'm.room.message', { msgtype: 'm.text', body: 'h1' }, { prevEvents: [base], backfilled: true });
  const h2 = room.prepare(bob, 'm.room.message', { msgtype: 'm.text', body: 'h2' }, { prevEvents: [{ eventId: h1.eventId, depth: 7 }], backfilled: true });
  await h2.append();
  await h1.append();
  await h.settle();
  return { roomId: room.roomId, m1, m2, m3, late, m4, h1: h1.eventId };
}

const TOPOLOGICAL = ['h1', 'm1', 'h2', 'm2', 'late', 'm3', 'm4'];

async function pages(request: Omit<MessagesRequest, 'from'> & { from?: string }, max = 20) {
  const seen: string[][] = [];
  let from = request.from;
  for (let i = 0; i < max; i++) {
    const page = await q.messages({ ...request, from });
    seen.push(bodies(page.chunk) as string[]);
    if (page.end === undefined) break;
    from = page.end;
  }
  return seen;
}

describe('topological order of /messages and /context', () => {
  it('the room is built as described: store order differs from depth order', async () => {
    const { m1, m2, m3, late, m4 } = await forkedRoom();
    expect([m1, m2, m3, late, m4].map(depthOf)).toEqual([7, 8, 9, 8, 10]);
    expect(late.position > m3.position && m4.position > late.position).toBe(true);
    const stored = (await h.db.pool.any(sql.unsafe`
      SELECT depth, position FROM proj_sync.events WHERE event -> 'content' ->> 'body' IN ('h1', 'h2')
       ORDER BY depth`)) as unknown as { depth: bigint; position: bigint }[];
    expect(stored.map((r) => r.depth)).toEqual([7n, 8n]);
    expect(stored.every((r) => r.position < 0n)).toBe(true);
  });

  it('pages backwards from the live end in (depth, position) order, each event once, with topological tokens', async () => {
    const { roomId } = await forkedRoom();
    const all = await q.messages({ roomId: roomId, viewer: { userId: alice }, dir: 'b', limit: 100 });
    expect(bodies(all.chunk).slice(0, TOPOLOGICAL.length)).toEqual([...TOPOLOGICAL].reverse());
    const byTwo = await pages({ roomId: roomId, viewer: { userId: alice }, dir: 'b', limit: 2 });
    expect(byTwo.slice(0, 4)).toEqual([['m4', 'm3'], ['late', 'm2'], ['h2', 'm1'], ['h1']]);
    // Every event of the room once, none after the room's creation.
    const flat = byTwo.flat();
    expect(new Set(flat).size).toBe(flat.length);
    const first = await q.messages({ roomId: roomId, viewer: { userId: alice }, dir: 'b', limit: 2 });
    expect(first.end).toMatch(/^t[0-9]+-[0-9]+$/);
    expect(parsePaginationPoint(first.end as string)).toMatchObject({ kind: 'topological', depth: 9n });
  });

  it('pages forwards from the start in the same order, and back and forth from a token', async () => {
    const { roomId } = await forkedRoom();
    const forwards = (await pages({ roomId, viewer: { userId: alice }, dir: 'f', limit: 3 })).flat();
    expect(forwards.filter((b) => TOPOLOGICAL.includes(b))).toEqual(TOPOLOGICAL);
    const back = await q.messages({ roomId, viewer: { userId: alice }, dir: 'b', limit: 3 });
    expect(bodies(back.chunk)).toEqual(['m4', 'm3', 'late']);
    // Forwards from where that page ended: the events it returned, oldest first, then the end.
    const again = await q.messages({ roomId, viewer: { userId: alice }, dir: 'f', from: back.end, limit: 10 });
    expect(bodies(again.chunk)).toEqual(['late', 'm3', 'm4']);
    expect(again.start).toBe(back.end);
    expect(parsePaginationPoint(again.end as string)).toMatchObject({ kind: 'topological' });
    // Forwards from the live end: nothing yet, no end.
    const live = await q.messages({ roomId, viewer: { userId: alice }, dir: 'f', from: again.end, limit: 10 });
    expect(live.chunk).toEqual([]);
    expect(live.end).toBeUndefined();
  });

  it('stops at a `to` token in either direction', async () => {
    const { roomId } = await forkedRoom();
    const first = await q.messages({ roomId, viewer: { userId: alice }, dir: 'b', limit: 2 });
    const second = await q.messages({ roomId, viewer: { userId: alice }, dir: 'b', from: first.end, limit: 2 });
    const bounded = await q.messages({ roomId, viewer: { userId: alice }, dir: 'b', to: second.end, limit: 50 });
    expect(bodies(bounded.chunk)).toEqual(['m4', 'm3', 'late', 'm2']);
    const forwards = await q.messages({ roomId, viewer: { userId: alice }, dir: 'f', from: second.end, to: first.end, limit: 50 });
    expect(bodies(forwards.chunk)).toEqual(['m2', 'late']);
  });

  it('takes tokens of /sync and old stream tokens as stream points: the events at or below that store position, in topological order', async () => {
    const { roomId, m3 } = await forkedRoom();
    const prevBatch = encodePaginationToken(m3.position);
    const page = await q.messages({ roomId, viewer: { userId: alice }, dir: 'b', from: prevBatch, limit: 4 });
    // `late` and m4 came after that point of the store: the client has them from /sync.
    expect(bodies(page.chunk)).toEqual(['m3', 'm2', 'h2', 'm1']);
    expect(page.start).toBe(prevBatch);
    const next = await q.messages({ roomId, viewer: { userId: alice }, dir: 'b', from: page.end, limit: 1 });
    expect(bodies(next.chunk)).toEqual(['h1']);
    const sinceToken = encodeSyncToken({ ...ZERO_SYNC_TOKEN, events: m3.position });
    const sameFromSync = await q.messages({ roomId, viewer: { userId: alice }, dir: 'b', from: sinceToken, limit: 4 });
    expect(bodies(sameFromSync.chunk)).toEqual(['m3', 'm2', 'h2', 'm1']);
    // Forwards from a stream point: what came after it in the store, in topological order.
    const after = await q.messages({ roomId, viewer: { userId: alice }, dir: 'f', from: prevBatch, limit: 10 });
    expect(bodies(after.chunk)).toEqual(['late', 'm4']);
    await expect(q.messages({ roomId, viewer: { userId: alice }, dir: 'b', from: 't1-x' })).rejects.toMatchObject({ errcode: 'M_INVALID_PARAM' });
  });

  it('filters and lazy-loads members on topological pages', async () => {
    const { roomId } = await forkedRoom();
    const bobs = await q.messages({ roomId, viewer: { userId: alice }, dir: 'b', limit: 2, filter: { senders: [bob], lazy_load_members: true } });
    expect(bodies(bobs.chunk)).toEqual(['late', 'h2']);
    expect(bobs.state?.map((e) => e.state_key)).toEqual([bob]);
    const rest = await q.messages({ roomId, viewer: { userId: alice }, dir: 'b', from: bobs.end, limit: 5, filter: { senders: [bob], lazy_load_members: true } });
    // h1 was fetched by backfill: its member state is the earliest the room holds.
    expect(bodies(rest.chunk)).toEqual(['h1']);
    expect(rest.state?.map((e) => e.state_key)).toEqual([bob]);
  });

  it('/context gives the events around one in topological order, with tokens that continue from there', async () => {
    const { roomId, m2, h1 } = await forkedRoom();
    const ctx = await q.context(roomId, m2.eventId, { userId: alice }, 4);
    expect(bodies(ctx.events_before)).toEqual(['h2', 'm1']);
    expect(bodies(ctx.events_after)).toEqual(['late', 'm3']);
    const before = await q.messages({ roomId, viewer: { userId: alice }, dir: 'b', from: ctx.start, limit: 1 });
    expect(bodies(before.chunk)).toEqual(['h1']);
    const after = await q.messages({ roomId, viewer: { userId: alice }, dir: 'f', from: ctx.end, limit: 5 });
    expect(bodies(after.chunk)).toEqual(['m4']);
    // Around a backfilled event too.
    const history = await q.context(roomId, ctx.events_before[0].event_id, { userId: alice }, 2);
    expect(bodies([history.event])).toEqual(['h2']);
    expect(bodies(history.events_before)).toEqual(['m1']);
    expect(bodies(history.events_after)).toEqual(['m2']);
    expect(history.state.some((e) => e.state_key === bob)).toBe(true);
    // Alone: the state of history fetched by backfill is the earliest the room holds.
    const alone = await q.context(roomId, h1, { userId: alice }, 0);
    expect(bodies([alone.event])).toEqual(['h1']);
    expect(alone.state.map((e) => e.type)).toContain('m.room.create');
  });

  it('a rebuilt projection answers the same pages', async () => {
    const { roomId } = await forkedRoom();
    const before = await pages({ roomId, viewer: { userId: alice }, dir: 'b', limit: 3 });
    await rebuildProjection(h.db, h.store, new SyncProjector());
    expect(await pages({ roomId, viewer: { userId: alice }, dir: 'b', limit: 3 })).toEqual(before);
  });

  it('the migration gives a generation written before depths existed its depths from the store, and its view the column', async () => {
    const { roomId } = await forkedRoom();
    const expected = await pages({ roomId, viewer: { userId: alice }, dir: 'b', limit: 3 });
    const generation = (await h.db.pool.oneFirst(sql.unsafe`SELECT active_generation FROM projections.projection_generations WHERE name = 'sync'`)) as number;
    const table = sql.identifier([`proj_sync_${generation}`, 'events']);
    // The generation as version 3 of the projector wrote it.
    await h.db.pool.query(sql.unsafe`DROP VIEW proj_sync.events`);
    await h.db.pool.query(sql.unsafe`ALTER TABLE ${table} DROP COLUMN depth`);
    await h.db.pool.query(sql.unsafe`CREATE VIEW proj_sync.events AS SELECT * FROM ${table}`);
    const migration = listMigrations(defaultMigrationsDir()).find((file) => file.id.endsWith('0003_sync_event_depth.sql'));
    if (!migration) throw new Error('no migration');
    const client = new Client({ connectionString: h.db.connectionUrl });
    await client.connect();
    try {
      await client.query(migration.sql);
      await client.query(migration.sql); // twice: nothing more happens
    } finally {
      await client.end();
    }
    expect(await pages({ roomId, viewer: { userId: alice }, dir: 'b', limit: 3 })).toEqual(expected);
    const depths = (await h.db.pool.any(sql.unsafe`SELECT event -> 'content' ->> 'body' AS body, depth FROM proj_sync.events WHERE room_id = ${roomId} AND event -> 'content' ? 'body'
      ORDER BY depth, position`)) as unknown as { body: string; depth: bigint }[];
    expect(depths.map((r) => [r.body, Number(r.depth)])).toEqual([['h1', 7], ['m1', 7], ['h2', 8], ['m2', 8], ['late', 8], ['m3', 9], ['m4', 10]]);
  });
});
