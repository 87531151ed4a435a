import { sql } from 'slonik';
import { openDatabase, type Database } from '@hs/persistence';
import { SyncQueries } from './sync.queries';

let db: Database | undefined;

afterEach(async () => {
  await db?.close();
  db = undefined;
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
});
