import { sql } from 'slonik';
import { openDatabase, openTestDatabase, type Database, type TestDatabase } from '@hs/persistence';
import { SyncQueries } from './sync.queries';

let db: Database | undefined;
let testDb: TestDatabase | undefined;

afterEach(async () => {
  await db?.close();
  db = undefined;
  await testDb?.close();
  testDb = undefined;
});

describe('SyncQueries.snapshot', () => {
  // Connections go back to the pool without a reset: a snapshot must end its transaction
  // whatever happens inside it.
  it('ends its transaction when the read fails, so the connection goes back clean', async () => {
    db = await openDatabase({ maxConnections: 1 });
    const queries = new SyncQueries(db.pool);
    const isolation = () => db!.pool.oneFirst(sql.unsafe`SELECT current_setting('transaction_isolation')`);
    const outside = await isolation();
    await expect(
      queries.snapshot(async (conn) => {
        expect(await conn.oneFirst(sql.unsafe`SELECT current_setting('transaction_isolation')`)).toBe('repeatable read');
        throw new Error('read failed');
      }),
    ).rejects.toThrow('read failed');
    expect(await isolation()).toBe(outside);
    await expect(queries.snapshot(async (conn) => conn.oneFirst(sql.unsafe`SELECT 1`))).resolves.toBe(1);
    expect(await isolation()).toBe(outside);
  });

  // Closing it instead would cost PostgreSQL a new process for every client's 403 or 404.
  it('keeps the connection open when the read fails (the same backend serves the next snapshot)', async () => {
    testDb = await openTestDatabase('hs_test_snapshot', 1);
    const queries = new SyncQueries(testDb.db.pool);
    const backend = () => queries.snapshot(async (conn) => conn.oneFirst(sql.unsafe`SELECT pg_backend_pid()`));
    const before = await backend();
    await expect(queries.snapshot(async () => Promise.reject(new Error('not allowed')))).rejects.toThrow('not allowed');
    await expect(queries.snapshot(async (conn) => conn.query(sql.unsafe`SELECT 1 / 0`))).rejects.toThrow(/division by zero/);
    expect(await backend()).toBe(before);
  });
});
