/**
 * Test database for the accounts suites: an in-memory PGlite by default, or a fresh
 * temporary database on the PostgreSQL server of TEST_DATABASE_URL. Only the accounts
 * migrations are applied.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Client } from 'pg';
import { createTemporaryDatabase, openDatabase, type Database } from '@hs/persistence';
import { Accounts, AccountsOptions, createAccounts, DatabasePool } from '../src';

export interface TestDatabase {
  kind: Database['kind'];
  pool: DatabasePool;
  close(): Promise<void>;
}

export async function openTestDatabase(): Promise<TestDatabase> {
  const baseUrl = process.env.TEST_DATABASE_URL;
  const temporary = baseUrl ? await createTemporaryDatabase(baseUrl, 'hs_accounts_test') : null;
  const db = await openDatabase(temporary ? { url: temporary.url, maxConnections: 6 } : { maxConnections: 6 });
  try {
    await applyAccountsMigrations(db.connectionUrl);
  } catch (error) {
    await db.close();
    await temporary?.drop();
    throw error;
  }
  return {
    kind: db.kind,
    pool: db.pool,
    async close() {
      await db.close();
      await temporary?.drop();
    },
  };
}

/** A clock the tests move by hand. */
export class ManualClock {
  constructor(public now = 1_700_000_000_000) {}
  readonly read = (): number => this.now;
  advance(ms: number): void {
    this.now += ms;
  }
}

export const SERVER_NAME = 'test.example.org';

/** The accounts services with cheap password hashing and a manual clock. */
export function testAccounts(pool: DatabasePool, clock: ManualClock, options: Partial<AccountsOptions> = {}): Accounts {
  return createAccounts(pool, {
    serverName: SERVER_NAME,
    passwordHashing: { memoryCost: 1024, timeCost: 1, parallelism: 1 },
    clock: clock.read,
    ...options,
  });
}

export interface OpenedAccounts {
  db: TestDatabase;
  clock: ManualClock;
  accounts: Accounts;
}

/**
 * Opens a test database and the accounts services on it (see `testAccounts`) before the tests
 * of the enclosing `describe`, hands them to `use`, and closes both after the tests.
 */
export function useTestAccounts(options: Partial<AccountsOptions>, use: (opened: OpenedAccounts) => void): void {
  let opened: OpenedAccounts | undefined;
  beforeAll(async () => {
    const db = await openTestDatabase();
    const clock = new ManualClock();
    opened = { db, clock, accounts: testAccounts(db.pool, clock, options) };
    use(opened);
  });
  afterAll(async () => {
    await opened?.accounts.close();
    await opened?.db.close();
  });
}

/** Runs `fn` and returns the error it throws (failing when it does not throw). */
export async function caught(fn: () => Promise<unknown>): Promise<unknown> {
  try {
    await fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected the call to throw');
}

/** Applies migrations/accounts/*.sql in order, each file as one simple-protocol batch. */
async function applyAccountsMigrations(connectionUrl: string): Promise<void> {
  const dir = resolve(__dirname, '../../../migrations/accounts');
  const files = readdirSync(dir).filter((name) => /^\d{4}_[A-Za-z0-9_-]+\.sql$/.test(name)).sort();
  const client = new Client({ connectionString: connectionUrl });
  await client.connect();
  try {
    for (const file of files) await client.query(readFileSync(join(dir, file), 'utf8'));
  } finally {
    await client.end();
  }
}
