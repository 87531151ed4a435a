import { sql, type DatabaseTransactionConnection } from 'slonik';
import { z } from 'zod';
import { type Database, openTestDatabase, type TestDatabase } from '@hs/persistence';
import type { RecordedEvent } from '../types';
import { applyBatch, createNextGeneration, dropGeneration, ensureProjection, persistCheckpoint, readCheckpoint } from './generations';
import type { BatchStatement, GenerationTable, Projector } from './projector';

function recorded(position: number, type = 'm.test'): RecordedEvent {
  return {
    id: `$e${position}`,
    type,
    data: {},
    stream: 'room-!g:x',
    revision: BigInt(position),
    position: BigInt(position),
    recordedAt: new Date(0),
    metadata: null,
  };
}

interface Counting extends Projector {
  handled: number;
  statements: number;
}

/**
 * One row per applied event in `applied`, by `handle` or by one statement; the statement
 * requires that no event type of the batch is listed in `blocked`, and writes nothing for a
 * batch holding an `m.nostatement` event (it returns undefined); a batch of `m.nothing`
 * events only is a statement with no writes and no requirement. A statement describes what it
 * writes (`written`) as the positions of the rows.
 */
function counting(name: string): Counting {
  const projector: Counting = {
    name,
    version: 1,
    eventTypes: '*',
    tables: ['applied', 'blocked'],
    handled: 0,
    statements: 0,
    async setup(tx: DatabaseTransactionConnection) {
      await tx.query(sql.unsafe`CREATE TABLE applied (position bigint PRIMARY KEY, type text NOT NULL)`);
      await tx.query(sql.unsafe`CREATE TABLE blocked (type text PRIMARY KEY)`);
    },
    async handle(batch: RecordedEvent[], tx: DatabaseTransactionConnection) {
      projector.handled++;
      for (const e of batch) await tx.query(sql.unsafe`INSERT INTO applied (position, type) VALUES (${e.position}, ${e.type})`);
    },
    statement(batch: RecordedEvent[], table: GenerationTable): BatchStatement | undefined {
      if (batch.some((e) => e.type === 'm.nostatement')) return undefined;
      projector.statements++;
      if (batch.every((e) => e.type === 'm.nothing')) return { writes: [] };
      const types = sql.array(
        batch.map((e) => e.type),
        'text',
      );
      return {
        writes: [
          sql.fragment`INSERT INTO ${table('applied')} (position, type)
            SELECT * FROM unnest(${sql.array(
              batch.map((e) => e.position),
              'int8',
            )}, ${types})`,
        ],
        requires: [sql.fragment`NOT EXISTS (SELECT 1 FROM ${table('blocked')} b WHERE b.type = ANY(${types}))`],
        written: batch.map((e) => e.position),
      };
    },
  };
  return projector;
}

const row = z.object({ position: z.bigint(), type: z.string() });

describe(`applyBatch with a single statement (${process.env.TEST_DATABASE_URL ? 'PostgreSQL' : 'PGlite'})`, () => {
  let db: Database;
  let testDb: TestDatabase;

  beforeAll(async () => {
    testDb = await openTestDatabase('hs_generations', 1);
    db = testDb.db;
  });
  afterAll(async () => {
    await testDb.close();
  });

  async function rows(name: string, generation: number) {
    return db.pool.any(sql.type(row)`SELECT position, type FROM ${sql.identifier([`proj_${name}_${generation}`, 'applied'])} ORDER BY position`);
  }

  it('writes the batch and moves the checkpoint in one statement, without handle', async () => {
    const p = counting('single_applies');
    const { generation } = await ensureProjection(db.pool, p);
    // The statement's description of its writes comes back with the outcome.
    expect(await applyBatch(db.pool, p, generation, 0n, [recorded(1), recorded(2, 'm.other')], true)).toEqual({
      kind: 'applied',
      checkpoint: 2n,
      written: [1n, 2n],
    });
    expect(await applyBatch(db.pool, p, generation, 2n, [recorded(3)], true)).toEqual({ kind: 'applied', checkpoint: 3n, written: [3n] });
    expect(await applyBatch(db.pool, p, generation, 3n, [recorded(4, 'm.nothing'), recorded(5, 'm.nothing')], true)).toEqual({
      kind: 'applied',
      checkpoint: 5n,
    });
    expect(p).toMatchObject({ statements: 3, handled: 0 });
    expect(await rows(p.name, generation)).toEqual([
      { position: 1n, type: 'm.test' },
      { position: 2n, type: 'm.other' },
      { position: 3n, type: 'm.test' },
    ]);
    expect(await readCheckpoint(db.pool, p.name, generation)).toBe(5n);
  });

  it('a refused batch writes nothing: the checkpoint moved elsewhere, or the generation is not active', async () => {
    const p = counting('single_refused');
    const { generation } = await ensureProjection(db.pool, p);
    await applyBatch(db.pool, p, generation, 0n, [recorded(1)], true);

    // Another runner already stored checkpoint 1: a batch from 0 is refused, its rows not kept.
    expect(await applyBatch(db.pool, p, generation, 0n, [recorded(7)], true)).toEqual({ kind: 'moved', checkpoint: 1n });
    expect(await applyBatch(db.pool, p, generation, 5n, [recorded(8)], true)).toEqual({ kind: 'moved', checkpoint: 1n });
    expect(await rows(p.name, generation)).toEqual([{ position: 1n, type: 'm.test' }]);

    const fresh = await createNextGeneration(db.pool, p);
    expect(await applyBatch(db.pool, p, fresh, 0n, [recorded(1)], true)).toEqual({ kind: 'inactive' });
    expect(await rows(p.name, fresh)).toEqual([]);
    expect(await readCheckpoint(db.pool, p.name, fresh)).toBe(0n);
    // A rebuild writes the generation that is not active yet.
    expect(await applyBatch(db.pool, p, fresh, 0n, [recorded(1)], false)).toEqual({ kind: 'applied', checkpoint: 1n, written: [1n] });
    expect(await rows(p.name, fresh)).toEqual([{ position: 1n, type: 'm.test' }]);

    // A generation dropped under the batch (its tables gone) refuses it rather than failing.
    await dropGeneration(db.pool, p.name, fresh);
    expect(await applyBatch(db.pool, p, fresh, 1n, [recorded(2)], false)).toEqual({ kind: 'inactive' });
    expect(p.handled).toBe(0);
  });

  it('falls back to handle in a transaction when a precondition does not hold, with the same rows', async () => {
    const viaStatement = counting('single_fallback_a');
    const viaHandle = counting('single_fallback_b');
    const a = (await ensureProjection(db.pool, viaStatement)).generation;
    const b = (await ensureProjection(db.pool, viaHandle)).generation;
    await db.pool.query(sql.unsafe`INSERT INTO ${sql.identifier([`proj_${viaHandle.name}_${b}`, 'blocked'])} VALUES ('m.test')`);

    const batches = [[recorded(1), recorded(2, 'm.other')], [recorded(3, 'm.other')], [recorded(4), recorded(5)]];
    let after = 0n;
    for (const batch of batches) {
      const checkpoint = batch[batch.length - 1].position;
      const written = batch.map((e) => e.position);
      expect(await applyBatch(db.pool, viaStatement, a, after, batch, true)).toEqual({ kind: 'applied', checkpoint, written });
      // A batch that fell back to handle reports no `written`: only the statement's writes are described.
      const blocked = batch.some((e) => e.type === 'm.test');
      expect(await applyBatch(db.pool, viaHandle, b, after, batch, true)).toEqual(
        blocked ? { kind: 'applied', checkpoint } : { kind: 'applied', checkpoint, written },
      );
      after = checkpoint;
    }
    expect(viaStatement).toMatchObject({ statements: 3, handled: 0 });
    // The two batches holding m.test fell back (nothing of their statement was kept); the other did not.
    expect(viaHandle).toMatchObject({ statements: 3, handled: 2 });
    expect(await rows(viaHandle.name, b)).toEqual(await rows(viaStatement.name, a));
    expect(await readCheckpoint(db.pool, viaHandle.name, b)).toBe(5n);

    // A projector that gives no statement for a batch is handled the usual way.
    expect(await applyBatch(db.pool, viaStatement, a, 5n, [recorded(6, 'm.nostatement')], true)).toEqual({ kind: 'applied', checkpoint: 6n });
    expect(viaStatement.handled).toBe(1);
  });

  it('a failing write fails the batch and keeps nothing of it', async () => {
    const p = counting('single_failing');
    const { generation } = await ensureProjection(db.pool, p);
    await applyBatch(db.pool, p, generation, 0n, [recorded(1)], true);
    await db.pool.query(sql.unsafe`INSERT INTO ${sql.identifier([`proj_${p.name}_${generation}`, 'applied'])} VALUES (3, 'm.x')`);
    // Position 3 is there already: the primary key of `applied` rejects the write.
    await expect(applyBatch(db.pool, p, generation, 1n, [recorded(2), recorded(3)], true)).rejects.toThrow(/unique/);
    expect(await rows(p.name, generation)).toEqual([
      { position: 1n, type: 'm.test' },
      { position: 3n, type: 'm.x' },
    ]);
    expect(await readCheckpoint(db.pool, p.name, generation)).toBe(1n);
  });

  it('commits projector writes without waiting for the WAL flush, and only for their own transaction', async () => {
    const p = counting('single_async_commit');
    const { generation } = await ensureProjection(db.pool, p);
    const setting = () => db.pool.oneFirst(sql.type(z.object({ synchronous_commit: z.string() }))`SHOW synchronous_commit`);
    const before = await setting();
    // One pooled connection: the statement, the transactional path and the checkpoint-only move
    // leave the session's setting as it was for the statements that follow.
    await applyBatch(db.pool, p, generation, 0n, [recorded(1)], true);
    expect(await setting()).toBe(before);
    await applyBatch(db.pool, p, generation, 1n, [recorded(2, 'm.nostatement')], true);
    expect(await setting()).toBe(before);
    expect(await persistCheckpoint(db.pool, p, generation, 2n, 3n, true)).toEqual({ kind: 'applied', checkpoint: 3n });
    expect(await setting()).toBe(before);

    // Inside the transactional path, the checkpoint move turns it off for the rest of the transaction.
    const seen: string[] = [];
    const probe: Projector = {
      ...counting('single_async_probe'),
      statement: undefined,
      async handle(_batch, tx) {
        seen.push(await tx.oneFirst(sql.type(z.object({ synchronous_commit: z.string() }))`SHOW synchronous_commit`));
      },
    };
    const probed = await ensureProjection(db.pool, probe);
    await applyBatch(db.pool, probe, probed.generation, 0n, [recorded(1)], true);
    expect(seen).toEqual(['off']);
    expect(await setting()).toBe(before);
  });
});
