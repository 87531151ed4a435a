import { randomUUID } from 'node:crypto';
import { sql, type DatabaseTransactionConnection } from 'slonik';
import { z } from 'zod';
import { type Database, openTestDatabase, type TestDatabase } from '@hs/persistence';
import { PostgresEventStore } from '../postgres-event-store';
import type { EventStore, NewEvent, RecordedEvent } from '../types';
import { applyBatch, createNextGeneration, persistCheckpoint, readActive } from './generations';
import { rebuildProjection } from './rebuild';
import { ProjectionRunner, type ProjectionLog } from './runner';
import { selectEvents, type Projector, type WrittenBatch } from './projector';

function ev(type = 'm.test'): NewEvent {
  return { id: `$${randomUUID()}`, type, data: {} };
}

/** One row per applied event; the primary key makes a double application fail loudly. */
function ledger(name: string, version = 1, types: Projector['eventTypes'] = '*'): Projector & { failuresLeft: number } {
  const projector = {
    name,
    version,
    eventTypes: types,
    tables: ['applied'],
    failuresLeft: 0,
    async setup(tx: DatabaseTransactionConnection) {
      await tx.query(sql.unsafe`CREATE TABLE applied (position bigint PRIMARY KEY, type text NOT NULL)`);
    },
    async handle(batch: RecordedEvent[], tx: DatabaseTransactionConnection) {
      for (const e of batch) await tx.query(sql.unsafe`INSERT INTO applied (position, type) VALUES (${e.position}, ${e.type})`);
      if (projector.failuresLeft > 0) {
        projector.failuresLeft--;
        throw new Error(`${name} failed on purpose`);
      }
    },
  };
  return projector;
}

async function appliedCount(db: Database, name: string): Promise<number> {
  return db.pool.oneFirst(
    sql.type(z.object({ n: z.number() }))`SELECT count(*)::int AS n FROM ${sql.identifier([`proj_${name}`, 'applied'])}`,
  );
}

/** The checkpoint stored in the database for the projection's active generation. */
async function storedCheckpoint(db: Database, name: string): Promise<bigint> {
  return (await readActive(db.pool, name))!.checkpoint;
}

/** Counts the subscriptions and the single reads a runner makes of the store. */
function countingStore(store: EventStore): { store: EventStore; subscriptions: number; reads: number } {
  const counts = { store, subscriptions: 0, reads: 0 };
  counts.store = Object.assign(Object.create(store) as EventStore, {
    subscribeToAllBatches: (...args: Parameters<EventStore['subscribeToAllBatches']>) => {
      counts.subscriptions++;
      return store.subscribeToAllBatches(...args);
    },
    readAll: (...args: Parameters<EventStore['readAll']>) => {
      counts.reads++;
      return store.readAll(...args);
    },
  });
  return counts;
}

async function until(condition: () => Promise<boolean>): Promise<void> {
  while (!(await condition())) await new Promise((resolve) => setTimeout(resolve, 10));
}

describe(`ProjectionRunner (${process.env.TEST_DATABASE_URL ? 'PostgreSQL' : 'PGlite'})`, () => {
  let db: Database;
  let store: PostgresEventStore;
  let testDb: TestDatabase;

  beforeAll(async () => {
    testDb = await openTestDatabase('hs_runner', 4);
    db = testDb.db;
    store = await PostgresEventStore.open(db);
  });
  afterAll(async () => {
    await store.close();
    await testDb.close();
  });

  /**
   * Appends a marker event and returns its position: waiting for it waits for everything
   * appended before (on PostgreSQL the head can trail while other transactions are in flight).
   */
  async function mark(): Promise<bigint> {
    return (await store.append('room-!mark:x', 'any', [ev('m.mark')])).position;
  }

  async function visible(position: bigint): Promise<void> {
    await until(async () => (await store.headPosition()) >= position);
  }

  it('applies batches with their checkpoint, resumes exactly where it stopped after a restart', async () => {
    const p = ledger('ledger_restart');
    const first = await store.append('room-!a:x', 'any', [ev(), ev(), ev()]);
    const runner = new ProjectionRunner(db, store, [p], { batchSize: 2 });
    await runner.start();
    await runner.waitFor(first.position);
    expect(await appliedCount(db, p.name)).toBe(3);
    await runner.stop();

    const appended = await store.append('room-!a:x', 'any', [ev(), ev()]);
    const again = new ProjectionRunner(db, store, [ledger('ledger_restart')], { batchSize: 2 });
    await again.start();
    await again.waitFor(appended.position);
    await visible(appended.position);
    // Exactly once: the primary key would have rejected a re-applied event.
    expect(await appliedCount(db, p.name)).toBe(5);
    const [status] = await again.status();
    expect(status).toMatchObject({ name: 'ledger_restart', version: 1, failing: false, lag: 0n });
    expect(status.checkpoint).toBe(appended.position);
    expect(status.head).toBe(appended.position);
    await again.stop();
  });

  it('hands a projector only its event types but still moves its checkpoint', async () => {
    const p = ledger('ledger_types', 1, ['m.wanted']);
    await store.append('room-!b:x', 'any', [ev('m.wanted'), ev('m.other'), ev('m.wanted')]);
    const runner = new ProjectionRunner(db, store, [p]);
    await runner.start();
    const head = await mark();
    await runner.waitFor(head);
    const types = await db.pool.anyFirst(sql.type(z.object({ type: z.string() }))`SELECT type FROM proj_ledger_types.applied`);
    expect(new Set(types)).toEqual(new Set(['m.wanted']));
    expect((await runner.status())[0].checkpoint).toBe(head);
    await runner.stop();
  });

  it('keeps a failing projector at its checkpoint, retries with growing backoff and logs, while the others go on', async () => {
    const healthy = ledger('ledger_healthy');
    const failing = ledger('ledger_failing');
    const logs: Parameters<ProjectionLog>[] = [];
    const runner = new ProjectionRunner(db, store, [healthy, failing], {
      minBackoffMs: 20,
      maxBackoffMs: 200,
      log: (...entry) => logs.push(entry),
    });
    await runner.start();
    await runner.waitFor(await mark());
    const before = (await runner.status()).find((s) => s.name === 'ledger_failing')!.checkpoint;
    const countBefore = await appliedCount(db, failing.name);

    failing.failuresLeft = 4;
    const appended = await store.append('room-!c:x', 'any', [ev(), ev()]);
    await runner.waitFor(appended.position, 'ledger_healthy');
    expect(await appliedCount(db, healthy.name)).toBeGreaterThanOrEqual(2);

    // The failing projector reads the batch on its own schedule: wait until it has failed on
    // it at least once (or already got through).
    const failingStatus = async () => (await runner.status()).find((s) => s.name === 'ledger_failing')!;
    await until(async () => failing.failuresLeft === 0 || (await failingStatus()).failing);
    const during = await failingStatus();
    if (failing.failuresLeft > 0) {
      expect(during.failing).toBe(true);
      expect(during.checkpoint).toBe(before);
      expect(during.lastError).toContain('failed on purpose');
    }
    await runner.waitFor(appended.position, 'ledger_failing');
    // The failed attempts rolled back: each event is applied exactly once.
    expect(await appliedCount(db, failing.name)).toBe(countBefore + 2);
    const failures = logs.filter(([level, , fields]) => level === 'error' && fields.projector === 'ledger_failing');
    expect(failures.map(([, , f]) => f.retryInMs)).toEqual([20, 40, 80, 160]);
    expect((await runner.status()).find((s) => s.name === 'ledger_failing')!.failing).toBe(false);
    await runner.stop();
  });

  it('rebuilds into a new generation when the projector version changes', async () => {
    const v1 = ledger('ledger_versioned', 1);
    const first = new ProjectionRunner(db, store, [v1]);
    await first.start();
    await first.waitFor(await mark());
    await first.stop();
    const total = await appliedCount(db, v1.name);

    const v2 = ledger('ledger_versioned', 2);
    const second = new ProjectionRunner(db, store, [v2]);
    await second.start();
    await second.waitFor(await mark());
    const [status] = await second.status();
    expect(status.generation).toBe(2);
    expect(status.rebuilding).toBe(false);
    expect(await appliedCount(db, v2.name)).toBe(total + 1);
    const schemas = await db.pool.anyFirst(sql.type(z.object({ nspname: z.string() }))`
      SELECT nspname FROM pg_namespace WHERE nspname LIKE 'proj_ledger_versioned%' ORDER BY nspname`);
    expect(schemas).toEqual(['proj_ledger_versioned', 'proj_ledger_versioned_2']);
    await second.stop();
  });

  it('passes over batches with nothing for the projector without writing, and stores that checkpoint at stop', async () => {
    const p = ledger('ledger_skip', 1, ['m.wanted']);
    const reported: bigint[] = [];
    const wrote = new Map<bigint, boolean>();
    const runner = new ProjectionRunner(db, store, [p], {
      batchSize: 1,
      checkpointDelayMs: 3_600_000,
      onCheckpoint: (name, position, changed) => {
        if (name !== 'ledger_skip') return;
        reported.push(position);
        wrote.set(position, changed);
      },
    });
    await runner.start();
    await runner.waitFor(await mark());
    const appliedBefore = await appliedCount(db, p.name);
    const wanted = await store.append('room-!s:x', 'any', [ev('m.wanted')]);
    await runner.waitFor(wanted.position);
    expect(await storedCheckpoint(db, p.name)).toBe(wanted.position);

    const other = await store.append('room-!s:x', 'any', [ev('m.other'), ev('m.other')]);
    await runner.waitFor(other.position);
    // onCheckpoint, waitFor and status see the new position; the database still holds the old one.
    expect(reported[reported.length - 1]).toBe(other.position);
    // The applied batch is reported as written, the passed-over ones as not.
    expect(wrote.get(wanted.position)).toBe(true);
    expect(wrote.get(other.position)).toBe(false);
    const [status] = await runner.status();
    expect(status.checkpoint).toBe(other.position);
    expect(status.lag).toBe(0n);
    expect(await storedCheckpoint(db, p.name)).toBe(wanted.position);

    await runner.stop();
    expect(await storedCheckpoint(db, p.name)).toBe(other.position);
    expect(await appliedCount(db, p.name)).toBe(appliedBefore + 1);
  });

  it('reports what a batch statement wrote, with the checkpoint it started from', async () => {
    const p: Projector = {
      ...ledger('ledger_written', 1, ['m.wanted']),
      // The same rows as handle, in one statement; `written` lists their positions.
      statement: (batch, table) => ({
        writes: [
          sql.fragment`INSERT INTO ${table('applied')} (position, type)
            SELECT * FROM unnest(${sql.array(
              batch.map((e) => e.position),
              'int8',
            )}, ${sql.array(
              batch.map((e) => e.type),
              'text',
            )})`,
        ],
        written: batch.map((e) => e.position),
      }),
    };
    const reports: { position: bigint; wrote: boolean; written?: WrittenBatch }[] = [];
    const runner = new ProjectionRunner(db, store, [p], {
      batchSize: 1,
      onCheckpoint: (name, position, wrote, written) => {
        if (name === p.name) reports.push({ position, wrote, ...(written ? { written } : {}) });
      },
    });
    await runner.start();
    await runner.waitFor(await mark());
    reports.length = 0;
    const skipped = await store.append('room-!w:x', 'any', [ev('m.other')]);
    await runner.waitFor(skipped.position);
    const wanted = await store.append('room-!w:x', 'any', [ev('m.wanted')]);
    await runner.waitFor(wanted.position);
    // The passed-over event is reported without `written`; the applied one with its rows,
    // starting where the previous report ended.
    expect(reports).toEqual([
      { position: skipped.position, wrote: false },
      { position: wanted.position, wrote: true, written: { after: skipped.position, value: [wanted.position] } },
    ]);
    expect(await appliedCount(db, p.name)).toBeGreaterThanOrEqual(1);
    await runner.stop();
  });

  it('a projector with an apply interval gets what lands meanwhile in one batch; the others are not held', async () => {
    const relaxed = Object.assign(ledger('ledger_relaxed'), { applyIntervalMs: 60_000 });
    const batches: number[] = [];
    const handle = relaxed.handle.bind(relaxed);
    relaxed.handle = async (batch, tx) => {
      batches.push(batch.length);
      await handle(batch, tx);
    };
    const prompt = ledger('ledger_prompt');
    // Appended before the start: the relaxed projector's catch-up ends with it (once readers
    // may see it: a page cut short by a transaction in flight elsewhere would end the
    // catch-up early, and the relaxed projector would wait out its interval before `first`).
    const first = await store.append('room-!relaxed:x', 'any', [ev()]);
    await visible(first.position);
    const runner = new ProjectionRunner(db, store, [relaxed, prompt], { batchSize: 100 });
    await runner.start();
    await runner.waitFor(first.position, 'ledger_relaxed');
    const appliedBefore = batches.length;
    const later = [];
    for (let i = 0; i < 3; i++) later.push(await store.append('room-!relaxed:x', 'any', [ev()]));
    // The prompt projector applies them while the relaxed one waits out its interval.
    await runner.waitFor(later[2].position, 'ledger_prompt');
    expect((await runner.status()).find((s) => s.name === 'ledger_relaxed')!.checkpoint).toBeLessThan(later[0].position);
    expect(batches.length).toBe(appliedBefore);
    // Stopping ends the wait; a runner started again applies the three together (once readers
    // may see all three: a transaction in flight elsewhere in the cluster can hold some back).
    await runner.stop();
    await visible(later[2].position);
    const again = new ProjectionRunner(db, store, [relaxed], { batchSize: 100 });
    await again.start();
    await again.waitFor(later[2].position);
    expect(batches.slice(appliedBefore)).toEqual([3]);
    await again.stop();
  });

  it('stores a passed-over checkpoint after a quiet moment', async () => {
    const p = ledger('ledger_quiet', 1, ['m.wanted']);
    const runner = new ProjectionRunner(db, store, [p], { checkpointDelayMs: 20 });
    await runner.start();
    await runner.waitFor(await mark());
    const marked = await mark();
    await runner.waitFor(marked);
    await until(async () => (await storedCheckpoint(db, p.name)) === marked);
    const other = await store.append('room-!q:x', 'any', [ev('m.other')]);
    await runner.waitFor(other.position);
    await until(async () => (await storedCheckpoint(db, p.name)) === other.position);
    await runner.stop();
  });

  it('after a crash resumes from the stored checkpoint: passed-over events are read again, nothing is applied twice or lost', async () => {
    const p = ledger('ledger_crash', 1, ['m.wanted']);
    const first = new ProjectionRunner(db, store, [p], { batchSize: 1, checkpointDelayMs: 3_600_000 });
    await first.start();
    const wanted = await store.append('room-!k:x', 'any', [ev('m.wanted')]);
    const other = await store.append('room-!k:x', 'any', [ev('m.other'), ev('m.other')]);
    await first.waitFor(other.position);
    const applied = await appliedCount(db, p.name);
    expect(await storedCheckpoint(db, p.name)).toBe(wanted.position);
    await first.stop();
    // The process died before it stored the passed-over checkpoint.
    await db.pool.query(sql.unsafe`UPDATE projections.checkpoints SET position = ${wanted.position} WHERE name = ${p.name}`);

    const later = await store.append('room-!k:x', 'any', [ev('m.wanted'), ev('m.other')]);
    const second = new ProjectionRunner(db, store, [ledger('ledger_crash', 1, ['m.wanted'])], { batchSize: 1 });
    await second.start();
    await second.waitFor(later.position);
    expect(await appliedCount(db, p.name)).toBe(applied + 1);
    const [status] = await second.status();
    expect(status).toMatchObject({ checkpoint: later.position, lag: 0n, failing: false });
    await second.stop();
    expect(await storedCheckpoint(db, p.name)).toBe(later.position);
  });

  it('reads the store once for all projectors at the same position', async () => {
    const counted = countingStore(store);
    const projectors = [ledger('ledger_shared_a'), ledger('ledger_shared_b'), ledger('ledger_shared_c', 1, ['m.none'])];
    const runner = new ProjectionRunner(db, counted.store, projectors, { batchSize: 3 });
    await runner.start();
    await runner.waitFor(await mark());
    const appended = await store.append('room-!sh:x', 'any', [ev(), ev(), ev(), ev(), ev()]);
    await runner.waitFor(appended.position);
    expect(counted.subscriptions).toBe(1);
    expect(await appliedCount(db, 'ledger_shared_a')).toBe(await appliedCount(db, 'ledger_shared_b'));
    await runner.stop();
  });

  it('a projector that falls behind does not hold the others back; it catches up alone and applies each event once', async () => {
    const counted = countingStore(store);
    const fast = ledger('ledger_fast');
    const slow = ledger('ledger_slow');
    const runner = new ProjectionRunner(db, counted.store, [fast, slow], {
      batchSize: 1,
      sharedBatches: 2,
      minBackoffMs: 5,
      maxBackoffMs: 10,
      log: () => undefined,
    });
    await runner.start();
    await runner.waitFor(await mark());
    const slowBefore = await appliedCount(db, slow.name);
    const readsBefore = counted.reads;
    // Every attempt fails (and rolls back) until the projector is let through.
    slow.failuresLeft = Number.MAX_SAFE_INTEGER;
    const appended = await store.append('room-!sl:x', 'any', [ev(), ev(), ev(), ev(), ev(), ev(), ev(), ev()]);
    await runner.waitFor(appended.position, 'ledger_fast');
    expect((await runner.status()).find((s) => s.name === 'ledger_slow')!.checkpoint).toBeLessThan(appended.position);
    expect(counted.reads).toBe(readsBefore);
    slow.failuresLeft = 0;
    await runner.waitFor(appended.position, 'ledger_slow');
    // It was more than the kept batches behind: it read the store itself.
    expect(counted.reads).toBeGreaterThan(readsBefore);
    expect(await appliedCount(db, slow.name)).toBe(slowBefore + 8);
    await runner.stop();
  });

  it('rebuilds past trailing batches with nothing to apply and stores their checkpoint', async () => {
    const p = ledger('ledger_rebuild_skip', 1, ['m.wanted']);
    const head = (await store.append('room-!rs:x', 'any', [ev('m.wanted'), ev('m.other'), ev('m.other')])).position;
    await visible(head);
    const wantedTotal = (await store.readAll({ limit: 1000 })).filter((e) => e.type === 'm.wanted').length;
    const result = await rebuildProjection(db, store, p, { batchSize: 1 });
    expect(result.checkpoint).toBe(head);
    expect(await storedCheckpoint(db, p.name)).toBe(head);
    expect(await appliedCount(db, p.name)).toBe(wantedTotal);
  });

  it('applyBatch and persistCheckpoint move a checkpoint only from where it is stored, on the active generation', async () => {
    const p = ledger('ledger_moves');
    const runner = new ProjectionRunner(db, store, [p]);
    await runner.start();
    await runner.stop();
    const { generation, checkpoint } = (await readActive(db.pool, p.name))!;
    await visible((await store.append('room-!m:x', 'any', [ev()])).position);
    const [next] = await store.readAll({ fromPosition: checkpoint, limit: 1 });

    expect(await applyBatch(db.pool, p, generation, checkpoint + 1n, [next], true)).toEqual({ kind: 'moved', checkpoint });
    expect(await persistCheckpoint(db.pool, p, generation, checkpoint + 1n, next.position, true)).toEqual({ kind: 'moved', checkpoint });
    const fresh = await createNextGeneration(db.pool, p);
    expect(await applyBatch(db.pool, p, fresh, 0n, [next], true)).toEqual({ kind: 'inactive' });
    expect(await persistCheckpoint(db.pool, p, fresh, 0n, next.position, true)).toEqual({ kind: 'inactive' });
    expect(await persistCheckpoint(db.pool, p, fresh, 0n, next.position, false)).toEqual({ kind: 'applied', checkpoint: next.position });
    expect(await storedCheckpoint(db, p.name)).toBe(checkpoint);

    expect(await applyBatch(db.pool, p, generation, checkpoint, [next], true)).toEqual({ kind: 'applied', checkpoint: next.position });
    expect(await storedCheckpoint(db, p.name)).toBe(next.position);
    expect(await appliedCount(db, p.name)).toBeGreaterThan(0);
  });

  it('selects events by type, then by the projector\'s wants', () => {
    const events = [ev('a'), ev('b'), ev('a')].map(
      (e, i): RecordedEvent => ({
        ...e,
        stream: i === 2 ? 'receipts-!r:x' : 'room-!r:x',
        revision: 0n,
        position: BigInt(i + 1),
        recordedAt: new Date(),
        metadata: null,
      }),
    );
    const typed = ledger('ledger_select', 1, ['a']);
    expect(selectEvents(typed, events).map((e) => e.position)).toEqual([1n, 3n]);
    const narrowed: Projector = { ...typed, wants: (e) => e.stream.startsWith('room-') };
    expect(selectEvents(narrowed, events).map((e) => e.position)).toEqual([1n]);
    expect(selectEvents({ ...narrowed, eventTypes: '*' }, events).map((e) => e.position)).toEqual([1n, 2n]);
  });

  it('a throwing onCheckpoint does not end the lane: it resumes from the stored checkpoint', async () => {
    const p = ledger('ledger_listener');
    let throws = 1;
    const logs: Parameters<ProjectionLog>[] = [];
    const runner = new ProjectionRunner(db, store, [p], {
      minBackoffMs: 5,
      maxBackoffMs: 10,
      log: (...entry) => logs.push(entry),
      onCheckpoint: () => {
        if (throws > 0) {
          throws--;
          throw new Error('listener failed');
        }
      },
    });
    await runner.start();
    const appended = await store.append('room-!l:x', 'any', [ev(), ev()]);
    await runner.waitFor(appended.position);
    expect(logs.some(([level, , f]) => level === 'error' && String(f.error).includes('listener failed'))).toBe(true);
    expect((await runner.status())[0]).toMatchObject({ checkpoint: appended.position, failing: false });
    await runner.stop();
  });

  it('rejects projector names that cannot name a schema', () => {
    expect(() => new ProjectionRunner(db, store, [ledger('Bad-Name')])).toThrow(/must match/);
  });
});
