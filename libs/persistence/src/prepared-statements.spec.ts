/**
 * Named prepared statements on the homeserver's PostgreSQL connections (PostgreSQL parts run
 * when TEST_DATABASE_URL is set), and none on the embedded database.
 */
import { sql } from 'slonik';
import { z } from 'zod';
import { createTemporaryDatabase, openDatabase, type Database, type TemporaryDatabase } from './index';
import { APPLICATION_NAME } from './database';
import { PREPARE_AFTER, preparedNameOf } from './prepared-statements';

const names = z.object({ name: z.string() });
const value = z.object({ v: z.number() });

/** Runs `text` n times on one connection and returns the names prepared on that connection. */
async function runOnOneConnection(db: Database, n: number, marker: number): Promise<readonly string[]> {
  return db.pool.connect(async (connection) => {
    for (let i = 0; i < n; i++) {
      expect(await connection.oneFirst(sql.type(value)`SELECT ${marker}::int + ${i}::int - ${i}::int AS v`)).toBe(marker);
    }
    return connection.anyFirst(sql.type(names)`SELECT name FROM pg_prepared_statements`);
  });
}

describe('prepared statements', () => {
  it('the embedded database runs every statement unnamed', async () => {
    const db = await openDatabase({ maxConnections: 2 });
    try {
      expect(await runOnOneConnection(db, PREPARE_AFTER + 3, 7)).toEqual([]);
    } finally {
      await db.close();
    }
  });

  const url = process.env.TEST_DATABASE_URL;
  if (url) {
    describe('PostgreSQL', () => {
      let temporary: TemporaryDatabase;
      let db: Database;
      beforeAll(async () => {
        temporary = await createTemporaryDatabase(url, 'hs_prepared');
        db = await openDatabase({ url: temporary.url, maxConnections: 2 });
      });
      afterAll(async () => {
        await db?.close();
        await temporary?.drop();
      });

      it('connections carry the homeserver application_name', async () => {
        expect(db.connectionUrl).toContain(`application_name=${APPLICATION_NAME}`);
        expect(await db.pool.oneFirst(sql.type(z.object({ a: z.string() }))`SELECT current_setting('application_name') AS a`)).toBe(APPLICATION_NAME);
      });

      it('a statement run a few times is prepared once per connection and then executed by name', async () => {
        const prepared = await runOnOneConnection(db, PREPARE_AFTER + 3, 11);
        const text = 'SELECT $1::int + $2::int - $3::int AS v';
        const name = preparedNameOf(text);
        expect(name).toMatch(/^hs_[0-9a-f]{24}$/);
        expect(prepared).toContain(name);
        // The same connection does not prepare it twice; results stay right.
        expect(await runOnOneConnection(db, 2, 12)).toContain(name);
      });

      it('a prepared statement whose result type changed fails once, then is prepared again under a new name', async () => {
        await db.pool.query(sql.unsafe`CREATE TABLE public.shape_a (x int)`);
        await db.pool.query(sql.unsafe`INSERT INTO public.shape_a VALUES (1)`);
        await db.pool.query(sql.unsafe`CREATE VIEW public.shape AS SELECT x FROM public.shape_a`);
        const read = () => db.pool.connect((c) => c.any(sql.unsafe`SELECT * FROM public.shape WHERE ${1}::int = 1`));
        for (let i = 0; i < PREPARE_AFTER + 1; i++) expect(await read()).toEqual([{ x: 1 }]);
        const text = 'SELECT * FROM public.shape WHERE $1::int = 1';
        const before = preparedNameOf(text);
        expect(before).toBeDefined();
        // A rebuild replaces the view with one of another shape.
        await db.pool.query(sql.unsafe`DROP VIEW public.shape`);
        await db.pool.query(sql.unsafe`CREATE VIEW public.shape AS SELECT x::text AS x, 2 AS y FROM public.shape_a`);
        const outcomes: unknown[] = [];
        for (let i = 0; i < 4; i++) outcomes.push(await read().catch((error: unknown) => error));
        // Each of the two connections may hold the old statement: at most that many failures,
        // and the statement is right again afterwards.
        const failures = outcomes.filter((o) => o instanceof Error);
        expect(failures.length).toBeLessThanOrEqual(2);
        expect(outcomes[outcomes.length - 1]).toEqual([{ x: '1', y: 2 }]);
        expect(preparedNameOf(text)).not.toBe(before);
      });
    });
  }
});
