/**
 * The read barrier: reads wait until their read models reach the writes acknowledged before
 * them, for at most the configured time; a read model that did not is reported lagging until
 * it catches up. And the event store's record of acknowledged writes, on PGlite (and
 * PostgreSQL when TEST_DATABASE_URL is set): appends that committed, transactions that
 * committed, never a transaction that rolled back.
 */
import { createSqlTag } from 'slonik';
import { openTestDatabase, type TestDatabase } from '@hs/persistence';
import { PostgresEventStore } from './postgres-event-store';
import { ReadBarrier, processHorizon, storeHorizon, type ReadHorizon, type ReadModelLag } from './read-barrier';

function fixedHorizon(): ReadHorizon & { value: bigint } {
  const horizon = { kind: 'test', value: 0n, target: () => horizon.value };
  return horizon;
}

/** Whether the promise settles within `ms`. */
async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  const settled = await Promise.race([promise.then(() => true), late]);
  clearTimeout(timer);
  return settled;
}

describe('ReadBarrier', () => {
  it('answers at once when every read model has reached the horizon, and records a zero wait', async () => {
    const horizon = fixedHorizon();
    const waits: [string, number, boolean][] = [];
    const barrier = new ReadBarrier(horizon, { observe: (name, seconds, timedOut) => waits.push([name, seconds, timedOut]) });
    barrier.declare('sync', 10n);
    barrier.declare('receipts', 12n);
    horizon.value = 10n;
    await barrier.ready(['sync', 'receipts']);
    expect(waits).toEqual([
      ['sync', 0, false],
      ['receipts', 0, false],
    ]);
  });

  it('waits until each read model has applied the acknowledged position', async () => {
    const horizon = fixedHorizon();
    const barrier = new ReadBarrier(horizon, { maxWaitMs: 10_000 });
    barrier.declare('sync');
    barrier.declare('receipts');
    horizon.value = 5n;
    const read = barrier.ready(['sync', 'receipts']);
    expect(await settlesWithin(read, 20)).toBe(false);
    barrier.advance('sync', 7n);
    expect(await settlesWithin(read, 20)).toBe(false);
    barrier.advance('receipts', 4n);
    expect(await settlesWithin(read, 20)).toBe(false);
    barrier.advance('receipts', 5n);
    expect(await settlesWithin(read, 1000)).toBe(true);
    // A write acknowledged after the read began does not hold back a read that already began.
    horizon.value = 9n;
    const next = barrier.ready(['sync']);
    horizon.value = 100n;
    barrier.advance('sync', 9n);
    expect(await settlesWithin(next, 1000)).toBe(true);
  });

  it('waits at most maxWaitMs for a stopped read model, reports it lagging, and stops waiting for it until it caught up', async () => {
    const horizon = fixedHorizon();
    const lags: ReadModelLag[] = [];
    const outcomes: boolean[] = [];
    const barrier = new ReadBarrier(horizon, {
      maxWaitMs: 150,
      onLagging: (lag) => lags.push(lag),
      observe: (_name, _seconds, timedOut) => outcomes.push(timedOut),
    });
    barrier.declare('sync', 3n);
    horizon.value = 8n;
    const started = performance.now();
    await barrier.ready(['sync']);
    const waited = performance.now() - started;
    expect(waited).toBeGreaterThanOrEqual(140);
    expect(outcomes).toEqual([true]);
    expect(lags).toEqual([expect.objectContaining({ readModel: 'sync', position: 3n, target: 8n })]);
    expect(barrier.lagging().map((lag) => lag.readModel)).toEqual(['sync']);

    // While it lags, reads answer at once from what it holds.
    const again = performance.now();
    await barrier.ready(['sync']);
    expect(performance.now() - again).toBeLessThan(100);
    expect(lags).toHaveLength(1);

    // Once it reaches the position the read waited for, it is no longer lagging and reads wait again.
    barrier.advance('sync', 8n);
    expect(barrier.lagging()).toEqual([]);
    horizon.value = 9n;
    const read = barrier.ready(['sync']);
    expect(await settlesWithin(read, 50)).toBe(false);
    barrier.advance('sync', 9n);
    expect(await settlesWithin(read, 1000)).toBe(true);
  });

  it('does not wait when turned off', async () => {
    const horizon = fixedHorizon();
    const barrier = new ReadBarrier(horizon, { enabled: false, maxWaitMs: 10_000 });
    barrier.declare('sync');
    horizon.value = 50n;
    expect(await settlesWithin(barrier.ready(['sync']), 100)).toBe(true);
  });

  it('refuses a read model that was never declared (a wiring error, not a silent pass)', async () => {
    const barrier = new ReadBarrier(fixedHorizon());
    await expect(barrier.ready(['search'])).rejects.toThrow(/search was not declared/);
  });
});

describe('acknowledged writes in the event store', () => {
  let bed: TestDatabase;
  let store: PostgresEventStore;

  beforeAll(async () => {
    bed = await openTestDatabase('hs_read_barrier', 4);
    store = await PostgresEventStore.open(bed.db);
  });

  afterAll(async () => {
    await store.close();
    await bed.close();
  });

  const event = (id: string) => ({ id, type: 'test', data: { id } });

  it('counts appends that committed on their own and transactions that committed, not one that rolled back', async () => {
    const first = await store.append('ack-a', 'any', [event('ack-1')]);
    expect(store.acknowledgedPosition()).toBe(first.position);
    expect(await store.committedHead()).toBe(first.position);

    const sql = createSqlTag();
    const grouped = await store.appendWithWrites('ack-b', 'any', [event('ack-2')], (cte) => sql.fragment`${cte('nothing')} AS (SELECT 1)`);
    expect(store.acknowledgedPosition()).toBe(grouped.position);

    let inside = 0n;
    const committed = await store.transaction(async (tx) => {
      const result = await store.appendInTransaction(tx, 'ack-c', 'any', [event('ack-3')]);
      // Not acknowledged before the transaction commits.
      inside = store.acknowledgedPosition();
      return result;
    });
    expect(inside).toBe(grouped.position);
    expect(store.acknowledgedPosition()).toBe(committed.position);

    await expect(
      store.transaction(async (tx) => {
        await store.appendInTransaction(tx, 'ack-d', 'any', [event('ack-4')]);
        throw new Error('roll back');
      }),
    ).rejects.toThrow('roll back');
    expect(store.acknowledgedPosition()).toBe(committed.position);
    expect(await store.committedHead()).toBe(committed.position);
  });

  it('starts from the committed head when it opens (writes acknowledged before a restart)', async () => {
    const before = await store.append('ack-e', 'any', [event('ack-5')]);
    const reopened = await PostgresEventStore.open(bed.db);
    try {
      expect(reopened.acknowledgedPosition()).toBe(before.position);
      expect(await processHorizon(reopened).target()).toBe(before.position);
    } finally {
      await reopened.close();
    }
  });

  it('the store horizon sees what another process (another store on the database) committed', async () => {
    const other = await PostgresEventStore.open(bed.db);
    try {
      const horizon = storeHorizon(store);
      const written = await other.append('ack-f', 'any', [event('ack-6')]);
      expect(store.acknowledgedPosition()).toBeLessThan(written.position);
      expect(await horizon.target()).toBe(written.position);
    } finally {
      await other.close();
    }
  });
});
