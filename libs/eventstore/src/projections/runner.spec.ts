import { randomUUID } from 'node:crypto';
import { sql, type DatabaseTransactionConnection } from 'slonik';
import { z } from 'zod';
import { migrate, openDatabase, type Database } from '@hs/persistence';
import { PostgresEventStore } from '../postgres-event-store';
import type { NewEvent, RecordedEvent } from '../types';
import { ProjectionRunner, type ProjectionLog } from './runner';
import type { Projector } from './projector';

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

describe('ProjectionRunner (PGlite)', () => {
  let db: Database;
  let store: PostgresEventStore;

  beforeAll(async () => {
    db = await openDatabase({ maxConnections: 4 });
    await migrate(db);
    store = await PostgresEventStore.open(db);
  });
  afterAll(async () => {
    await store.close();
    await db.close();
  });

  it('applies batches with their checkpoint, resumes exactly where it stopped after a restart', async () => {
    const p = ledger('ledger_restart');
    await store.append('room-!a:x', 'any', [ev(), ev(), ev()]);
    const runner = new ProjectionRunner(db, store, [p], { batchSize: 2 });
    await runner.start();
    await runner.waitFor(await store.headPosition());
    expect(await appliedCount(db, p.name)).toBe(3);
    await runner.stop();

    const appended = await store.append('room-!a:x', 'any', [ev(), ev()]);
    const again = new ProjectionRunner(db, store, [ledger('ledger_restart')], { batchSize: 2 });
    await again.start();
    await again.waitFor(appended.position);
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
    const head = await store.headPosition();
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
    await runner.waitFor(await store.headPosition());
    const before = (await runner.status()).find((s) => s.name === 'ledger_failing')!.checkpoint;
    const countBefore = await appliedCount(db, failing.name);

    failing.failuresLeft = 4;
    const appended = await store.append('room-!c:x', 'any', [ev(), ev()]);
    await runner.waitFor(appended.position, 'ledger_healthy');
    expect(await appliedCount(db, healthy.name)).toBeGreaterThanOrEqual(2);

    const during = (await runner.status()).find((s) => s.name === 'ledger_failing')!;
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
    await first.waitFor(await store.headPosition());
    await first.stop();
    const total = await appliedCount(db, v1.name);

    const v2 = ledger('ledger_versioned', 2);
    const second = new ProjectionRunner(db, store, [v2]);
    await second.start();
    await second.waitFor(await store.headPosition());
    const [status] = await second.status();
    expect(status.generation).toBe(2);
    expect(status.rebuilding).toBe(false);
    expect(await appliedCount(db, v2.name)).toBe(total);
    const schemas = await db.pool.anyFirst(sql.type(z.object({ nspname: z.string() }))`
      SELECT nspname FROM pg_namespace WHERE nspname LIKE 'proj_ledger_versioned%' ORDER BY nspname`);
    expect(schemas).toEqual(['proj_ledger_versioned', 'proj_ledger_versioned_2']);
    await second.stop();
  });

  it('rejects projector names that cannot name a schema', () => {
    expect(() => new ProjectionRunner(db, store, [ledger('Bad-Name')])).toThrow(/must match/);
  });
});
