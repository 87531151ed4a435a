import { sql, type CommonQueryMethods, type DatabasePool, type DatabaseTransactionConnection, type FragmentSqlToken } from 'slonik';
import { z } from 'zod';
import { sqlState } from '@hs/persistence';
import type { RecordedEvent } from '../types';
import { generationSchema, projectionViewSchema, selectEvents, writeResult, type BatchStatement, type Projector } from './projector';

/** Advisory-lock key of a projection's bookkeeping (creating generations, swapping). */
function lockKey(name: string) {
  return sql.fragment`hashtext(${'hs.projection.' + name})`;
}

export interface ActiveGeneration {
  generation: number;
  version: number;
  checkpoint: bigint;
}

const activeRow = z.object({ generation: z.number(), version: z.number(), checkpoint: z.bigint() });

export async function readActive(connection: CommonQueryMethods, name: string): Promise<ActiveGeneration | null> {
  return connection.maybeOne(sql.type(activeRow)`
    SELECT g.active_generation AS generation, c.version, c.position AS checkpoint
      FROM projections.projection_generations g
      JOIN projections.checkpoints c ON c.name = g.name AND c.generation = g.active_generation
     WHERE g.name = ${name}`);
}

export async function readCheckpoint(connection: CommonQueryMethods, name: string, generation: number): Promise<bigint | null> {
  return connection.maybeOneFirst(sql.type(z.object({ position: z.bigint() }))`
    SELECT position FROM projections.checkpoints WHERE name = ${name} AND generation = ${generation}`);
}

async function useGenerationSchema(tx: DatabaseTransactionConnection, name: string, generation: number): Promise<void> {
  const schema = generationSchema(name, generation);
  await tx.query(sql.unsafe`SELECT set_config('search_path', ${`${schema}, public`}, true)`);
}

async function createGenerationIn(
  tx: DatabaseTransactionConnection,
  projector: Projector,
  generation: number,
): Promise<void> {
  await tx.query(sql.unsafe`CREATE SCHEMA ${sql.identifier([generationSchema(projector.name, generation)])}`);
  await useGenerationSchema(tx, projector.name, generation);
  if (projector.setup) await projector.setup(tx);
  await tx.query(sql.unsafe`SELECT set_config('search_path', 'public', true)`);
  await tx.query(sql.unsafe`INSERT INTO projections.checkpoints (name, generation, version, position)
    VALUES (${projector.name}, ${generation}, ${projector.version}, 0)`);
}

async function pointViewsAt(tx: DatabaseTransactionConnection, projector: Projector, generation: number): Promise<void> {
  const viewSchema = projectionViewSchema(projector.name);
  await tx.query(sql.unsafe`DROP SCHEMA IF EXISTS ${sql.identifier([viewSchema])} CASCADE`);
  await tx.query(sql.unsafe`CREATE SCHEMA ${sql.identifier([viewSchema])}`);
  for (const table of projector.tables ?? []) {
    await tx.query(sql.unsafe`CREATE VIEW ${sql.identifier([viewSchema, table])} AS
      SELECT * FROM ${sql.identifier([generationSchema(projector.name, generation), table])}`);
  }
}

/** Creates generation 1 of a projection that has none yet; returns the active generation. */
export async function ensureProjection(pool: DatabasePool, projector: Projector): Promise<ActiveGeneration> {
  const existing = await readActive(pool, projector.name);
  if (existing) return existing;
  return pool.transaction(async (tx) => {
    await tx.query(sql.unsafe`SELECT pg_advisory_xact_lock(${lockKey(projector.name)})`);
    const again = await readActive(tx, projector.name);
    if (again) return again;
    await createGenerationIn(tx, projector, 1);
    await tx.query(sql.unsafe`INSERT INTO projections.projection_generations (name, active_generation, last_generation)
      VALUES (${projector.name}, 1, 1)`);
    await pointViewsAt(tx, projector, 1);
    return { generation: 1, version: projector.version, checkpoint: 0n };
  });
}

/** Creates an empty generation beside the active one; returns its number. */
export async function createNextGeneration(pool: DatabasePool, projector: Projector): Promise<number> {
  return pool.transaction(async (tx) => {
    await tx.query(sql.unsafe`SELECT pg_advisory_xact_lock(${lockKey(projector.name)})`);
    const generation = await tx.oneFirst(sql.type(z.object({ last_generation: z.number() }))`
      UPDATE projections.projection_generations SET last_generation = last_generation + 1
       WHERE name = ${projector.name} RETURNING last_generation`);
    await createGenerationIn(tx, projector, generation);
    return generation;
  });
}

export type ApplyOutcome =
  /** `written`: the statement's description of its writes, when the batch was applied by it. */
  | { kind: 'applied'; checkpoint: bigint; written?: unknown }
  /** The stored checkpoint is not where the caller read from (another runner moved it). */
  | { kind: 'moved'; checkpoint: bigint }
  /** The generation is no longer the one the caller expected to be active. */
  | { kind: 'inactive' };

/**
 * Projection commits do not wait for the WAL flush (`synchronous_commit` off for the
 * transaction): a read model is rebuilt from the store, and its checkpoint commits with its
 * rows, so a crash can only lose both together, and the events are applied again.
 */
const ASYNC_COMMIT = sql.fragment`set_config('synchronous_commit', 'off', true)`;

/** The checkpoint move of a batch: `after` -> `checkpoint`, while still at `after` (and active). */
function checkpointUpdate(projector: Projector, generation: number, after: bigint, checkpoint: bigint, requireActive: boolean) {
  const active = requireActive
    ? sql.fragment`AND EXISTS (SELECT 1 FROM projections.projection_generations g
         WHERE g.name = ${projector.name} AND g.active_generation = ${generation} FOR SHARE)`
    : sql.fragment``;
  return sql.fragment`UPDATE projections.checkpoints SET position = ${checkpoint}, updated_at = now()
     WHERE name = ${projector.name} AND generation = ${generation} AND position = ${after} ${active}`;
}

/**
 * Moves a generation's checkpoint from `after` to `checkpoint` in one statement, only if it
 * is still at `after` (and, with `requireActive`, only while the generation is the active
 * one: the generation row stays share-locked until the transaction ends, so a swap waits).
 * Inside a transaction (`useSchema`), the same statement makes the generation's schema the
 * first of the search_path for the rest of it. The transaction commits without waiting for
 * the WAL flush (see `ASYNC_COMMIT`). True when the checkpoint moved.
 */
async function moveCheckpoint(
  connection: CommonQueryMethods,
  projector: Projector,
  generation: number,
  after: bigint,
  checkpoint: bigint,
  requireActive: boolean,
  useSchema: boolean,
): Promise<boolean> {
  const schema = useSchema
    ? sql.fragment`, set_config('search_path', ${`${generationSchema(projector.name, generation)}, public`}, true)`
    : sql.fragment``;
  const moved = await connection.maybeOne(sql.unsafe`
    ${checkpointUpdate(projector, generation, after, checkpoint, requireActive)}
    RETURNING ${ASYNC_COMMIT} ${schema}`);
  return moved !== null;
}

/** Why a checkpoint did not move: the generation is gone or not active, or the stored checkpoint moved. */
async function refusal(
  connection: CommonQueryMethods,
  projector: Projector,
  generation: number,
  requireActive: boolean,
): Promise<Exclude<ApplyOutcome, { kind: 'applied' }>> {
  const row = await connection.maybeOne(sql.type(z.object({ active_generation: z.number().nullable(), position: z.bigint() }))`
    SELECT (SELECT active_generation FROM projections.projection_generations WHERE name = ${projector.name}) AS active_generation,
           position
      FROM projections.checkpoints WHERE name = ${projector.name} AND generation = ${generation}`);
  if (row === null || (requireActive && row.active_generation !== generation)) return { kind: 'inactive' };
  return { kind: 'moved', checkpoint: row.position };
}

/** SQLSTATEs raised by `projections.batch_guard` (migrations/projections/0002_batch_guard.sql). */
const CHECKPOINT_NOT_MOVED = 'HSPC1';
const PRECONDITION_FAILED = 'HSPR1';

/**
 * Applies one batch to a generation and moves its checkpoint, atomically. `after` is the
 * checkpoint stored for the generation (it may be older than the batch's first event when
 * batches with nothing for the projector were passed over). With `requireActive`, the batch is
 * applied only while that generation is the active one.
 *
 * When the projector gives a `statement` for the batch, one autocommitted statement moves the
 * checkpoint and runs its writes (`applyInOneStatement`); otherwise, or when the statement's
 * preconditions do not hold, one transaction: BEGIN, the checkpoint move (which also selects
 * the generation's schema), the projector's `handle`, COMMIT.
 */
export async function applyBatch(
  pool: DatabasePool,
  projector: Projector,
  generation: number,
  after: bigint,
  batch: RecordedEvent[],
  requireActive: boolean,
): Promise<ApplyOutcome> {
  if (batch.length === 0) return { kind: 'applied', checkpoint: after };
  const checkpoint = batch[batch.length - 1].position;
  const selected = selectEvents(projector, batch);
  const schema = generationSchema(projector.name, generation);
  const statement: BatchStatement | undefined =
    selected.length === 0 ? { writes: [] } : projector.statement?.(selected, (table) => sql.identifier([schema, table]));
  if (statement) {
    const outcome = await applyInOneStatement(pool, projector, generation, after, checkpoint, statement, requireActive);
    if (outcome !== 'precondition failed') return outcome;
  }
  return pool.transaction(async (tx) => {
    if (!(await moveCheckpoint(tx, projector, generation, after, checkpoint, requireActive, true))) {
      return refusal(tx, projector, generation, requireActive);
    }
    if (selected.length > 0) await projector.handle(selected, tx);
    return { kind: 'applied', checkpoint } as const;
  });
}

/**
 * One autocommitted statement: the checkpoint move and the projector's writes as
 * data-modifying common table expressions, and `projections.batch_guard`, which raises when
 * the checkpoint did not move or a precondition is false. Data-modifying expressions always
 * run to completion, so the raise is what keeps a refused batch from being written: the
 * statement's implicit transaction rolls back as a whole.
 */
async function applyInOneStatement(
  pool: DatabasePool,
  projector: Projector,
  generation: number,
  after: bigint,
  checkpoint: bigint,
  statement: BatchStatement,
  requireActive: boolean,
): Promise<ApplyOutcome | 'precondition failed'> {
  const writes = statement.writes.map((write, i) => sql.fragment`, ${writeResult(i)} AS (${write})`);
  const requires = statement.requires ?? [];
  // slonik joins no empty list.
  const join = (parts: readonly FragmentSqlToken[], glue: FragmentSqlToken) => (parts.length === 0 ? sql.fragment`` : sql.join(parts, glue));
  try {
    await pool.query(sql.unsafe`
      WITH checkpoint_moved AS (
        ${checkpointUpdate(projector, generation, after, checkpoint, requireActive)}
        RETURNING 1
      ) ${join(writes, sql.fragment``)}
      SELECT projections.batch_guard((SELECT count(*) FROM checkpoint_moved),
                                     ARRAY[${join(requires, sql.fragment`, `)}]::boolean[]),
             ${ASYNC_COMMIT}`);
  } catch (error) {
    const state = sqlState(error);
    if (state === PRECONDITION_FAILED) return 'precondition failed';
    const refused = await refusal(pool, projector, generation, requireActive);
    if (state === CHECKPOINT_NOT_MOVED) return refused;
    // E.g. the generation's tables were dropped by a swap: the batch is refused, not failing.
    if (refused.kind === 'inactive' || refused.checkpoint !== after) return refused;
    throw error;
  }
  return { kind: 'applied', checkpoint, written: statement.written };
}

/**
 * Stores a checkpoint that advanced over events the projector does not handle, in one
 * autocommitted statement, if the stored one is still `after`.
 */
export async function persistCheckpoint(
  pool: DatabasePool,
  projector: Projector,
  generation: number,
  after: bigint,
  checkpoint: bigint,
  requireActive: boolean,
): Promise<ApplyOutcome> {
  if (checkpoint === after) return { kind: 'applied', checkpoint };
  if (await moveCheckpoint(pool, projector, generation, after, checkpoint, requireActive, false)) return { kind: 'applied', checkpoint };
  return refusal(pool, projector, generation, requireActive);
}

/**
 * Makes `generation` the active one if it has caught up with the active generation:
 * one transaction moves the active generation and repoints the views. Returns false (and
 * changes nothing) while it is still behind. The old generation's tables are dropped after.
 */
export async function swapGeneration(pool: DatabasePool, projector: Projector, generation: number): Promise<boolean> {
  const old = await pool.transaction(async (tx) => {
    await tx.query(sql.unsafe`SELECT pg_advisory_xact_lock(${lockKey(projector.name)})`);
    const active = await tx.oneFirst(sql.type(z.object({ active_generation: z.number() }))`
      SELECT active_generation FROM projections.projection_generations WHERE name = ${projector.name} FOR UPDATE`);
    if (active === generation) return null;
    const live = (await readCheckpoint(tx, projector.name, active)) ?? 0n;
    const fresh = (await readCheckpoint(tx, projector.name, generation)) ?? 0n;
    if (fresh < live) return undefined;
    await tx.query(sql.unsafe`UPDATE projections.projection_generations SET active_generation = ${generation}
      WHERE name = ${projector.name}`);
    await pointViewsAt(tx, projector, generation);
    return active;
  });
  if (old === undefined) return false;
  if (old !== null) await dropGeneration(pool, projector.name, old);
  return true;
}

export async function dropGeneration(pool: DatabasePool, name: string, generation: number): Promise<void> {
  await pool.transaction(async (tx) => {
    await tx.query(sql.unsafe`DROP SCHEMA IF EXISTS ${sql.identifier([generationSchema(name, generation)])} CASCADE`);
    await tx.query(sql.unsafe`DELETE FROM projections.checkpoints WHERE name = ${name} AND generation = ${generation}`);
  });
}
