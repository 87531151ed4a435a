/**
 * Prometheus metrics of the homeserver: HTTP requests by route pattern, event-store appends,
 * projection lag, and the process metrics of prom-client. One registry per process (not the
 * library's global one), so several servers can share a process in tests.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** What the metrics need to know about one projector; the projection runner's status() rows fit. */
export interface ProjectionStatusRow {
  name: string;
  checkpoint: number | bigint;
  head: number | bigint;
  lag: number | bigint;
  failing: boolean;
}

export type ProjectionStatusSource = () => readonly ProjectionStatusRow[] | Promise<readonly ProjectionStatusRow[]>;

/** An online rebuild of a projection as the metrics show it (the admin API's rebuild status fits). */
export interface RebuildProgressRow {
  projection: string;
  state: 'running' | 'finished' | 'failed';
  /** How far the new generation has got and the store's head then (decimal positions). */
  position?: string;
  head?: string;
  events_per_second?: number;
}

export type RebuildProgressSource = () => readonly RebuildProgressRow[];

/** The stream category used as a label: `room-!abc:example.org` -> `room`. */
export function streamCategory(stream: string): string {
  const dash = stream.indexOf('-');
  return dash > 0 ? stream.slice(0, dash) : stream;
}

export class HomeserverMetrics {
  readonly registry = new Registry();
  private readonly requests: Counter<'method' | 'route' | 'status'>;
  private readonly durations: Histogram<'method' | 'route' | 'status'>;
  private readonly appended: Counter<'category'>;
  private readonly readWaits: Histogram<'read_model' | 'outcome'>;
  private projectionSource: ProjectionStatusSource | undefined;
  private rebuildSource: RebuildProgressSource | undefined;

  constructor(options: { processMetrics?: boolean } = {}) {
    if (options.processMetrics !== false) collectDefaultMetrics({ register: this.registry });
    this.requests = new Counter({
      name: 'http_requests_total',
      help: 'HTTP requests answered, by method, route pattern and status code.',
      labelNames: ['method', 'route', 'status'],
      registers: [this.registry],
    });
    this.durations = new Histogram({
      name: 'http_request_duration_seconds',
      help: 'Time to answer HTTP requests, by method, route pattern and status code.',
      labelNames: ['method', 'route', 'status'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [this.registry],
    });
    this.appended = new Counter({
      name: 'eventstore_appended_events_total',
      help: 'Events appended to the event store, by stream category.',
      labelNames: ['category'],
      registers: [this.registry],
    });
    this.readWaits = new Histogram({
      name: 'read_wait_seconds',
      help: 'Time reads waited for a read model to reflect the writes acknowledged before them, by read model; outcome timed_out when the bounded wait ran out.',
      labelNames: ['read_model', 'outcome'],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [this.registry],
    });
    const rows = async () => (this.projectionSource ? await this.projectionSource() : []);
    new Gauge({
      name: 'projection_lag_events',
      help: 'Events between the store head and a projector checkpoint.',
      labelNames: ['projection'],
      registers: [this.registry],
      async collect() {
        this.reset();
        for (const row of await rows()) this.set({ projection: row.name }, Number(row.lag));
      },
    });
    new Gauge({
      name: 'projection_checkpoint_position',
      help: 'Global position up to which a projector has applied events.',
      labelNames: ['projection'],
      registers: [this.registry],
      async collect() {
        this.reset();
        for (const row of await rows()) this.set({ projection: row.name }, Number(row.checkpoint));
      },
    });
    new Gauge({
      name: 'projection_failing',
      help: '1 while a projector is failing (retrying a batch), else 0.',
      labelNames: ['projection'],
      registers: [this.registry],
      async collect() {
        this.reset();
        for (const row of await rows()) this.set({ projection: row.name }, row.failing ? 1 : 0);
      },
    });
    // Online rebuilds (admin API): one series per projection rebuilt since the server started.
    const rebuilds = () => this.rebuildSource?.() ?? [];
    const rebuildGauge = (name: string, help: string, value: (row: RebuildProgressRow) => number | undefined) =>
      new Gauge({
        name,
        help,
        labelNames: ['projection'],
        registers: [this.registry],
        collect() {
          this.reset();
          for (const row of rebuilds()) {
            const measured = value(row);
            if (measured !== undefined) this.set({ projection: row.projection }, measured);
          }
        },
      });
    rebuildGauge('projection_rebuild_running', '1 while an online rebuild of the projection runs, else 0 (its latest rebuild finished or failed).', (row) =>
      row.state === 'running' ? 1 : 0,
    );
    rebuildGauge('projection_rebuild_position', 'Global position the running (or latest) rebuild of the projection has reached.', (row) =>
      row.position === undefined ? undefined : Number(row.position),
    );
    rebuildGauge('projection_rebuild_head', 'Store head the rebuild of the projection is catching up with.', (row) => (row.head === undefined ? undefined : Number(row.head)));
    rebuildGauge('projection_rebuild_events_per_second', 'Events per second the rebuild of the projection applies.', (row) => row.events_per_second);
  }

  /** Counts one answered request. `route` is the route pattern, never the raw URL. */
  observeRequest(method: string, route: string, status: number, seconds: number): void {
    const labels = { method, route, status: String(status) };
    this.requests.inc(labels);
    this.durations.observe(labels, seconds);
  }

  /** The event store's onAppended hook: `count` events went to `stream`. */
  recordAppended(stream: string, count: number): void {
    this.appended.inc({ category: streamCategory(stream) }, count);
  }

  /** One read's wait for one read model (0 when it was caught up). */
  observeReadWait(readModel: string, seconds: number, timedOut: boolean): void {
    this.readWaits.observe({ read_model: readModel, outcome: timedOut ? 'timed_out' : 'ready' }, seconds);
  }

  /** Where projection lag comes from (the projection runner's status()). */
  setProjectionStatusSource(source: ProjectionStatusSource): void {
    this.projectionSource = source;
  }

  /** Where online rebuilds' progress comes from (the admin API's rebuilds). */
  setRebuildProgressSource(source: RebuildProgressSource): void {
    this.rebuildSource = source;
  }

  /** The text exposition format. */
  async render(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
