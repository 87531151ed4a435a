import { randomUUID } from 'node:crypto';
import { sql } from 'slonik';
import { z } from 'zod';
import { migrate, openDatabase, type Database } from '@hs/persistence';
import { PostgresEventStore, ProjectionRunner, rebuildProjection, readActive, type NewEvent, type Projector, type RebuildProgress } from '@hs/eventstore';
import { receiptsStream, roomStream } from '@hs/contracts';
import { roomSummaryProjector } from './room-summary.projector';
import { getEventTypeCounts, getRoomSummary, listRoomSummaries } from './room-summary.queries';

function ev(type: string): NewEvent {
  return { id: `$${randomUUID()}`, type, data: { body: type } };
}

describe('room_summary projection', () => {
  let db: Database;
  let store: PostgresEventStore;
  let runner: ProjectionRunner;

  beforeAll(async () => {
    db = await openDatabase({ maxConnections: 4 });
    await migrate(db);
    store = await PostgresEventStore.open(db);
    runner = new ProjectionRunner(db, store, [roomSummaryProjector], { batchSize: 7 });
    await runner.start();
  });
  afterAll(async () => {
    await runner.stop();
    await store.close();
    await db.close();
  });

  it('counts events per room, by type, and keeps the last event', async () => {
    await store.append(roomStream('!one:x'), 'no_stream', [ev('m.room.create'), ev('m.room.member'), ev('m.room.message')]);
    await store.append(roomStream('!two:x'), 'no_stream', [ev('m.room.create')]);
    await store.append(receiptsStream('!one:x'), 'any', [ev('m.receipt')]);
    const last = await store.append(roomStream('!one:x'), 2n, [ev('m.room.message')]);
    await runner.waitFor(await store.headPosition());

    const one = await getRoomSummary(db.pool, '!one:x');
    expect(one).toMatchObject({ roomId: '!one:x', eventCount: 4n, lastEventType: 'm.room.message', lastPosition: last.position });
    expect(one!.lastEventAt).toBeInstanceOf(Date);
    const [lastRecorded] = await store.readAll({ fromPosition: last.position - 1n, limit: 1 });
    expect(lastRecorded.position).toBe(last.position);
    expect(one!.lastEventAt.getTime()).toBe(lastRecorded.recordedAt.getTime());
    expect(await getEventTypeCounts(db.pool, '!one:x')).toEqual({ 'm.room.create': 1n, 'm.room.member': 1n, 'm.room.message': 2n });
    expect((await getRoomSummary(db.pool, '!two:x'))?.eventCount).toBe(1n);
    // Receipts streams are not rooms' event streams.
    expect((await listRoomSummaries(db.pool)).map((r) => r.roomId)).toEqual(['!one:x', '!two:x']);
    expect(await getRoomSummary(db.pool, '!nope:x')).toBeNull();
  });

  it('a rebuild produces exactly the rows the live generation held, while the live one keeps serving', async () => {
    for (let i = 0; i < 12; i++) {
      await store.append(roomStream(`!r${i % 4}:x`), 'any', [ev(`t.${i % 3}`), ev('m.room.message')]);
    }
    await runner.waitFor(await store.headPosition());
    const before = await listRoomSummaries(db.pool);
    const countsBefore = await Promise.all(before.map((r) => getEventTypeCounts(db.pool, r.roomId)));
    const activeBefore = (await readActive(db.pool, 'room_summary'))!.generation;

    const progress: RebuildProgress[] = [];
    const servedDuring: unknown[] = [];
    const result = await rebuildProjection(db, store, roomSummaryProjector, {
      batchSize: 5,
      onProgress: async (p) => {
        progress.push(p);
        servedDuring.push(await listRoomSummaries(db.pool));
      },
    });
    // Queries issued while the rebuild ran (between its batches) were answered by the live generation.
    expect(progress.length).toBeGreaterThan(2);
    expect(progress[progress.length - 1].position).toBe(progress[progress.length - 1].head);
    expect(progress.every((p) => p.eventsPerSecond > 0)).toBe(true);
    for (const served of servedDuring) expect(served).toEqual(before);

    expect(result.generation).toBe(activeBefore + 1);
    expect((await readActive(db.pool, 'room_summary'))!.generation).toBe(result.generation);
    expect(await listRoomSummaries(db.pool)).toEqual(before);
    expect(await Promise.all(before.map((r) => getEventTypeCounts(db.pool, r.roomId)))).toEqual(countsBefore);
    const schemas = await db.pool.anyFirst(sql.type(z.object({ nspname: z.string() }))`
      SELECT nspname FROM pg_namespace WHERE nspname LIKE 'proj_room_summary%' ORDER BY nspname`);
    expect(schemas).toEqual(['proj_room_summary', `proj_room_summary_${result.generation}`]);
  });

  it('serves queries and takes new events during a rebuild, and the swapped-in generation has them all', async () => {
    const before = await listRoomSummaries(db.pool);
    const served: number[] = [];
    let appended = 0;
    const rebuild = rebuildProjection(db, store, roomSummaryProjector, {
      batchSize: 4,
      onProgress: async () => {
        // The live generation still answers, with every room it had.
        served.push((await listRoomSummaries(db.pool)).length);
        if (appended < 3) {
          appended++;
          await store.append(roomStream('!during:x'), 'any', [ev('m.room.message')]);
        }
      },
    });
    await rebuild;
    await runner.waitFor(await store.headPosition());
    expect(served.length).toBeGreaterThan(0);
    expect(Math.min(...served)).toBeGreaterThanOrEqual(before.length);
    const during = await getRoomSummary(db.pool, '!during:x');
    expect(during?.eventCount).toBe(BigInt(appended));
    const after = await listRoomSummaries(db.pool);
    expect(after.filter((r) => r.roomId !== '!during:x')).toEqual(before);
  });

  it('writes the same rows through handle as through its one statement', async () => {
    await store.append(roomStream('!same:x'), 'any', [ev('m.room.create'), ev('m.room.message'), ev('m.room.message')]);
    await store.append(roomStream('!same2:x'), 'any', [ev('m.room.create')]);
    await runner.waitFor(await store.headPosition());
    const live = await listRoomSummaries(db.pool);
    const liveCounts = await Promise.all(live.map((r) => getEventTypeCounts(db.pool, r.roomId)));
    let handled = 0;
    const byHandle: Projector = {
      ...roomSummaryProjector,
      statement: undefined,
      handle: (batch, tx) => {
        handled++;
        return roomSummaryProjector.handle(batch, tx);
      },
    };
    // The rebuilt generation is filled by handle only, in batches unlike the runner's.
    await rebuildProjection(db, store, byHandle, { batchSize: 3 });
    expect(handled).toBeGreaterThan(2);
    expect(await listRoomSummaries(db.pool)).toEqual(live);
    expect(await Promise.all(live.map((r) => getEventTypeCounts(db.pool, r.roomId)))).toEqual(liveCounts);
    // And back: one statement per batch reproduces them.
    const statement = jest.spyOn(roomSummaryProjector, 'statement');
    try {
      await rebuildProjection(db, store, roomSummaryProjector, { batchSize: 2 });
      expect(statement).toHaveBeenCalled();
    } finally {
      statement.mockRestore();
    }
    expect(await listRoomSummaries(db.pool)).toEqual(live);
    expect(await Promise.all(live.map((r) => getEventTypeCounts(db.pool, r.roomId)))).toEqual(liveCounts);
  });
});
