/**
 * Delivery of push notifications to the push gateways, in the background. It follows the push
 * projection in store order: every notification of a user with http pushers, and every badge
 * update due to a read receipt, becomes a call to the gateway of the user's pushers
 * (`POST {url}`, one call per pusher).
 *
 * Calls go through lanes, one per pusher: a lane delivers in order and
 * retries a failed call with exponential backoff (5xx, 429 and unreachable gateways) up to a
 * bounded number of attempts, while the other lanes go on, so one slow or dead gateway never
 * holds up another user's pushes. The persisted position is the one below which every call
 * is finished: a restart sends again what was still queued or in flight (at least once), and
 * nothing older. Pushkeys a gateway lists in `rejected` lose their pusher. Nothing of this runs
 * in a request's path.
 */
import { randomUUID } from 'node:crypto';
import { PUSHER_REMOVED, pushStream, type PusherRemoved } from '@hs/contracts';
import { readActive, type EventStore, type JsonValue, type ReadBarrier } from '@hs/eventstore';
import { PUSH_PROJECTION, badgesToPush, notificationsToPush, pushersOf, type NotificationRecord, type PusherRecord } from '@hs/projections/push';
import { RECEIPTS_PROJECTION } from '@hs/projections/receipts';
import { SYNC_PROJECTION, SyncQueries } from '@hs/projections/sync';
import { unreadNotificationsIn } from '@hs/sync';
import { sql, type DatabasePool } from 'slonik';
import { badgeBody, notifyBody, postNotify, type NotifyBody, type NotifyResult } from './gateway';

export interface DeliverySettings {
  /** First retry delay, in ms; each further retry waits twice as long. */
  initialBackoffMs: number;
  /** Longest wait between two attempts, in ms. */
  maxBackoffMs: number;
  /** Attempts per notification and gateway before it is given up. */
  maxAttempts: number;
  /** Timeout of one call to a gateway, in ms. */
  requestTimeoutMs: number;
  /** How often the delivery looks for new notifications when nothing woke it, in ms. */
  pollMs: number;
  /** Calls queued or in flight at most; reading new notifications waits beyond it. */
  maxQueued: number;
  /** Calls in flight at once, over all lanes. */
  maxConcurrent: number;
}

export const DEFAULT_DELIVERY_SETTINGS: DeliverySettings = {
  initialBackoffMs: 1000,
  maxBackoffMs: 60_000,
  maxAttempts: 6,
  requestTimeoutMs: 10_000,
  pollMs: 250,
  maxQueued: 10_000,
  maxConcurrent: 32,
};

export interface DeliveryLogger {
  warn(fields: Record<string, unknown>, message: string): void;
}

export interface PushDeliveryDependencies {
  store: Pick<EventStore, 'append'>;
  pool: DatabasePool;
  readBarrier?: ReadBarrier | null;
  settings?: Partial<DeliverySettings>;
  logger?: DeliveryLogger;
  clock?: () => number;
  /** The gateway call (tests may observe it); `postNotify` by default. */
  post?: typeof postNotify;
}

const MAX_POSITION = BigInt('9223372036854775807');

/** Events whose notifications are read together. */
const BATCH = 50;

/** One call to the gateway of one pusher. */
interface Job {
  position: bigint;
  pusher: PusherRecord;
  body: NotifyBody;
  /** For the log: the event, or none for a badge update. */
  eventId: string | undefined;
}

interface Lane {
  jobs: Job[];
  running: boolean;
}

export class PushDelivery {
  private readonly settings: DeliverySettings;
  private readonly queries: SyncQueries;
  private running = false;
  private loop: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly lanes = new Map<string, Lane>();
  private readonly laneRuns = new Set<Promise<void>>();
  /** Calls not finished yet, by their position. */
  private readonly unfinished = new Map<bigint, number>();
  private queued = 0;
  private inFlight = 0;
  private readonly slotWaiters: (() => void)[] = [];
  private abort = new AbortController();

  constructor(private readonly deps: PushDeliveryDependencies) {
    this.settings = { ...DEFAULT_DELIVERY_SETTINGS, ...deps.settings };
    this.queries = new SyncQueries(deps.pool);
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.abort = new AbortController();
    // What a stopped run left queued is read again from the persisted position.
    this.lanes.clear();
    this.unfinished.clear();
    this.queued = 0;
    this.loop = this.run();
  }

  /** Stops reading and calling; calls in flight are cut short, and sent again after a restart. */
  async stop(): Promise<void> {
    this.running = false;
    this.abort.abort();
    this.wake?.();
    if (this.timer) clearTimeout(this.timer);
    await this.loop;
    await Promise.all([...this.laneRuns]);
  }

  private async position(): Promise<bigint> {
    const value = await this.deps.pool.maybeOneFirst(sql.unsafe`SELECT position FROM push_delivery.position WHERE id = 1`);
    if (value !== null) return BigInt(value as bigint);
    // First start: notifications of the past are not pushed, only those from now on.
    const start = await this.projectionPosition();
    await this.deps.pool.query(sql.unsafe`INSERT INTO push_delivery.position (id, position) VALUES (1, ${String(start)}) ON CONFLICT (id) DO NOTHING`);
    return BigInt((await this.deps.pool.oneFirst(sql.unsafe`SELECT position FROM push_delivery.position WHERE id = 1`)) as bigint);
  }

  private async projectionPosition(): Promise<bigint> {
    const known = this.deps.readBarrier?.position(PUSH_PROJECTION);
    if (known !== undefined) return known;
    return (await readActive(this.deps.pool, PUSH_PROJECTION))?.checkpoint ?? 0n;
  }

  private async run(): Promise<void> {
    let read: bigint | undefined;
    let persisted: bigint | undefined;
    while (this.running) {
      try {
        if (read === undefined) {
          read = await this.position();
          persisted = read;
        }
        const upTo = await this.projectionPosition();
        if (upTo > read && this.queued < this.settings.maxQueued) {
          const batch = await notificationsToPush(this.deps.pool, read, upTo, BATCH);
          // A batch of BATCH events may leave later ones before upTo: go on from its last.
          const events = new Set(batch.map((n) => n.position)).size;
          const next = events >= BATCH ? batch[batch.length - 1].position : upTo;
          const badges = await badgesToPush(this.deps.pool, read, next);
          // Counts and formatting read the sync and receipts projections: up to date first.
          await this.deps.readBarrier?.ready([SYNC_PROJECTION, RECEIPTS_PROJECTION]);
          for (const job of await this.jobs(batch, badges)) this.enqueue(job);
          read = next;
          persisted = await this.persist(read, persisted);
          continue;
        }
        persisted = await this.persist(read, persisted);
      } catch (error) {
        if (this.running) this.deps.logger?.warn({ err: (error as Error).message }, 'push delivery failed; retrying');
      }
      await new Promise<void>((resolve) => {
        this.wake = resolve;
        this.timer = setTimeout(resolve, this.settings.pollMs);
      });
    }
    if (read !== undefined) await this.persist(read, persisted).catch(() => undefined);
  }

  /** Stores the position below which every call is finished, when it moved. */
  private async persist(read: bigint, persisted: bigint | undefined): Promise<bigint | undefined> {
    let safe = read;
    for (const position of this.unfinished.keys()) if (position - 1n < safe) safe = position - 1n;
    if (persisted !== undefined && safe <= persisted) return persisted;
    await this.deps.pool.query(sql.unsafe`UPDATE push_delivery.position SET position = ${String(safe)} WHERE id = 1`);
    return safe;
  }

  /** The calls for notifications and badge updates, in store order. */
  private async jobs(notifications: readonly NotificationRecord[], badges: readonly { userId: string; position: bigint }[]): Promise<Job[]> {
    if (notifications.length === 0 && badges.length === 0) return [];
    const users = [...new Set([...notifications.map((n) => n.userId), ...badges.map((b) => b.userId)])];
    const pushers = new Map<string, PusherRecord[]>();
    for (const pusher of await pushersOf(this.deps.pool, users)) {
      if (pusher.kind !== 'http' || typeof pusher.data.url !== 'string') continue;
      const list = pushers.get(pusher.userId) ?? [];
      list.push(pusher);
      pushers.set(pusher.userId, list);
    }
    const unread = new Map<string, Promise<number>>();
    const unreadOf = (userId: string, upTo: bigint) => {
      const key = `${userId}\u0000${upTo}`;
      let count = unread.get(key);
      if (!count) unread.set(key, (count = this.unreadOf(userId, upTo)));
      return count;
    };
    const made = await Promise.all([
      // A pusher is pushed what happened after it was set.
      ...notifications.map((n) => this.notificationJobs(n, (pushers.get(n.userId) ?? []).filter((p) => p.setAt < n.position), unreadOf)),
      ...badges.map(async (b) => {
        const own = (pushers.get(b.userId) ?? []).filter((p) => p.setAt < b.position);
        if (own.length === 0) return [];
        const count = await unreadOf(b.userId, MAX_POSITION);
        return own.map((pusher) => ({ position: b.position, pusher, body: badgeBody(count, [pusher]), eventId: undefined }));
      }),
    ]);
    return made.flat().sort((a, b) => (a.position < b.position ? -1 : a.position > b.position ? 1 : 0));
  }

  private async notificationJobs(
    notification: NotificationRecord,
    pushers: readonly PusherRecord[],
    unreadOf: (userId: string, upTo: bigint) => Promise<number>,
  ): Promise<Job[]> {
    if (pushers.length === 0) return [];
    const row = await this.queries.eventRow(this.deps.pool, notification.eventId);
    if (!row) return [];
    const event = this.queries.format(row, { userId: notification.userId });
    const [sender, name, alias, unread] = await Promise.all([
      this.queries.currentStateEvent(this.deps.pool, notification.roomId, 'm.room.member', event.sender),
      this.queries.currentStateEvent(this.deps.pool, notification.roomId, 'm.room.name', ''),
      this.queries.currentStateEvent(this.deps.pool, notification.roomId, 'm.room.canonical_alias', ''),
      // The count as the notification's event left it, so that each push shows its own.
      unreadOf(notification.userId, notification.position),
    ]);
    const text = (value: unknown) => (typeof value === 'string' && value.length > 0 ? value : undefined);
    // An invite to a room this server does not hold: what the room is comes with the invite.
    const stripped = Array.isArray(event.unsigned?.invite_room_state) ? (event.unsigned.invite_room_state as unknown[]) : [];
    const strippedContent = (type: string, stateKey = '') => {
      const found = stripped.find((e): e is { content: Record<string, unknown> } => {
        const entry = e as { type?: unknown; state_key?: unknown; content?: unknown };
        return entry.type === type && entry.state_key === stateKey && typeof entry.content === 'object' && entry.content !== null;
      });
      return found?.content ?? {};
    };
    const roomAlias = text(alias?.event.content.alias) ?? text(strippedContent('m.room.canonical_alias').alias);
    const details = {
      event,
      actions: notification.actions,
      highlight: notification.highlight,
      userId: notification.userId,
      senderDisplayName: text(sender?.event.content.displayname) ?? text(strippedContent('m.room.member', event.sender).displayname),
      // A room without a name goes by its canonical alias.
      roomName: text(name?.event.content.name) ?? text(strippedContent('m.room.name').name) ?? roomAlias,
      roomAlias,
      unread,
    };
    // One call per pusher, as the pushers of other servers get them: each is delivered to (and
    // may be rejected) on its own, also when several share a gateway.
    return pushers.map((pusher) => ({ position: notification.position, pusher, body: notifyBody(details, [pusher]), eventId: notification.eventId }));
  }

  private enqueue(job: Job): void {
    const key = `${job.pusher.userId}\u0000${job.pusher.app_id}\u0000${job.pusher.pushkey}`;
    let lane = this.lanes.get(key);
    if (!lane) {
      lane = { jobs: [], running: false };
      this.lanes.set(key, lane);
    }
    lane.jobs.push(job);
    this.queued++;
    this.unfinished.set(job.position, (this.unfinished.get(job.position) ?? 0) + 1);
    if (!lane.running) {
      lane.running = true;
      const run = this.runLane(key, lane).finally(() => this.laneRuns.delete(run));
      this.laneRuns.add(run);
    }
  }

  private async runLane(key: string, lane: Lane): Promise<void> {
    try {
      while (this.running && lane.jobs.length > 0) {
        const job = lane.jobs[0];
        try {
          await this.send(job);
        } catch (error) {
          this.deps.logger?.warn({ err: (error as Error).message, event_id: job.eventId ?? null }, 'push notification failed');
        }
        if (!this.running) break;
        lane.jobs.shift();
        this.queued--;
        const left = (this.unfinished.get(job.position) ?? 1) - 1;
        if (left === 0) this.unfinished.delete(job.position);
        else this.unfinished.set(job.position, left);
      }
    } finally {
      lane.running = false;
      if (lane.jobs.length === 0) this.lanes.delete(key);
    }
  }

  private async send(job: Job): Promise<void> {
    const url = String(job.pusher.data.url);
    const result = await this.withRetries(url, job.body);
    if (!this.running) return;
    if (!result.ok) {
      this.deps.logger?.warn({ event_id: job.eventId ?? null, gateway: new URL(url).host, reason: result.reason }, 'push notification given up');
      return;
    }
    if (result.rejected.includes(job.pusher.pushkey)) await this.removeRejected(job.pusher);
  }

  private async withRetries(url: string, body: NotifyBody): Promise<NotifyResult> {
    const post = this.deps.post ?? postNotify;
    let delay = this.settings.initialBackoffMs;
    let result: NotifyResult = { ok: false, retry: false, reason: 'not sent' };
    for (let attempt = 1; attempt <= this.settings.maxAttempts && this.running; attempt++) {
      await this.slot();
      try {
        result = await post(url, body, this.settings.requestTimeoutMs, this.abort.signal);
      } finally {
        this.release();
      }
      if (result.ok || !result.retry) return result;
      if (attempt === this.settings.maxAttempts) break;
      await this.sleep(delay);
      delay = Math.min(delay * 2, this.settings.maxBackoffMs);
    }
    return result;
  }

  /** Waits for one of the `maxConcurrent` call slots. */
  private async slot(): Promise<void> {
    while (this.inFlight >= this.settings.maxConcurrent) await new Promise<void>((resolve) => this.slotWaiters.push(resolve));
    this.inFlight++;
  }

  private release(): void {
    this.inFlight--;
    this.slotWaiters.shift()?.();
  }

  /** Waits `ms`, or until the delivery stops. */
  private sleep(ms: number): Promise<void> {
    const signal = this.abort.signal;
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      timer.unref?.();
      signal.addEventListener('abort', done, { once: true });
    });
  }

  private async removeRejected(pusher: PusherRecord): Promise<void> {
    const fact: PusherRemoved = {
      v: 1,
      user_id: pusher.userId,
      app_id: pusher.app_id,
      pushkey: pusher.pushkey,
      reason: 'rejected',
      ts: (this.deps.clock ?? Date.now)(),
    };
    await this.deps.store.append(pushStream(pusher.userId), 'any', [{ id: randomUUID(), type: PUSHER_REMOVED, data: fact as unknown as JsonValue }]);
  }

  /**
   * The badge: the user's unread notifications up to a position, across the rooms they are
   * joined to, and one for each pending invite.
   */
  private async unreadOf(userId: string, upTo: bigint): Promise<number> {
    const memberships = await this.queries.membershipsOf(this.deps.pool, userId);
    const invites = memberships.filter((m) => m.membership === 'invite' && !m.forgotten && m.position <= upTo).length;
    const joined = memberships.filter((m) => m.membership === 'join').map((m) => ({ roomId: m.room_id, joinPosition: m.position }));
    const counts = await unreadNotificationsIn(this.deps.pool, joined, userId, upTo);
    let total = invites;
    for (const count of counts.values()) total += count.notification_count;
    return total;
  }
}
