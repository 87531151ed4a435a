import { sql } from 'slonik';
import { transactionContext } from 'slonik/dist/contexts/transactionContext';
import { z } from 'zod';
import { openDatabase, type Database } from './database';
import { createTemporaryDatabase, type TemporaryDatabase } from './temporary-database';
import { transactionsInFlight } from './transaction-context';

const count = z.object({ n: z.number() });

/** Whether the storage is enabled (Node 20's AsyncLocalStorage keeps the flag; later versions may not). */
function storageEnabled(): boolean | undefined {
  const flag = (transactionContext as unknown as { enabled?: unknown }).enabled;
  return typeof flag === 'boolean' ? flag : undefined;
}

describe('transactions and slonik\'s transaction storage', () => {
  let db: Database;
  let temporary: TemporaryDatabase | undefined;
  beforeAll(async () => {
    const url = process.env.TEST_DATABASE_URL;
    temporary = url ? await createTemporaryDatabase(url, 'hs_txctx') : undefined;
    db = await openDatabase({ maxConnections: 4, ...(temporary ? { url: temporary.url } : {}) });
    await db.pool.query(sql.unsafe`CREATE TABLE public.tx_rows (tag text NOT NULL)`);
  });
  afterAll(async () => {
    await db?.close();
    await temporary?.drop();
  });

  async function rows(tag: string): Promise<number> {
    return db.pool.oneFirst(sql.type(count)`SELECT count(*)::int AS n FROM public.tx_rows WHERE tag = ${tag}`);
  }

  it('transactions one after the other keep or roll back their writes, and the storage is off after each', async () => {
    await db.pool.transaction(async (tx) => {
      await tx.query(sql.unsafe`INSERT INTO public.tx_rows (tag) VALUES ('one')`);
      expect(transactionsInFlight()).toBe(1);
      if (storageEnabled() !== undefined) expect(storageEnabled()).toBe(true);
    });
    expect(transactionsInFlight()).toBe(0);
    if (storageEnabled() !== undefined) expect(storageEnabled()).toBe(false);
    await expect(
      db.pool.transaction(async (tx) => {
        await tx.query(sql.unsafe`INSERT INTO public.tx_rows (tag) VALUES ('rolled back')`);
        throw new Error('refused');
      }),
    ).rejects.toThrow('refused');
    expect(transactionsInFlight()).toBe(0);
    if (storageEnabled() !== undefined) expect(storageEnabled()).toBe(false);
    expect(await rows('one')).toBe(1);
    expect(await rows('rolled back')).toBe(0);
  });

  // PGlite has one session, held by a transaction until it ends: transactions cannot overlap there.
  const onPostgres = process.env.TEST_DATABASE_URL ? it : it.skip;

  onPostgres('overlapping transactions each keep or roll back their own writes, and the storage is off once none is left', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const first = db.pool.transaction(async (tx) => {
      await tx.query(sql.unsafe`INSERT INTO public.tx_rows (tag) VALUES ('first')`);
      await gate;
      await tx.query(sql.unsafe`INSERT INTO public.tx_rows (tag) VALUES ('first')`);
    });
    const failing = db.pool.transaction(async (tx) => {
      await tx.query(sql.unsafe`INSERT INTO public.tx_rows (tag) VALUES ('failing')`);
      await gate;
      throw new Error('refused');
    });
    const second = db.pool.transaction(async (tx) => {
      await tx.query(sql.unsafe`INSERT INTO public.tx_rows (tag) VALUES ('second')`);
      return 'done';
    });
    expect(await second).toBe('done');
    // Two are still in flight: the storage stays on for them.
    expect(transactionsInFlight()).toBe(2);
    if (storageEnabled() !== undefined) expect(storageEnabled()).toBe(true);
    release();
    await first;
    await expect(failing).rejects.toThrow('refused');
    expect(transactionsInFlight()).toBe(0);
    if (storageEnabled() !== undefined) expect(storageEnabled()).toBe(false);
    expect(await rows('first')).toBe(2);
    expect(await rows('second')).toBe(1);
    expect(await rows('failing')).toBe(0);
  });

  onPostgres('still refuses a query on another connection of the pool inside a transaction, also after the storage was off', async () => {
    for (let round = 0; round < 2; round++) {
      await expect(
        db.pool.transaction(async () => {
          await db.pool.query(sql.unsafe`SELECT 1`);
        }),
      ).rejects.toThrow(/foreign connection|another connection|not associated/i);
      expect(transactionsInFlight()).toBe(0);
    }
  });
});
