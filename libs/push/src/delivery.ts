/**
 * Delivery of push notifications to the push gateways, in the background: it follows the push
 * projection's notifications in store order from a persisted position (so a restart neither
 * loses nor repeats a batch that was handed out), and for each one calls the gateway of every
 * http pusher of its user (`POST {url}`, one call per URL for the pushers that share it).
 * A failed call is retried with exponential backoff (5xx, 429 and unreachable gateways), up to
 * a bounded number of attempts; pushkeys the gateway lists in `rejected` lose their pusher.
 * Nothing of this runs in a request's path.
 */
import { randomUUID } from 'node:crypto';
import { PUSHER_REMOVED, pushStream, type PusherRemoved } from '@hs/contracts';
import { readActive, type EventStore, type JsonValue, type ReadBarrier } from '@hs/eventstore';
import { PUSH_PROJECTION, notificationsToPush, pushersOf, type NotificationRecord, type PusherRecord } from '@hs/projections/push';
import { SyncQueries } from '@hs/projections/sync';
import { unreadNotificationsIn } from '@hs/sync';
import { sql, type DatabasePool } from 'slonik';
import { notifyBody, postNotify, type NotifyResult } from './gateway';

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
}

export const DEFAULT_DELIVERY_SETTINGS: DeliverySettings = {
  initialBackoffMs: 1000,
  maxBackoffMs: 60_000,
  maxAttempts: 6,
  requestTimeoutMs: 10_000,
  pollMs: 250,
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

/** Events whose notifications are delivered together. */
const BATCH = 50;

export class PushDelivery {
  private readonly settings: DeliverySettings;
  private readonly queries: SyncQueries;
  private running = false;
  private loop: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly deps: PushDeliveryDependencies) {
    this.settings = { ...DEFAULT_DELIVERY_SETTINGS, ...deps.settings };
    this.queries = new SyncQueries(deps.pool);
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.wake?.();
    if (this.timer) clearTimeout(this.timer);
    await this.loop;
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
    let after: bigint | undefined;
    while (this.running) {
      try {
        after ??= await this.position();
        const upTo = await this.projectionPosition();
        if (upTo > after) {
          const batch = await notificationsToPush(this.deps.pool, after, upTo, BATCH);
          await this.deliverAll(batch);
          // A batch of BATCH events may leave later ones before upTo: go on from its last.
          const events = new Set(batch.map((n) => n.position)).size;
          const next = events >= BATCH ? batch[batch.length - 1].position : upTo;
          await this.deps.pool.query(sql.unsafe`UPDATE push_delivery.position SET position = ${String(next)} WHERE id = 1`);
          after = next;
          continue;
        }
      } catch (error) {
        this.deps.logger?.warn({ err: (error as Error).message }, 'push delivery failed; retrying');
      }
      await new Promise<void>((resolve) => {
        this.wake = resolve;
        this.timer = setTimeout(resolve, this.settings.pollMs);
      });
    }
  }

  /** Delivers one batch: the notifications of one position together, users in parallel. */
  private async deliverAll(notifications: readonly NotificationRecord[]): Promise<void> {
    if (notifications.length === 0) return;
    const users = [...new Set(notifications.map((n) => n.userId))];
    const pushers = new Map<string, PusherRecord[]>();
    for (const pusher of await pushersOf(this.deps.pool, users)) {
      if (pusher.kind !== 'http' || typeof pusher.data.url !== 'string') continue;
      const list = pushers.get(pusher.userId) ?? [];
      list.push(pusher);
      pushers.set(pusher.userId, list);
    }
    await Promise.all(notifications.map((n) => this.deliver(n, pushers.get(n.userId) ?? [])));
  }

  private async deliver(notification: NotificationRecord, pushers: readonly PusherRecord[]): Promise<void> {
    if (pushers.length === 0) return;
    const row = await this.queries.eventRow(this.deps.pool, notification.eventId);
    if (!row) return;
    const event = this.queries.format(row, { userId: notification.userId });
    const [sender, name, alias, unread] = await Promise.all([
      this.queries.currentStateEvent(this.deps.pool, notification.roomId, 'm.room.member', event.sender),
      this.queries.currentStateEvent(this.deps.pool, notification.roomId, 'm.room.name', ''),
      this.queries.currentStateEvent(this.deps.pool, notification.roomId, 'm.room.canonical_alias', ''),
      this.unreadOf(notification.userId),
    ]);
    const text = (value: unknown) => (typeof value === 'string' && value.length > 0 ? value : undefined);
    const details = {
      event,
      actions: notification.actions,
      highlight: notification.highlight,
      userId: notification.userId,
      senderDisplayName: text(sender?.event.content.displayname),
      roomName: text(name?.event.content.name),
      roomAlias: text(alias?.event.content.alias),
      unread,
    };
    // Pushers with the same gateway URL and format get one call.
    const groups = new Map<string, PusherRecord[]>();
    for (const pusher of pushers) {
      const key = `${String(pusher.data.url)}\u0000${pusher.data.format === 'event_id_only' ? 'id' : 'full'}`;
      groups.set(key, [...(groups.get(key) ?? []), pusher]);
    }
    await Promise.all(
      [...groups.values()].map(async (group) => {
        const url = String(group[0].data.url);
        const result = await this.withRetries(url, () => notifyBody(details, group));
        if (!result.ok) {
          this.deps.logger?.warn({ event_id: notification.eventId, gateway: new URL(url).host, reason: result.reason }, 'push notification given up');
          return;
        }
        for (const pushkey of result.rejected) {
          const pusher = group.find((p) => p.pushkey === pushkey);
          if (pusher) await this.removeRejected(pusher);
        }
      }),
    );
  }

  private async withRetries(url: string, body: () => ReturnType<typeof notifyBody>): Promise<NotifyResult> {
    const post = this.deps.post ?? postNotify;
    let delay = this.settings.initialBackoffMs;
    let result: NotifyResult = { ok: false, retry: false, reason: 'not sent' };
    for (let attempt = 1; attempt <= this.settings.maxAttempts && this.running; attempt++) {
      result = await post(url, body(), this.settings.requestTimeoutMs);
      if (result.ok || !result.retry) return result;
      if (attempt === this.settings.maxAttempts) break;
      await this.sleep(delay);
      delay = Math.min(delay * 2, this.settings.maxBackoffMs);
    }
    return result;
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      timer.unref?.();
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

  /** The user's unread notifications across the rooms they are joined to. */
  private async unreadOf(userId: string): Promise<number> {
    const memberships = await this.queries.membershipsOf(this.deps.pool, userId);
    const joined = memberships.filter((m) => m.membership === 'join').map((m) => ({ roomId: m.room_id, joinPosition: m.position }));
    const counts = await unreadNotificationsIn(this.deps.pool, joined, userId, BigInt('9223372036854775807'));
    let total = 0;
    for (const count of counts.values()) total += count.notification_count;
    return total;
  }
}
