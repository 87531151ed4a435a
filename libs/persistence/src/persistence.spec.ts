import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { sql } from 'slonik';
import { z } from 'zod';
import { openDatabase, type Database } from './database';
import type { SessionHeld } from './pglite-session-queue';
import { listMigrations, migrate, MigrationChecksumError, MigrationFailedError, MigrationNameError } from './migrations';
import { defaultMigrationsDir, findPackageRoot } from './repo-root';
import { createTemporaryDatabase } from './temporary-database';

function migrationsDir(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'hs-migrations-'));
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(join(dir, name.split('/')[0]), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
  return dir;
}

const tableNames = z.object({ table_name: z.string() });

describe('persistence', () => {
  it('finds the repository migrations folder from the sources', () => {
    expect(defaultMigrationsDir()).toBe(join(findPackageRoot(), 'migrations'));
    expect(listMigrations(defaultMigrationsDir()).map((m) => m.id)).toContain('eventstore/0001_streams.sql');
  });

  it('rejects a pool size that is not a positive integer', async () => {
    await expect(openDatabase({ maxConnections: 0 })).rejects.toThrow(RangeError);
  });

  it('reports a connection that holds the embedded database while others wait, with its last statement', async () => {
    const reports: SessionHeld[] = [];
    const db = await openDatabase({ maxConnections: 3, onSessionHeld: (held) => reports.push(held) });
    try {
      let waited: Promise<unknown> | undefined;
      await db.pool.transaction(async (tx) => {
        await tx.query(sql.unsafe`SELECT 41 + 1 AS slow_work_inside`);
        // Another connection asks meanwhile; the transaction keeps the session for 2.5 s.
        waited = db.pool.connect((other) => other.query(sql.unsafe`SELECT 1`));
        await new Promise((resolve) => setTimeout(resolve, 2_500));
      });
      await waited;
      expect(reports).toHaveLength(1);
      expect(reports[0]).toMatchObject({ inTransaction: true, waiting: expect.any(Number) });
      expect(reports[0].heldMs).toBeGreaterThanOrEqual(2_000);
      expect(reports[0].lastStatement).toContain('slow_work_inside');
    } finally {
      await db.close();
    }
  }, 30_000);

  describe('migrations on PGlite', () => {
    let db: Database;
    beforeEach(async () => {
      db = await openDatabase({ maxConnections: 3 });
    });
    afterEach(async () => {
      await db.close();
    });

    it('applies files per owner in order, records them, and applies nothing the second time', async () => {
      const dir = migrationsDir({
        'alpha/0001_create.sql': 'CREATE SCHEMA alpha; CREATE TABLE alpha.t (x int);',
        'alpha/0002_add.sql': 'ALTER TABLE alpha.t ADD COLUMN y int; INSERT INTO alpha.t VALUES (1, 2);',
        'beta/0001_create.sql': 'CREATE SCHEMA beta; CREATE TABLE beta.u (z text);',
      });
      const log: string[] = [];
      expect(await migrate(db, { dir, log: (m) => log.push(m) })).toEqual({
        applied: ['alpha/0001_create.sql', 'alpha/0002_add.sql', 'beta/0001_create.sql'],
      });
      expect(log).toContain('applying migration alpha/0002_add.sql');
      expect(await db.pool.oneFirst(sql.type(z.object({ y: z.number() }))`SELECT y FROM alpha.t`)).toBe(2);
      const recorded = await db.pool.any(
        sql.type(z.object({ id: z.string(), checksum: z.string() }))`SELECT id, checksum FROM public.schema_migrations ORDER BY id`,
      );
      expect(recorded.map((r) => r.id)).toEqual(['alpha/0001_create.sql', 'alpha/0002_add.sql', 'beta/0001_create.sql']);
      expect(recorded.every((r) => /^[0-9a-f]{64}$/.test(r.checksum))).toBe(true);
      expect(await migrate(db, { dir })).toEqual({ applied: [] });

      writeFileSync(join(dir, 'beta/0002_more.sql'), 'CREATE TABLE beta.v (w int);');
      expect(await migrate(db, { dir })).toEqual({ applied: ['beta/0002_more.sql'] });
      rmSync(dir, { recursive: true });
    });

    it('stops with MigrationChecksumError naming a changed applied file, applying nothing', async () => {
      const dir = migrationsDir({ 'alpha/0001_create.sql': 'CREATE TABLE public.c1 (x int);' });
      await migrate(db, { dir });
      writeFileSync(join(dir, 'alpha/0001_create.sql'), 'CREATE TABLE public.c1 (x bigint);');
      writeFileSync(join(dir, 'alpha/0002_next.sql'), 'CREATE TABLE public.c2 (x int);');
      const error = await migrate(db, { dir }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(MigrationChecksumError);
      expect((error as Error).message).toContain('alpha/0001_create.sql');
      const tables = await db.pool.anyFirst(sql.type(tableNames)`
        SELECT table_name FROM information_schema.tables WHERE table_name IN ('c1', 'c2') ORDER BY table_name`);
      expect(tables).toEqual(['c1']);
      rmSync(dir, { recursive: true });
    });

    it('rolls back the whole run when a file fails, and names the file', async () => {
      const dir = migrationsDir({
        'alpha/0001_ok.sql': 'CREATE TABLE public.ok1 (x int);',
        'alpha/0002_bad.sql': 'CREATE TABLE public.bad (x nonexistent_type);',
      });
      const error = await migrate(db, { dir }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(MigrationFailedError);
      expect((error as Error).message).toContain('alpha/0002_bad.sql');
      const tables = await db.pool.anyFirst(sql.type(tableNames)`
        SELECT table_name FROM information_schema.tables WHERE table_name = 'ok1'`);
      expect(tables).toEqual([]);
      rmSync(dir, { recursive: true });
    });

    it('refuses files not named NNNN_name.sql', async () => {
      const dir = migrationsDir({ 'alpha/1_bad.sql': 'SELECT 1;' });
      await expect(migrate(db, { dir })).rejects.toBeInstanceOf(MigrationNameError);
      rmSync(dir, { recursive: true });
    });

    it('two migrators starting at once apply each file once', async () => {
      const dir = migrationsDir({
        'alpha/0001_create.sql': 'CREATE TABLE public.once (x int); INSERT INTO public.once VALUES (1);',
      });
      const results = await Promise.all([migrate(db, { dir }), migrate(db, { dir }), migrate(db, { dir })]);
      expect(results.map((r) => r.applied.length).sort()).toEqual([0, 0, 1]);
      expect(await db.pool.oneFirst(sql.type(z.object({ n: z.number() }))`SELECT count(*)::int AS n FROM public.once`)).toBe(1);
      rmSync(dir, { recursive: true });
    });
  });

  it('PGlite: a connection dropped inside a transaction is rolled back, and the database goes on and closes', async () => {
    const db = await openDatabase({ maxConnections: 2 });
    try {
      await db.pool.query(sql.unsafe`CREATE TABLE dropped (x int)`);
      const client = new Client({ connectionString: db.connectionUrl });
      client.on('error', () => undefined);
      await client.connect();
      await client.query('BEGIN');
      await client.query('INSERT INTO dropped VALUES ($1)', [1]);
      (client as unknown as { connection: { stream: { destroy(): void } } }).connection.stream.destroy();
      await db.pool.query(sql.unsafe`INSERT INTO dropped VALUES (2)`);
      expect(await db.pool.anyFirst(sql.type(z.object({ x: z.number() }))`SELECT x FROM dropped ORDER BY x`)).toEqual([2]);
    } finally {
      await db.close();
    }
  }, 20_000);

  it('a PGlite data folder keeps its rows after close and reopens', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'hs-pglite-'));
    const first = await openDatabase({ dataDir });
    expect(first.kind).toBe('pglite');
    expect(first.connectionUrl).toMatch(/^postgres:\/\/postgres@127\.0\.0\.1:\d+\/postgres$/);
    await first.pool.query(sql.unsafe`CREATE TABLE kept (x int)`);
    await first.pool.query(sql.unsafe`INSERT INTO kept VALUES (42)`);
    await first.close();
    await first.close();
    const second = await openDatabase({ dataDir });
    expect(await second.pool.oneFirst(sql.type(z.object({ x: z.number() }))`SELECT x FROM kept`)).toBe(42);
    await second.close();
    rmSync(dataDir, { recursive: true });
  });

  const url = process.env.TEST_DATABASE_URL;
  if (url) {
    it('PostgreSQL: two processes migrating at once apply each file once', async () => {
      const temporary = await createTemporaryDatabase(url, 'hs_persist');
      const a = await openDatabase({ url: temporary.url, maxConnections: 2 });
      const b = await openDatabase({ url: temporary.url, maxConnections: 2 });
      expect(a.kind).toBe('postgres');
      const dir = migrationsDir({
        'alpha/0001_create.sql': 'CREATE TABLE public.once (x int); INSERT INTO public.once VALUES (1);',
        'alpha/0002_slow.sql': 'SELECT pg_sleep(0.2); INSERT INTO public.once VALUES (2);',
      });
      const results = await Promise.all([migrate(a, { dir }), migrate(b, { dir })]);
      expect(results.map((r) => r.applied.length).sort()).toEqual([0, 2]);
      expect(await a.pool.oneFirst(sql.type(z.object({ n: z.number() }))`SELECT count(*)::int AS n FROM public.once`)).toBe(2);
      await a.close();
      await b.close();
      await temporary.drop();
      rmSync(dir, { recursive: true });
    });
  }
});
