import { sql, type DatabaseTransactionConnection, type FragmentSqlToken, type IdentifierSqlToken } from 'slonik';
import type { RecordedEvent } from '../types';

/**
 * A batch written by one autocommitted statement (see `Projector.statement`).
 *
 * - `writes`: bodies of data-modifying statements (INSERT/UPDATE/DELETE, with RETURNING or
 *   not) that run side by side as common table expressions of one statement, together with
 *   the checkpoint move. They all see the database as it was when the statement started,
 *   not each other's changes, so no two of them may touch the same row, and none may rely
 *   on what another writes. An empty list writes nothing but the checkpoint.
 * - `requires`: boolean SQL expressions that must all be true, evaluated on that same
 *   snapshot, for `writes` to be the right way to apply the batch. When one is false (or
 *   null), nothing of the statement is kept and the batch is applied by `handle` in a
 *   transaction instead. They may also read what a write returned (its RETURNING rows),
 *   named by `writeResult(index)`: e.g. that an insert with ON CONFLICT DO NOTHING inserted
 *   every row.
 * - `written`: what the statement writes, in the projector's own terms (e.g. the rows it
 *   inserts, exactly as readers would read them back). When the statement applies the batch,
 *   the runner hands it to its checkpoint listener, which may then skip reading the range
 *   back. It must describe every row of the batch's range, and only those: a projector whose
 *   writes may merge with existing rows guards against that with `requires`.
 */
export interface BatchStatement {
  writes: FragmentSqlToken[];
  requires?: FragmentSqlToken[];
  written?: unknown;
}

/** A batch applied by its single statement, as reported to checkpoint listeners. */
export interface WrittenBatch {
  /** The projector's checkpoint before the batch: it covers positions (after, reported position]. */
  after: bigint;
  /** The statement's `written`. */
  value: unknown;
}

/**
 * Told each time a projector's checkpoint advances (its rows up to `position` are committed).
 * `wrote` is false when the checkpoint only moved over events the projector does not handle
 * since the previous call; `written` is there when the batch was applied by its statement and
 * the projector described what it wrote.
 */
export type CheckpointListener = (name: string, position: bigint, wrote: boolean, written?: WrittenBatch) => void;

/** Names the rows returned by the `index`-th of a batch statement's `writes`, for its `requires`. */
export function writeResult(index: number): IdentifierSqlToken {
  return sql.identifier([`write_${index}`]);
}

/** Names a table of the generation being written, schema-qualified. */
export type GenerationTable = (table: string) => IdentifierSqlToken;

/**
 * Names a table without a schema: inside `handle`, where the transaction's search_path
 * selects the generation (for SQL shared by `handle` and `statement`).
 */
export const searchPathTable: GenerationTable = (table) => sql.identifier([table]);

/**
 * A read model fed from `$all`. Its tables live in a schema per generation; while `setup`
 * and `handle` run, the transaction's search_path starts with that schema, so the projector
 * names its tables without a schema. Queries read them through the views in `proj_<name>`
 * (see `projectionViewSchema`), which always point at the active generation.
 *
 * A batch is applied either by `handle`, in a transaction with the checkpoint move, or, when
 * the projector offers `statement` for it, by a single autocommitted statement that moves
 * the checkpoint and runs the projector's writes (one round trip instead of BEGIN, the
 * checkpoint, the projector's statements and COMMIT). Both must leave the same rows.
 */
export interface Projector {
  /** Lower-case letters, digits and underscores; names the schemas. */
  name: string;
  /** Bump it when the tables or the meaning of rows change: the runner rebuilds. */
  version: number;
  /** Event types handed to `handle`; other events only advance the checkpoint. */
  eventTypes: readonly string[] | '*';
  /**
   * Narrows the events of `eventTypes` further (e.g. by stream): only events it accepts are
   * handed to `handle`. A batch with none costs no database round trip: its checkpoint
   * advances in memory and is stored with a later batch, after a quiet moment or at stop.
   */
  wants?(event: RecordedEvent): boolean;
  /**
   * How far behind the store the projector may run, in milliseconds (default 0: it applies
   * each batch as soon as it is read). After applying a batch that was not full, the runner
   * waits this long before the projector's next batch, so what lands meanwhile is applied in
   * one (up to the runner's batch size); `waitFor` may take that much longer for it.
   */
  applyIntervalMs?: number;
  /** Tables that `setup` creates and that queries may read (one view each). */
  tables?: readonly string[];
  /** Creates the tables of a new, empty generation. */
  setup?(tx: DatabaseTransactionConnection): Promise<void>;
  /**
   * Applies a batch; the runner commits it together with the checkpoint. Always needed:
   * rebuilds and batches without a single statement use it, and it is the fallback when a
   * statement's `requires` does not hold.
   */
  handle(batch: RecordedEvent[], tx: DatabaseTransactionConnection): Promise<void>;
  /**
   * The batch (the events `handle` would get) as one statement, or undefined to use `handle`.
   * Tables must be named through `table` (schema-qualified): inside one statement the
   * search_path cannot select the generation's schema, as names are resolved before it runs.
   * The result must equal what `handle` writes for the same batch whenever `requires` holds.
   */
  statement?(batch: RecordedEvent[], table: GenerationTable): BatchStatement | undefined;
}

export interface ProjectionStatus {
  name: string;
  version: number;
  /** Generation currently serving queries. */
  generation: number;
  /** Position of the last event applied to the active generation. */
  checkpoint: bigint;
  /** Head of the store when the status was taken. */
  head: bigint;
  /** Events between the checkpoint and the head. */
  lag: bigint;
  failing: boolean;
  /** The error of the last failed attempt, while failing. */
  lastError?: string;
  /** True while a rebuild for a new version is filling a new generation. */
  rebuilding: boolean;
}

export interface RebuildProgress {
  position: bigint;
  head: bigint;
  eventsPerSecond: number;
}

const NAME_PATTERN = /^[a-z][a-z0-9_]{0,39}$/;

/** Throws unless the projector's name and version can be used as schema names and numbers. */
export function validateProjector(projector: Projector): void {
  if (!NAME_PATTERN.test(projector.name)) {
    throw new Error(`projector name ${JSON.stringify(projector.name)} must match ${NAME_PATTERN}`);
  }
  if (!Number.isSafeInteger(projector.version) || projector.version < 1) {
    throw new Error(`projector ${projector.name}: version must be a positive integer`);
  }
  for (const table of projector.tables ?? []) {
    if (!/^[a-z][a-z0-9_]{0,62}$/.test(table)) throw new Error(`projector ${projector.name}: bad table name ${table}`);
  }
}

/** Schema of the views that always show the active generation: `proj_<name>`. */
export function projectionViewSchema(name: string): string {
  return `proj_${name}`;
}

/** Schema holding one generation's tables: `proj_<name>_<generation>`. */
export function generationSchema(name: string, generation: number): string {
  return `proj_${name}_${generation}`;
}

/** Keeps the events a projector asked for (its `eventTypes`, then its `wants`). */
export function selectEvents(projector: Projector, batch: RecordedEvent[]): RecordedEvent[] {
  const types = projector.eventTypes;
  const wants = projector.wants?.bind(projector);
  if (types === '*' && !wants) return batch;
  return batch.filter((event) => (types === '*' || types.includes(event.type)) && (!wants || wants(event)));
}
