/**
 * Push notifications on the client side: the users' push rules changes and pushers recorded
 * as facts in their push stream (`push-<userId>`), and the reads of the push projection
 * (pushers, the notifications of GET /notifications), after the read barrier, so a read sees
 * every write acknowledged before it.
 */
import { randomUUID } from 'node:crypto';
import {
  PUSHER_REMOVED,
  PUSHER_SET,
  PUSH_RULES_CHANGED,
  pushStream,
  type Pusher,
  type PusherRemoved,
  type PusherSet,
  type PushRulesChanged,
} from '@hs/contracts';
import type { EventStore, JsonValue, ReadBarrier } from '@hs/eventstore';
import { PUSH_PROJECTION, notificationsOf, pushersOf } from '@hs/projections/push';
import { RECEIPTS_PROJECTION } from '@hs/projections/receipts';
import { SYNC_PROJECTION, SyncQueries, type ClientEvent } from '@hs/projections/sync';
import { readUpToIn } from '@hs/sync';
import type { DatabasePool } from 'slonik';
import { PushError } from './errors';

export interface PushServiceDependencies {
  store: Pick<EventStore, 'append'>;
  pool: DatabasePool;
  readBarrier?: ReadBarrier | null;
  clock?: () => number;
}

/** The path every http pusher's URL must have (push gateway API). */
export const NOTIFY_PATH = '/_matrix/push/v1/notify';

const MAX_PUSHKEY_BYTES = 512;
const MAX_APP_ID_CHARS = 64;
const MAX_PROFILE_TAG_CHARS = 32;
const MAX_NOTIFICATIONS_LIMIT = 1000;
const DEFAULT_NOTIFICATIONS_LIMIT = 50;

/** A pusher as GET /pushers answers it. */
export type PusherView = Pusher;

export interface NotificationView {
  actions: unknown[];
  event: ClientEvent;
  profile_tag?: string;
  read: boolean;
  room_id: string;
  ts: number;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function requireString(body: Record<string, unknown>, key: string): string {
  const value = body[key];
  if (value === undefined || value === null) throw new PushError('M_MISSING_PARAM', `Missing parameter: ${key}`);
  if (typeof value !== 'string') throw new PushError('M_BAD_JSON', `${key} must be a string`);
  return value;
}

/** Checks the URL of an http pusher: absolute http(s) with the notify path. */
export function checkPusherUrl(value: unknown): string {
  if (value === undefined) throw new PushError('M_MISSING_PARAM', "'url' is required in data for an http pusher");
  if (typeof value !== 'string') throw new PushError('M_BAD_JSON', "'url' must be a string");
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new PushError('M_INVALID_PARAM', "'url' must be an absolute URL");
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new PushError('M_INVALID_PARAM', "'url' must be an https (or http) URL");
  if (url.pathname !== NOTIFY_PATH) throw new PushError('M_INVALID_PARAM', `'url' must have the path ${NOTIFY_PATH}`);
  return value;
}

export class PushService {
  private readonly clock: () => number;
  private readonly queries: SyncQueries;

  constructor(private readonly deps: PushServiceDependencies) {
    this.clock = deps.clock ?? Date.now;
    this.queries = new SyncQueries(deps.pool);
  }

  private async append(userId: string, type: string, data: PushRulesChanged | PusherSet | PusherRemoved): Promise<void> {
    await this.deps.store.append(pushStream(userId), 'any', [{ id: randomUUID(), type, data: data as unknown as JsonValue }]);
  }

  /** Records the user's push rules after a change (the whole `m.push_rules` content). */
  async rulesChanged(userId: string, rules: { global: Record<string, unknown> }): Promise<void> {
    await this.append(userId, PUSH_RULES_CHANGED, { v: 1, user_id: userId, rules, ts: this.clock() });
  }

  /** GET /pushers */
  async pushers(userId: string): Promise<PusherView[]> {
    await this.deps.readBarrier?.ready([PUSH_PROJECTION]);
    return (await pushersOf(this.deps.pool, [userId])).map(({ userId: _user, pushkeyTs: _ts, deviceId: _device, setAt: _set, ...pusher }) => pusher);
  }

  /**
   * The devices were deleted (logout, password change, device deletion): their pushers go too,
   * before the deletion is answered.
   */
  async devicesDeleted(userId: string, deviceIds: readonly string[]): Promise<void> {
    if (deviceIds.length === 0) return;
    await this.deps.readBarrier?.ready([PUSH_PROJECTION]);
    const gone = (await pushersOf(this.deps.pool, [userId])).filter((p) => p.deviceId !== null && deviceIds.includes(p.deviceId));
    if (gone.length === 0) return;
    const ts = this.clock();
    await this.deps.store.append(
      pushStream(userId),
      'any',
      gone.map((p) => {
        const fact: PusherRemoved = { v: 1, user_id: userId, app_id: p.app_id, pushkey: p.pushkey, reason: 'device_deleted', ts };
        return { id: randomUUID(), type: PUSHER_REMOVED, data: fact as unknown as JsonValue };
      }),
    );
  }

  /** POST /pushers/set: adds, replaces or (`kind: null`) removes a pusher of the user; `deviceId` is the device that asks. */
  async setPusher(userId: string, body: unknown, deviceId?: string): Promise<void> {
    if (!isRecord(body)) throw new PushError('M_BAD_JSON', 'The body must be a JSON object');
    if (!('kind' in body)) throw new PushError('M_MISSING_PARAM', 'Missing parameter: kind');
    const appId = requireString(body, 'app_id');
    const pushkey = requireString(body, 'pushkey');
    if (appId.length === 0 || [...appId].length > MAX_APP_ID_CHARS) throw new PushError('M_INVALID_PARAM', `app_id must have 1 to ${MAX_APP_ID_CHARS} characters`);
    if (pushkey.length === 0 || Buffer.byteLength(pushkey, 'utf8') > MAX_PUSHKEY_BYTES) {
      throw new PushError('M_INVALID_PARAM', `pushkey must have 1 to ${MAX_PUSHKEY_BYTES} bytes`);
    }
    const kind = body.kind;
    if (kind === null) {
      await this.append(userId, PUSHER_REMOVED, { v: 1, user_id: userId, app_id: appId, pushkey, reason: 'user', ts: this.clock() });
      return;
    }
    if (typeof kind !== 'string') throw new PushError('M_BAD_JSON', 'kind must be a string or null');
    const missing = ['app_display_name', 'device_display_name', 'lang', 'data'].filter((key) => body[key] === undefined || body[key] === null);
    if (missing.length > 0) throw new PushError('M_MISSING_PARAM', `Missing parameters: ${missing.join(', ')}`);
    const pusher: Pusher = {
      pushkey,
      kind,
      app_id: appId,
      app_display_name: requireString(body, 'app_display_name'),
      device_display_name: requireString(body, 'device_display_name'),
      lang: requireString(body, 'lang'),
      data: {},
    };
    if (!isRecord(body.data)) throw new PushError('M_BAD_JSON', 'data must be an object');
    pusher.data = body.data;
    if (body.profile_tag !== undefined) {
      if (typeof body.profile_tag !== 'string' || [...body.profile_tag].length > MAX_PROFILE_TAG_CHARS) {
        throw new PushError('M_INVALID_PARAM', `profile_tag must be a string of at most ${MAX_PROFILE_TAG_CHARS} characters`);
      }
      pusher.profile_tag = body.profile_tag;
    }
    if (body.append !== undefined && typeof body.append !== 'boolean') throw new PushError('M_BAD_JSON', 'append must be a boolean');
    if (kind === 'http') {
      checkPusherUrl(body.data.url);
      // `event_id_only` is the one format the spec names; any other is kept and gets the full body.
      if (body.data.format !== undefined && typeof body.data.format !== 'string') throw new PushError('M_INVALID_PARAM', 'data.format must be a string');
    } else if (kind === 'email') {
      throw new PushError('M_INVALID_PARAM', 'Email pushers are not supported: this server sends no email');
    } else {
      throw new PushError('M_INVALID_PARAM', `Unknown pusher kind ${kind}`);
    }
    await this.append(userId, PUSHER_SET, {
      v: 1,
      user_id: userId,
      pusher,
      append: body.append === true,
      ts: this.clock(),
      ...(deviceId !== undefined ? { device_id: deviceId } : {}),
    });
  }

  /** GET /notifications: the user's notifications, newest first, `from` a token of an earlier answer. */
  async notifications(
    userId: string,
    options: { from?: string | undefined; limit?: string | undefined; only?: string | undefined },
  ): Promise<{ notifications: NotificationView[]; next_token?: string }> {
    let before: bigint | undefined;
    if (options.from !== undefined) {
      if (!/^[0-9]{1,19}$/.test(options.from)) throw new PushError('M_INVALID_PARAM', 'Invalid from token');
      before = BigInt(options.from);
    }
    let limit = DEFAULT_NOTIFICATIONS_LIMIT;
    if (options.limit !== undefined) {
      if (!/^[0-9]{1,9}$/.test(options.limit)) throw new PushError('M_INVALID_PARAM', 'limit must be a non-negative integer');
      limit = Math.min(Number(options.limit), MAX_NOTIFICATIONS_LIMIT);
    }
    const onlyHighlight = options.only !== undefined && options.only.split(',').includes('highlight');
    await this.deps.readBarrier?.ready([PUSH_PROJECTION, SYNC_PROJECTION, RECEIPTS_PROJECTION]);
    if (limit === 0) return { notifications: [] };
    const pool = this.deps.pool;
    // One more than asked tells whether there are further notifications.
    const records = await notificationsOf(pool, userId, { before, limit: limit + 1, onlyHighlight });
    const more = records.length > limit;
    const page = records.slice(0, limit);
    const roomIds = [...new Set(page.map((n) => n.roomId))];
    const readUpTo = await readUpToIn(pool, roomIds.map((roomId) => ({ roomId, joinPosition: 0n })), userId);
    const viewer = { userId };
    const notifications: NotificationView[] = [];
    for (const record of page) {
      const row = await this.queries.eventRow(pool, record.eventId);
      if (!row) continue;
      notifications.push({
        actions: record.actions,
        event: this.queries.format(row, viewer),
        read: record.position <= (readUpTo.get(record.roomId) ?? 0n),
        room_id: record.roomId,
        ts: record.ts,
      });
    }
    const result: { notifications: NotificationView[]; next_token?: string } = { notifications };
    if (more && page.length > 0) result.next_token = String(page[page.length - 1].position);
    return result;
  }
}
