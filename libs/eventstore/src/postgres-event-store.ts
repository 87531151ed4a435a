import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { sql, type CommonQueryMethods, type DatabaseTransactionConnection } from 'slonik';
import { z } from 'zod';
import { sqlConstraint, sqlDetail, sqlState, type Database } from '@hs/persistence';
import { groupCteNames, groupStatement, type AppendWrites } from './group-statement';
import { DuplicateEventIdError, InvalidAppendError, WrongExpectedRevisionError } from './errors';
import { AppendNotifier } from './notifier';
import { startBatchSubscription, subscribeEventByEvent, type BatchSource } from './subscription';
import type {
  AllSubscription,
  AppendResult,
  BatchHandler,
  EventStore,
  EventStoreOptions,
  ExpectedRevision,
  JsonValue,
  NewEvent,
  ReadAllOptions,
  ReadStreamOptions,
  RecordedEvent,
  SubscribeOptions,
  SubscriptionHandler,
} from './types';
import { validateAppend, validateInterval, validateLimit } from './validation';

/** The channel the append function notifies on commit (PostgreSQL). */
export const APPENDED_CHANNEL = 'eventstore_appended';
/** Safety-net re-read interval of an idle PostgreSQL subscription (a lost LISTEN wake-up). */
const POSTGRES_IDLE_RECHECK_MS = 30_000;
/** Attempts of a standalone append that lost a race to a concurrent one it may follow. */
const MAX_RACE_RETRIES = 5;

/**
 * Which unique index a concurrent append hit first: the event id (the same event stored by
 * another append) or the stream revision (another append took it).
 */
function concurrentAppendRace(error: unknown): 'event_id' | 'revision' | undefined {
  if (sqlState(error) !== '23505') return undefined;
  const constraint = sqlConstraint(error);
  if (constraint === 'events_event_id_key') return 'event_id';
  if (constraint === 'events_stream_revision_key') return 'revision';
  return undefined;
}
/** A unique violation that is not one of the event store's own (see {@link PostgresEventStore.appendWithWrites}). */
function isWritesError(error: unknown): boolean {
  return sqlState(error) === '23505' && concurrentAppendRace(error) === undefined;
}
const LISTEN_RECONNECT_MS = 1_000;
/** Most appends one grouped statement carries (see {@link PostgresEventStore.appendWithWrites}). */
const MAX_GROUP_MEMBERS = 64;
/** Grouped statements in flight at once (see {@link EventStoreOptions.appendStatementsInFlight}). */
const DEFAULT_GROUPS_IN_FLIGHT = 2;

export type { AppendCteNames, AppendWrites } from './group-statement';

/** One append waiting for (or riding in) a grouped statement. */
interface GroupMember {
  stream: string;
  expectedRevision: ExpectedRevision;
  expected: string;
  payload: string;
  writes: AppendWrites;
  resolve(result: AppendResult): void;
  reject(error: unknown): void;
}

const groupRow = z.object({
  member: z.number(),
  event_id: z.string(),
  position: z.bigint(),
  revision: z.bigint(),
  written: z.boolean(),
});
const appendedRow = z.object({
  event_id: z.string(),
  position: z.bigint(),
  revision: z.bigint(),
  written: z.boolean(),
});
const eventRow = z.object({
  position: z.bigint(),
  event_id: z.string(),
  stream_id: z.string(),
  revision: z.bigint(),
  type: z.string(),
  data: z.unknown(),
  metadata: z.unknown(),
  recorded_at: z.union([z.number(), z.string(), z.date()]),
});
type EventRow = z.infer<typeof eventRow>;
const pageRow = eventRow.extend({ final: z.boolean() });

const EVENT_COLUMNS = sql.fragment`position, event_id, stream_id, revision, type, data, metadata, recorded_at`;
/** Every position below this bound belongs to a finished transaction (see docs/eventstore.md). */
const SAFE_BOUND = sql.fragment`(SELECT (pg_snapshot_xmin(pg_current_snapshot())::text::bigint + b.xid_offset) << 20
   FROM eventstore.position_base b)`;

/**
 * In-process wake-ups for PGlite, shared by every store on the same database: PGlite runs in
 * this process, and NOTIFY does not reach listeners through its socket server.
 */
const pgliteNotifiers = new WeakMap<object, AppendNotifier>();

/**
 * The event store on PostgreSQL or PGlite (the same SQL): one `eventstore.append` call per
 * append, positions derived from the writing transaction's id so that readers can stop below
 * the oldest transaction still in flight and never skip an event.
 */
export class PostgresEventStore implements EventStore {
  readonly notifier: AppendNotifier;
  /** Signs the NOTIFY of this store's grouped appends (see `groupStatement`). */
  private readonly instance = randomUUID();
  private listener: Client | undefined;
  private listening: Promise<void> | undefined;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private closed = false;
  private notifyInFlight = false;
  private notifyAgain = false;
  private readonly subscriptions = new Set<AllSubscription>();
  /** Appends with writes waiting for the grouped statement in flight to return. */
  private groupQueue: GroupMember[] = [];
  private groupsInFlight = 0;
  private readonly streamsInFlight = new Set<string>();
  private readonly maxGroupsInFlight: number;
  /** Position of the latest append this process saw committed (see {@link acknowledgedPosition}). */
  private acknowledged = 0n;
  /** Transactions opened by {@link transaction}: the last position appended in each. */
  private readonly appendedIn = new WeakMap<DatabaseTransactionConnection, { position: bigint }>();

  private constructor(
    readonly db: Database,
    private readonly options: EventStoreOptions,
  ) {
    this.maxGroupsInFlight = Math.max(1, Math.floor(options.appendStatementsInFlight ?? DEFAULT_GROUPS_IN_FLIGHT));
    if (db.kind === 'pglite') {
      let shared = pgliteNotifiers.get(db.pool);
      if (!shared) {
        shared = new AppendNotifier();
        pgliteNotifiers.set(db.pool, shared);
      }
      this.notifier = shared;
    } else {
      this.notifier = new AppendNotifier();
    }
  }

  /**
   * Opens the store on a migrated database. Raises the position base if the database was
   * restored into a cluster whose transaction ids are lower than the stored positions.
   */
  static async open(db: Database, options: EventStoreOptions = {}): Promise<PostgresEventStore> {
    const store = new PostgresEventStore(db, options);
    await store.raisePositionBase(db.pool);
    // Writes acknowledged before this process started count as acknowledged for its reads.
    store.acknowledged = await store.committedHead();
    return store;
  }

  /**
   * Position of the latest append this process saw committed: appends that committed on their
   * own once they return, appends in a {@link transaction} once it commits, and the store's
   * head when it was opened. Reads wait for their read models to reach it (`ReadBarrier`).
   */
  acknowledgedPosition(): bigint {
    return this.acknowledged;
  }

  /**
   * Position of the latest committed event, whichever process appended it (events of
   * transactions still in flight are not counted; see {@link headPosition} for the position
   * readers of `$all` have reached).
   */
  async committedHead(): Promise<bigint> {
    const head = await this.db.pool.maybeOneFirst(sql.type(z.object({ position: z.bigint() }))`
      SELECT position FROM eventstore.events ORDER BY position DESC LIMIT 1`);
    return head ?? 0n;
  }

  private acknowledge(position: bigint): void {
    if (position > this.acknowledged) this.acknowledged = position;
  }

  /**
   * Runs `work` in a transaction of the store's database; what it appends with
   * {@link appendInTransaction} is acknowledged (reads wait for it) once the transaction
   * commits. Appends in a transaction opened elsewhere are not.
   */
  async transaction<T>(work: (tx: DatabaseTransactionConnection) => Promise<T>): Promise<T> {
    const appended = { position: 0n };
    const result = await this.db.pool.transaction((tx) => {
      this.appendedIn.set(tx, appended);
      return work(tx);
    });
    this.acknowledge(appended.position);
    return result;
  }

  async append(stream: string, expectedRevision: ExpectedRevision, events: NewEvent[]): Promise<AppendResult> {
    // Commits on its own: wake local readers at once, other processes with one NOTIFY after.
    let result: AppendResult;
    for (let attempt = 1; ; attempt++) {
      try {
        result = await this.appendWith(this.db.pool, stream, expectedRevision, events, false);
        break;
      } catch (error) {
        // A concurrent append committed first. An event id it stored makes the next attempt
        // an idempotent no-op (or a duplicate error); a revision it took is only a conflict
        // when the caller asked for an exact revision.
        const race = concurrentAppendRace(error);
        const retry =
          attempt < MAX_RACE_RETRIES &&
          (race === 'event_id' || (race === 'revision' && (expectedRevision === 'any' || expectedRevision === 'stream_exists')));
        if (retry) continue;
        throw await this.mapAppendError(error, stream, expectedRevision);
      }
    }
    this.acknowledge(result.position);
    if (result.written) {
      this.notifier.notify();
      this.notifyOtherProcesses();
    }
    return result;
  }

  /**
   * Sends NOTIFY in a transaction of its own, after the append committed; notifications
   * requested while one is on its way are folded into one more.
   */
  private notifyOtherProcesses(): void {
    if (this.db.kind !== 'postgres') return;
    if (this.notifyInFlight) {
      this.notifyAgain = true;
      return;
    }
    this.notifyInFlight = true;
    this.db.pool
      .query(sql.unsafe`SELECT pg_notify(${APPENDED_CHANNEL}, '')`)
      .catch(() => undefined)
      .finally(() => {
        this.notifyInFlight = false;
        if (this.notifyAgain && !this.closed) {
          this.notifyAgain = false;
          this.notifyOtherProcesses();
        }
      });
  }

  /**
   * Appends inside the caller's transaction (the write side updates its write model in the
   * same transaction). The events become visible when that transaction commits.
   */
  async appendInTransaction(
    tx: DatabaseTransactionConnection,
    stream: string,
    expectedRevision: ExpectedRevision,
    events: NewEvent[],
  ): Promise<AppendResult> {
    // The NOTIFY is sent by the caller's commit (PostgreSQL).
    let result: AppendResult;
    try {
      result = await this.appendWith(tx, stream, expectedRevision, events, true);
    } catch (error) {
      // The caller's transaction is aborted: it retries as a whole.
      throw await this.mapAppendError(error, stream, expectedRevision);
    }
    const appended = this.appendedIn.get(tx);
    if (appended && result.position > appended.position) appended.position = result.position;
    // PGlite: readers woken now queue behind this transaction and read once it ends.
    if (result.written) this.wakeLocalReaders();
    return result;
  }

  /**
   * Appends and runs the caller's own writes in one statement, which commits on its own (one
   * database round trip). `writes(cte)` returns further common table expressions
   * (`${cte('stored')} AS (INSERT ...), ...`) that may read the appended records from
   * `${cte('appended')}(event_id, position, revision, written)`. An error in any of them leaves
   * nothing appended; a unique violation in them is passed back unchanged.
   *
   * Group commit: while one such statement is in flight, appends to other streams queue up and
   * are sent together in one statement when it returns (one round trip and one commit for
   * all). A stream has at most one append in a group, and a stream's appends go in the order
   * they were made. When a grouped statement fails (one member's expected revision, duplicate
   * event id or unique key), nothing of it is kept and each member is run again alone, so
   * every caller gets its own outcome.
   */
  appendWithWrites(
    stream: string,
    expectedRevision: ExpectedRevision,
    events: NewEvent[],
    writes: AppendWrites,
  ): Promise<AppendResult> {
    let payload: string;
    try {
      validateAppend(stream, expectedRevision, events);
      payload = eventsPayload(events);
    } catch (error) {
      return Promise.reject(error);
    }
    return new Promise<AppendResult>((resolve, reject) => {
      this.groupQueue.push({
        stream,
        expectedRevision,
        expected: expectedText(expectedRevision),
        payload,
        writes,
        resolve,
        reject,
      });
      this.pumpGroups();
    });
  }

  /**
   * Starts grouped statements while fewer than the limit are in flight. Each runs on a
   * connection it keeps while appends are waiting (no trip through the pool between groups),
   * and gives it back once none is left.
   */
  private pumpGroups(): void {
    while (this.groupsInFlight < this.maxGroupsInFlight) {
      const first = this.takeGroup();
      if (first.length === 0) return;
      this.groupsInFlight++;
      this.db.pool
        .connect(async (connection) => {
          for (let group = first; group.length > 0; group = this.takeGroup()) {
            const ok = await this.runGroup(connection, group).finally(() => {
              for (const member of group) this.streamsInFlight.delete(member.stream);
            });
            // A failed statement may have broken the connection: the next group takes another.
            if (!ok) break;
          }
        })
        .catch((error: unknown) => {
          // No connection: the group was not sent.
          for (const member of first) {
            this.streamsInFlight.delete(member.stream);
            member.reject(error);
          }
        })
        .finally(() => {
          this.groupsInFlight--;
          this.pumpGroups();
        });
    }
  }

  /**
   * The next group: the queued appends, at most one per stream and none of a stream that has
   * an append in flight (a stream's appends stay in order); their streams become in flight.
   */
  private takeGroup(): GroupMember[] {
    const group: GroupMember[] = [];
    if (this.groupQueue.length === 0) return group;
    const streams = new Set<string>();
    const later: GroupMember[] = [];
    for (const member of this.groupQueue) {
      const free = !streams.has(member.stream) && !this.streamsInFlight.has(member.stream);
      // Every later append of a skipped stream waits too, since `streams` keeps the first.
      if (group.length < MAX_GROUP_MEMBERS && free) group.push(member);
      else later.push(member);
      streams.add(member.stream);
    }
    this.groupQueue = later;
    for (const member of group) this.streamsInFlight.add(member.stream);
    return group;
  }

  /**
   * Runs one grouped statement and settles every member's promise. False when the statement
   * failed (its members were then run again alone, on connections of the pool).
   */
  private async runGroup(connection: CommonQueryMethods, group: GroupMember[]): Promise<boolean> {
    let rows: readonly z.infer<typeof groupRow>[];
    try {
      const parts = group.map((member, i) => ({
        stream: member.stream,
        expected: member.expected,
        payload: member.payload,
        writes: member.writes(groupCteNames(i)),
      }));
      // One NOTIFY at commit, signed with the store's instance: its own listener ignores it (the
      // store wakes its readers itself when the statement returns); other processes read.
      const notify = this.db.kind === 'postgres' ? { channel: APPENDED_CHANNEL, as: this.instance } : undefined;
      rows = await connection.any(groupStatement(groupRow, parts, notify));
    } catch (error) {
      if (group.length > 1) {
        // Nothing of the group was kept: each member alone finds its own outcome.
        await Promise.all(group.map((member) => this.runGroup(this.db.pool, [member])));
        return false;
      }
      const [member] = group;
      if (isWritesError(error)) member.reject(error);
      else member.reject(await this.mapAppendError(error, member.stream, member.expectedRevision));
      return false;
    }
    const byMember = group.map(() => [] as z.infer<typeof groupRow>[]);
    for (const row of rows) if (row.member >= 0) byMember[row.member].push(row);
    let wrote = false;
    for (let i = 0; i < group.length; i++) {
      const member = group[i];
      const stored = byMember[i];
      try {
        if (stored.length === 0) {
          const position = await this.headPosition();
          this.acknowledge(position);
          member.resolve({
            nextExpectedRevision: await this.streamRevision(this.db.pool, member.stream),
            position,
            events: [],
            written: false,
          });
          continue;
        }
        const last = stored[stored.length - 1];
        const written = stored[0].written;
        if (written) {
          wrote = true;
          this.options.onAppended?.(member.stream, stored.length);
        }
        this.acknowledge(last.position);
        member.resolve({
          nextExpectedRevision: last.revision,
          position: last.position,
          events: stored.map((row) => ({ id: row.event_id, revision: row.revision, position: row.position })),
          written,
        });
      } catch (error) {
        member.reject(error);
      }
    }
    if (wrote) this.notifier.notify();
    return true;
  }

  private async appendWith(
    connection: CommonQueryMethods,
    stream: string,
    expectedRevision: ExpectedRevision,
    events: NewEvent[],
    notifyOnCommit: boolean,
  ): Promise<AppendResult> {
    validateAppend(stream, expectedRevision, events);
    const payload = eventsPayload(events);
    const expected = expectedText(expectedRevision);
    let rows: readonly z.infer<typeof appendedRow>[];
    try {
      rows = await connection.any(sql.type(appendedRow)`SELECT event_id, position, revision, written
          FROM eventstore.append(${stream}, ${expected}, ${payload}::json, ${notifyOnCommit && this.db.kind === 'postgres'})`);
    } catch (error) {
      if (concurrentAppendRace(error)) throw error;
      throw await this.mapAppendError(error, stream, expectedRevision);
    }
    if (rows.length === 0) {
      return {
        nextExpectedRevision: await this.streamRevision(connection, stream),
        position: await this.headPosition(),
        events: [],
        written: false,
      };
    }
    const stored = rows.map((row) => ({ id: row.event_id, revision: row.revision, position: row.position }));
    const last = stored[stored.length - 1];
    const written = rows[0].written;
    if (written) this.options.onAppended?.(stream, rows.length);
    return { nextExpectedRevision: last.revision, position: last.position, events: stored, written };
  }

  /** Revision of the stream's last event, -1 when it has none. */
  private async streamRevision(connection: CommonQueryMethods, stream: string): Promise<bigint> {
    return connection.oneFirst(
      sql.type(z.object({ revision: z.bigint() }))`SELECT coalesce(max(revision), -1)::bigint AS revision
        FROM eventstore.events WHERE stream_id = ${stream}`,
    );
  }

  private async mapAppendError(error: unknown, stream: string, expected: ExpectedRevision): Promise<Error> {
    const race = concurrentAppendRace(error);
    if (race === 'revision') {
      // The transaction that took the revision has committed: read what it left (outside
      // the failed transaction, which can run no more statements).
      const actual = await this.streamRevision(this.db.pool, stream).catch(() => -1n);
      return new WrongExpectedRevisionError(stream, expected, actual < 0n ? 'no_stream' : actual);
    }
    const code = sqlState(error);
    if (code === 'HS409') {
      const actual = BigInt(sqlDetail(error) ?? '-1');
      return new WrongExpectedRevisionError(stream, expected, actual < 0n ? 'no_stream' : actual);
    }
    if (code === 'HS410') return new DuplicateEventIdError(stream, (error as Error).message);
    if (code === '23505') return new DuplicateEventIdError(stream, 'an event id of the batch was stored concurrently');
    if (code === 'HS413') return new InvalidAppendError((error as Error).message);
    return error instanceof Error ? error : new Error(String(error));
  }

  async readStream(stream: string, options: ReadStreamOptions = {}): Promise<RecordedEvent[]> {
    const limit = validateLimit(options.limit, 2 ** 31 - 1);
    const rows =
      options.direction === 'backwards'
        ? await this.db.pool.any(sql.type(eventRow)`SELECT ${EVENT_COLUMNS} FROM eventstore.events
            WHERE stream_id = ${stream} AND revision <= ${options.fromRevision ?? BigInt(2) ** BigInt(62)}
            ORDER BY revision DESC LIMIT ${limit}`)
        : await this.db.pool.any(sql.type(eventRow)`SELECT ${EVENT_COLUMNS} FROM eventstore.events
            WHERE stream_id = ${stream} AND revision >= ${options.fromRevision ?? 0n}
            ORDER BY revision ASC LIMIT ${limit}`);
    return rows.map(toRecorded);
  }

  async readAll(options: ReadAllOptions = {}): Promise<RecordedEvent[]> {
    return this.readAllWith(this.db.pool, options.fromPosition ?? 0n, validateLimit(options.limit, 1000));
  }

  /** Reads `$all` through a given connection (e.g. inside a transaction). */
  async readAllWith(connection: CommonQueryMethods, after: bigint, limit: number): Promise<RecordedEvent[]> {
    const rows = await connection.any(sql.type(eventRow)`SELECT ${EVENT_COLUMNS} FROM eventstore.events
      WHERE position > ${after} AND position < ${SAFE_BOUND}
      ORDER BY position ASC LIMIT ${limit}`);
    return rows.map(toRecorded);
  }

  /**
   * One page of the given streams' events (all streams when `streams` is undefined) after
   * `after`, below the safe bound, in position order, through `connection` (an export reads
   * in one snapshot transaction).
   */
  async readStreamsWith(connection: CommonQueryMethods, streams: readonly string[] | undefined, after: bigint, limit: number): Promise<RecordedEvent[]> {
    if (streams === undefined) return this.readAllWith(connection, after, limit);
    const rows = await connection.any(sql.type(eventRow)`SELECT ${EVENT_COLUMNS} FROM eventstore.events
      WHERE stream_id = ANY(${sql.array([...streams], 'text')}) AND position > ${after} AND position < ${SAFE_BOUND}
      ORDER BY position ASC LIMIT ${limit}`);
    return rows.map(toRecorded);
  }

  /**
   * Writes recorded events as they were (position, stream, revision, id, recording time), in
   * `tx`: the import of an export into an empty store. Positions keep their order and sync
   * tokens that name them stay valid; {@link raisePositionBase} (in the same transaction,
   * after the last batch) moves the positions of later appends above them. Errors: a position,
   * event id or stream revision already stored (unique violations).
   */
  async importRecordedWith(tx: CommonQueryMethods, records: readonly RecordedEvent[]): Promise<void> {
    if (records.length === 0) return;
    const column = <T extends string | null>(value: (record: RecordedEvent) => T) => records.map(value);
    await tx.query(sql.unsafe`
      INSERT INTO eventstore.events (position, xid, event_id, stream_id, revision, type, data, metadata, recorded_at)
      SELECT x.position, pg_current_xact_id(), x.event_id, x.stream_id, x.revision, x.type, x.data::json, x.metadata::json, x.recorded_at
        FROM unnest(${sql.array(column((r) => r.position.toString()), 'int8')},
                    ${sql.array(column((r) => r.id), 'text')},
                    ${sql.array(column((r) => r.stream), 'text')},
                    ${sql.array(column((r) => r.revision.toString()), 'int8')},
                    ${sql.array(column((r) => r.type), 'text')},
                    ${sql.array(column((r) => JSON.stringify(r.data)), 'text')},
                    ${sql.array(column((r) => (r.metadata === null ? null : JSON.stringify(r.metadata))), 'text')},
                    ${sql.array(column((r) => r.recordedAt.toISOString()), 'timestamptz')})
          AS x(position, event_id, stream_id, revision, type, data, metadata, recorded_at)`);
  }

  /**
   * Raises the position base so that appends after `tx` take positions above every stored
   * one (as {@link open} does after a restore), in `tx`.
   */
  async raisePositionBase(tx: CommonQueryMethods): Promise<void> {
    await tx.query(sql.unsafe`
      UPDATE eventstore.position_base b
         SET xid_offset = m.top + 1 - pg_current_xact_id()::text::bigint
        FROM (SELECT coalesce(max(position) >> 20, 0) AS top FROM eventstore.events) m
       WHERE pg_current_xact_id()::text::bigint + b.xid_offset <= m.top`);
  }

  /**
   * True when committed events after `after` are held back because a transaction older than
   * theirs is still in flight (anywhere in the cluster: transaction ids are cluster-wide).
   * Asked as "is the last event beyond the bound", which reads one index entry (two range
   * conditions on a computed bound made the planner scan the whole table).
   */
  async hasPendingEvents(after = 0n): Promise<boolean> {
    return this.db.pool.oneFirst(sql.type(z.object({ pending: z.boolean() }))`SELECT EXISTS (
      SELECT 1 FROM (SELECT position FROM eventstore.events WHERE position > ${after} ORDER BY position DESC LIMIT 1) last
       WHERE last.position >= ${SAFE_BOUND}) AS pending`);
  }

  /**
   * Waits until no committed event is held back from readers by an older transaction in flight
   * elsewhere in the cluster (polling every 50 ms, at most `timeoutMs`); true when none is. On
   * a shared PostgreSQL, what a reader sees right after its own appends may otherwise stop short
   * of them.
   */
  async settled(timeoutMs = 30_000): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (!(await this.hasPendingEvents())) return true;
      if (Date.now() >= deadline) return false;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  /**
   * One page of `$all` for a subscription, in one statement: the events after `after` below
   * the safe bound and, when there are none, whether committed events beyond it are held back
   * (`pending`). The page is read in position order without the bound and cut at the first
   * event at or beyond it, so the held-back events cost no second query.
   */
  private async readPage(after: bigint, limit: number): Promise<{ events: RecordedEvent[]; pending: boolean }> {
    const rows = await this.db.pool.any(sql.type(pageRow)`SELECT ${EVENT_COLUMNS}, position < ${SAFE_BOUND} AS final
      FROM eventstore.events WHERE position > ${after} ORDER BY position ASC LIMIT ${limit}`);
    let final = 0;
    while (final < rows.length && rows[final].final) final++;
    return { events: rows.slice(0, final).map(toRecorded), pending: final === 0 && rows.length > 0 };
  }

  subscribeToAll(fromPosition: bigint, handler?: SubscriptionHandler, options: SubscribeOptions = {}): AllSubscription {
    return subscribeEventByEvent((from, batch, opts) => this.subscribeToAllBatches(from, batch, opts), (subscription) => this.track(subscription), fromPosition, handler, options);
  }

  subscribeToAllBatches(fromPosition: bigint, handler: BatchHandler, options: SubscribeOptions = {}): AllSubscription {
    const batchSize = validateLimit(options.batchSize, 500);
    const source: BatchSource = {
      notifier: this.notifier,
      idleRecheckMs: this.db.kind === 'pglite' ? Infinity : POSTGRES_IDLE_RECHECK_MS,
      readBatch: (after, limit) => this.readPage(after, limit),
      ensureListening: () => this.ensureListening(),
    };
    return this.track(startBatchSubscription(source, fromPosition, handler, batchSize, validateInterval(options.minReadIntervalMs)));
  }

  async headPosition(): Promise<bigint> {
    const head = await this.db.pool.maybeOneFirst(sql.type(z.object({ position: z.bigint() }))`
      SELECT position FROM eventstore.events WHERE position < ${SAFE_BOUND} ORDER BY position DESC LIMIT 1`);
    return head ?? 0n;
  }

  async countBetween(after: bigint, upTo: bigint): Promise<bigint> {
    return this.db.pool.oneFirst(sql.type(z.object({ count: z.bigint() }))`
      SELECT count(*) AS count FROM eventstore.events WHERE position > ${after} AND position <= ${upTo}`);
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.subscriptions].map((s) => s.close()));
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    const listener = this.listener;
    this.listener = undefined;
    if (listener) await listener.end().catch(() => undefined);
  }

  /** PGlite: wakes this process's readers (NOTIFY does not reach them through the socket). */
  private wakeLocalReaders(): void {
    if (this.db.kind === 'pglite') this.notifier.notify();
  }

  private track(subscription: AllSubscription): AllSubscription {
    this.subscriptions.add(subscription);
    const forget = () => this.subscriptions.delete(subscription);
    subscription.done.then(forget, forget);
    return subscription;
  }

  /** PostgreSQL: one LISTEN connection per store, reconnected when it drops. */
  private ensureListening(): Promise<void> {
    if (this.db.kind !== 'postgres' || this.closed) return Promise.resolve();
    if (!this.listening) {
      this.listening = this.connectListener().catch((error: unknown) => {
        this.listening = undefined;
        throw error;
      });
    }
    return this.listening;
  }

  private async connectListener(): Promise<void> {
    const client = new Client({ connectionString: this.db.connectionUrl });
    const lost = () => {
      if (this.listener !== client) return;
      this.listener = undefined;
      this.listening = undefined;
      client.end().catch(() => undefined);
      if (this.closed) return;
      // Readers re-read after a reconnect, so nothing appended meanwhile is missed.
      this.reconnectTimer = setTimeout(() => {
        this.ensureListening().then(
          () => this.notifier.notify(),
          () => lost(),
        );
      }, LISTEN_RECONNECT_MS);
    };
    client.on('error', lost);
    client.on('end', lost);
    // A notification this store signed was sent by its own grouped appends, whose readers it
    // woke already when the statement returned.
    client.on('notification', (message) => {
      if (message.payload !== this.instance) this.notifier.notify();
    });
    await client.connect();
    await client.query(`LISTEN ${APPENDED_CHANNEL}`);
    if (this.closed) {
      await client.end();
      return;
    }
    this.listener = client;
  }
}

/** An expected revision as `eventstore.append` takes it (a number as text, or its keyword). */
function expectedText(expectedRevision: ExpectedRevision): string {
  return typeof expectedRevision === 'bigint' ? expectedRevision.toString() : expectedRevision;
}

/** The events of one append as the JSON array `eventstore.append` takes. */
function eventsPayload(events: NewEvent[]): string {
  try {
    return JSON.stringify(events.map((e) => ({ id: e.id, type: e.type, data: e.data, metadata: e.metadata ?? null })));
  } catch (error) {
    throw new InvalidAppendError(`event data is not JSON: ${(error as Error).message}`);
  }
}

function toRecorded(row: EventRow): RecordedEvent {
  return {
    id: row.event_id,
    stream: row.stream_id,
    revision: row.revision,
    position: row.position,
    type: row.type,
    data: row.data as JsonValue,
    metadata: (row.metadata ?? null) as JsonValue | null,
    recordedAt: row.recorded_at instanceof Date ? row.recorded_at : new Date(row.recorded_at),
  };
}
