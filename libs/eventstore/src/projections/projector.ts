import type { DatabaseTransactionConnection } from 'slonik';
import type { RecordedEvent } from '../types';

/**
 * A read model fed from `$all`. Its tables live in a schema per generation; while `setup`
 * and `handle` run, the transaction's search_path starts with that schema, so the projector
 * names its tables without a schema. Queries read them through the views in `proj_<name>`
 * (see `projectionViewSchema`), which always point at the active generation.
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
  /** Tables that `setup` creates and that queries may read (one view each). */
  tables?: readonly string[];
  /** Creates the tables of a new, empty generation. */
  setup?(tx: DatabaseTransactionConnection): Promise<void>;
  /** Applies a batch; the runner commits it together with the checkpoint. */
  handle(batch: RecordedEvent[], tx: DatabaseTransactionConnection): Promise<void>;
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
