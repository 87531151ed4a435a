import { randomUUID } from 'node:crypto';
import { sql } from 'slonik';
import { RECEIPT_RECORDED, receiptsStream, type ReceiptRecorded } from '@hs/contracts';
import type { JsonValue } from '@hs/eventstore';
import { migrate, openDatabase, type Database } from '@hs/persistence';
import { PostgresEventStore, ProjectionRunner, rebuildProjection } from '@hs/eventstore';
import { ReceiptsProjector } from './receipts.projector';
import { readReceiptEvents, receiptsPosition, receiptsSince, receiptsBetween } from './receipts.queries';

const room = '!r:test.local';
const other = '!o:test.local';
let db: Database;
let store: PostgresEventStore;
let runner: ProjectionRunner;

beforeEach(async () => {
  db = await openDatabase({ maxConnections: 4 });
  await migrate(db);
  store = await PostgresEventStore.open(db);
  runner = new ProjectionRunner(db, store, [new ReceiptsProjector()]);
  await runner.start();
});

afterEach(async () => {
  await runner?.stop();
  await store?.close();
  await db?.close();
});

async function record(data: Omit<ReceiptRecorded, 'v' | 'ts'> & { ts?: number }): Promise<bigint> {
  const fact: ReceiptRecorded = { v: 1, ts: 1000, ...data };
  const result = await store.append(receiptsStream(data.room_id), 'any', [
    { id: randomUUID(), type: RECEIPT_RECORDED, data: fact as unknown as JsonValue },
  ]);
  await runner.waitFor(result.position);
  return result.position;
}

describe('receipts projection', () => {
  it('keeps the latest receipt per user, type and thread; private receipts for their owner only', async () => {
    await record({ room_id: room, user_id: '@a:x', receipt_type: 'm.read', event_id: '$1' });
    const middle = await receiptsPosition(db.pool);
    await record({ room_id: room, user_id: '@a:x', receipt_type: 'm.read', event_id: '$2', ts: 2000 });
    await record({ room_id: room, user_id: '@b:x', receipt_type: 'm.read.private', event_id: '$2' });
    await record({ room_id: room, user_id: '@c:x', receipt_type: 'm.read', event_id: '$1', thread_id: '$root' });
    await record({ room_id: other, user_id: '@a:x', receipt_type: 'm.read', event_id: '$9' });
    const head = await receiptsPosition(db.pool);

    const forA = await receiptsSince(db.pool, [room], 0n, head, '@a:x');
    expect(forA.get(room)).toEqual({
      $2: { 'm.read': { '@a:x': { ts: 2000 } } },
      $1: { 'm.read': { '@c:x': { ts: 1000, thread_id: '$root' } } },
    });
    const forB = await receiptsSince(db.pool, [room], 0n, head, '@b:x');
    expect(forB.get(room)?.$2).toEqual({ 'm.read': { '@a:x': { ts: 2000 } }, 'm.read.private': { '@b:x': { ts: 1000 } } });
    const since = await receiptsSince(db.pool, [room, other], middle, head, '@a:x');
    expect([...since.keys()].sort()).toEqual([other, room]);
    expect((await receiptsBetween(db.pool, middle, head)).map((r) => r.room_id)).toEqual(expect.arrayContaining([room, other]));
    expect((await readReceiptEvents(db.pool, room, '@b:x')).sort()).toEqual(['$2']);
    expect(await readReceiptEvents(db.pool, room, '@c:x')).toEqual([]);

    // A rebuild holds the same rows.
    const before = await db.pool.any(sqlAll());
    await rebuildProjection(db, store, new ReceiptsProjector());
    expect(await db.pool.any(sqlAll())).toEqual(before);
  });

  it('only moves a receipt forwards: a receipt for an event not later than the current one is ignored, in a batch and across batches', async () => {
    const read = async (user: string) =>
      (await db.pool.any(sql.unsafe`SELECT event_id FROM proj_receipts.receipts WHERE user_id = ${user}`)).map((r) => r.event_id);
    await record({ room_id: room, user_id: '@a:x', receipt_type: 'm.read', event_id: '$5', event_position: '50' });
    const after = await receiptsPosition(db.pool);
    await record({ room_id: room, user_id: '@a:x', receipt_type: 'm.read', event_id: '$3', event_position: '30' });
    await record({ room_id: room, user_id: '@a:x', receipt_type: 'm.read', event_id: '$5', event_position: '50', ts: 9 });
    expect(await read('@a:x')).toEqual(['$5']);
    // Nothing changed for /sync after the first receipt.
    expect(await receiptsBetween(db.pool, after, await receiptsPosition(db.pool))).toEqual([]);
    await record({ room_id: room, user_id: '@a:x', receipt_type: 'm.read', event_id: '$7', event_position: '70' });
    expect(await read('@a:x')).toEqual(['$7']);
    // One batch: forwards, backwards, forwards again.
    const result = await store.append(
      receiptsStream(room),
      'any',
      [
        ['$2', '20'],
        ['$1', '10'],
        ['$4', '40'],
      ].map(([event_id, event_position]) => ({
        id: randomUUID(),
        type: RECEIPT_RECORDED,
        data: { v: 1, ts: 1, room_id: room, user_id: '@b:x', receipt_type: 'm.read', event_id, event_position } as unknown as JsonValue,
      })),
    );
    await runner.waitFor(result.position);
    expect(await read('@b:x')).toEqual(['$4']);
    // Receipts recorded without the position (older facts) still replace.
    await record({ room_id: room, user_id: '@b:x', receipt_type: 'm.read', event_id: '$0' });
    expect(await read('@b:x')).toEqual(['$0']);
  });

  it('applies a batch in one statement: the last receipt per key wins, as receipt by receipt through handle', async () => {
    const facts: Omit<ReceiptRecorded, 'v'>[] = [
      { room_id: room, user_id: '@a:x', receipt_type: 'm.read', event_id: '$1', ts: 1 },
      { room_id: room, user_id: '@b:x', receipt_type: 'm.read', event_id: '$1', ts: 2 },
      { room_id: room, user_id: '@a:x', receipt_type: 'm.read', event_id: '$2', ts: 3 },
      { room_id: room, user_id: '@a:x', receipt_type: 'm.read', event_id: '$3', ts: 4, thread_id: '$t' },
      { room_id: room, user_id: '@a:x', receipt_type: 'm.read', event_id: '$4', ts: 5 },
      { room_id: other, user_id: '@a:x', receipt_type: 'm.read.private', event_id: '$9', ts: 6 },
    ];
    const projector = new ReceiptsProjector();
    const statement = jest.spyOn(projector, 'statement');
    const handle = jest.spyOn(projector, 'handle');
    await runner.stop();
    runner = new ProjectionRunner(db, store, [projector]);
    await runner.start();
    // One append: one batch holding the same key three times.
    const result = await store.append(receiptsStream(room), 'any', [
      ...facts.map((fact) => ({ id: randomUUID(), type: RECEIPT_RECORDED, data: { v: 1, ...fact } as unknown as JsonValue })),
      { id: randomUUID(), type: RECEIPT_RECORDED, data: { v: 1, room_id: room } },
    ]);
    await runner.waitFor(result.position);
    expect(statement).toHaveBeenCalledTimes(1);
    expect(handle).not.toHaveBeenCalled();
    const rows = await db.pool.any(sqlAll());
    expect(rows.map((r) => [r.room_id, r.user_id, r.thread_id, r.event_id, r.ts])).toEqual([
      [other, '@a:x', '', '$9', 6n],
      [room, '@a:x', '', '$4', 5n],
      [room, '@a:x', '$t', '$3', 4n],
      [room, '@b:x', '', '$1', 2n],
    ]);
    expect(rows[1].position).toBe(result.position - 2n);

    // Receipt by receipt through handle (one event per batch), in a rebuilt generation: the same rows.
    const byHandle = new ReceiptsProjector();
    const handled = jest.spyOn(byHandle, 'handle');
    Object.assign(byHandle, { statement: undefined });
    await rebuildProjection(db, store, byHandle, { batchSize: 1 });
    expect(handled).toHaveBeenCalledTimes(facts.length + 1);
    expect(await db.pool.any(sqlAll())).toEqual(rows);
  });
});

function sqlAll() {
  return sql.unsafe`SELECT * FROM proj_receipts.receipts ORDER BY room_id, user_id, receipt_type, thread_id`;
}
