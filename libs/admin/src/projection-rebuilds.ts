/**
 * Online rebuilds of projections started by a server admin over HTTP (the admin CLI's
 * `rebuild` does the same from a shell): a new generation is built from the store beside the
 * live one, which serves until the swap; start, end and failure go in the audit log.
 * One rebuild per projection at a time; the latest outcome of each is kept in memory.
 */
import { rebuildProjection, type EventStore, type ProjectionStatus, type Projector } from '@hs/eventstore';
import type { Database } from '@hs/persistence';
import type { AuditLog } from './audit-log';

export interface RebuildStatus {
  projection: string;
  state: 'running' | 'finished' | 'failed';
  started_ts: number;
  finished_ts?: number;
  /** How far the new generation has got, and the store's head then (positions, in decimal). */
  position?: string;
  head?: string;
  events_per_second?: number;
  /** The generation swapped in. */
  generation?: number;
  error?: string;
}

export interface ProjectionRebuildsOptions {
  store: EventStore;
  /** The database and fresh instances of the projectors the server runs (none: nothing to rebuild). */
  projections?: {
    db: Database;
    projectors: readonly Projector[];
    /** The live projections as the server's runner has them (generation, checkpoint, lag). */
    live?: () => Promise<ProjectionStatus[]>;
  };
  audit: AuditLog;
  clock?: () => number;
}

export class UnknownProjection extends Error {}
export class RebuildRunning extends Error {}

export class ProjectionRebuilds {
  private readonly latest = new Map<string, RebuildStatus>();
  private readonly running = new Map<string, Promise<void>>();
  private readonly abort = new AbortController();

  constructor(private readonly options: ProjectionRebuildsOptions) {}

  /** The names of the projections that can be rebuilt. */
  names(): string[] {
    return (this.options.projections?.projectors ?? []).map((projector) => projector.name);
  }

  /** The live projections (as the runner has them), empty when the process runs none. */
  live(): Promise<ProjectionStatus[]> {
    return this.options.projections?.live?.() ?? Promise.resolve([]);
  }

  /** The latest rebuild of `name` since the server started, if any. */
  status(name: string): RebuildStatus | undefined {
    const status = this.latest.get(name);
    return status === undefined ? undefined : { ...status };
  }

  /** The latest rebuild of every projection rebuilt since the server started. */
  all(): RebuildStatus[] {
    return [...this.latest.values()].map((status) => ({ ...status }));
  }

  /** Starts rebuilding `name` in the background; throws {@link UnknownProjection} or {@link RebuildRunning}. */
  async start(name: string, actor: string, requestId?: string): Promise<RebuildStatus> {
    const projections = this.options.projections;
    const projector = projections?.projectors.find((candidate) => candidate.name === name);
    if (projections === undefined || projector === undefined) throw new UnknownProjection(`unknown projection ${name}`);
    if (this.running.has(name)) throw new RebuildRunning(`a rebuild of ${name} is running`);
    if (this.abort.signal.aborted) throw new RebuildRunning('the server is shutting down');
    const clock = this.options.clock ?? Date.now;
    const status: RebuildStatus = { projection: name, state: 'running', started_ts: clock() };
    this.latest.set(name, status);
    const done = (async () => {
      await this.options.audit.record({ actor, action: 'projection.rebuild_started', target: name, ...(requestId ? { requestId } : {}) });
      try {
        const result = await rebuildProjection(projections.db, this.options.store, projector, {
          signal: this.abort.signal,
          onProgress: (progress) => {
            status.position = progress.position.toString();
            status.head = progress.head.toString();
            status.events_per_second = Math.round(progress.eventsPerSecond);
          },
        });
        Object.assign(status, { state: 'finished', finished_ts: clock(), generation: result.generation, position: result.checkpoint.toString() });
        await this.options.audit.record({
          actor,
          action: 'projection.rebuild_finished',
          target: name,
          details: { generation: result.generation, checkpoint: result.checkpoint.toString() },
          ...(requestId ? { requestId } : {}),
        });
      } catch (error) {
        Object.assign(status, { state: 'failed', finished_ts: clock(), error: error instanceof Error ? error.message : String(error) });
        await this.options.audit
          .record({ actor, action: 'projection.rebuild_failed', target: name, details: { error: status.error ?? '' }, ...(requestId ? { requestId } : {}) })
          .catch(() => undefined);
      }
    })().finally(() => this.running.delete(name));
    this.running.set(name, done);
    return { ...status };
  }

  /** Stops the rebuilds in progress (each fails, leaving the live generation serving) and waits for them. */
  async close(): Promise<void> {
    this.abort.abort();
    await Promise.all(this.running.values());
  }
}
