/**
 * To-device messages (client-server API, "Send-to-Device messaging"): PUT /sendToDevice queues
 * a message for each named device of local users (`*`: every device of the user), at one
 * position of the e2ee stream; a device's /sync delivers its messages in order and deletes
 * them once the device's next /sync names a `since` at or past them, so nothing is lost to a
 * crash or a dropped response. Messages for users of other servers go to the relay (the
 * federation sender's `m.direct_to_device` EDUs).
 */
import { z } from 'zod';
import { int, isStorableText, sql, type CommonQueryMethods, type DatabasePool } from './db';
import type { DeviceKeysService, JsonObject } from './device-keys.service';
import { Batcher } from './batcher';
import { E2eeError } from './errors';
import { nextPosition } from './stream';

export interface ToDeviceEvent {
  sender: string;
  type: string;
  content: JsonObject;
}

/** Messages for devices of one other server, as the content of an `m.direct_to_device` EDU. */
export interface DirectToDevice {
  sender: string;
  type: string;
  message_id: string;
  messages: Record<string, Record<string, JsonObject>>;
}

/** Sends to-device messages to other servers. */
export interface ToDeviceRelay {
  relay(destination: string, edu: DirectToDevice): void;
}

/** Most messages one device may hold undelivered; messages beyond it are dropped (and logged). */
export const MAX_PENDING_PER_DEVICE = 10_000;
/** Most messages one /sync delivers to a device. */
export const TO_DEVICE_SYNC_LIMIT = 100;
/** Largest content of one message, in bytes of JSON. */
export const MAX_TO_DEVICE_CONTENT_BYTES = 64 * 1024;

const MessageRow = z.object({ position: int, sender: z.string(), type: z.string(), content: z.string() });
const IndexedMessageRow = MessageRow.extend({ i: int });
const DeviceRow = z.object({ user_id: z.string(), device_id: z.string() });

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function serverOf(userId: string): string {
  return userId.slice(userId.indexOf(':') + 1);
}

interface InboxRequest {
  userId: string;
  deviceId: string;
  acknowledged: number;
  after: number;
  upTo: number;
  limit: number;
}

/** Devices whose acknowledged position is remembered (the oldest are forgotten beyond). */
const MAX_REMEMBERED_ACKS = 100_000;

export class ToDeviceService {
  private relay: ToDeviceRelay | undefined;
  /** Device -> the position up to which this process deleted its acknowledged messages. */
  private readonly deletedUpTo = new Map<string, number>();
  private readonly inboxes = new Batcher<InboxRequest, { events: ToDeviceEvent[]; upTo: number }>((requests) => this.readInboxes(requests));

  constructor(
    private readonly pool: DatabasePool,
    private readonly keys: DeviceKeysService,
    private readonly serverName: string,
    private readonly clock: () => number = Date.now,
    private readonly warn: (message: string) => void = () => undefined,
  ) {}

  /** Where messages for users of other servers go (none: they are dropped). */
  setRelay(relay: ToDeviceRelay | undefined): void {
    this.relay = relay;
  }

  /**
   * PUT /sendToDevice/{eventType}/{txnId} from a device: `messages` maps user ids to device ids
   * (or `*`) to contents. A transaction id the device used before for the same event type sends nothing again.
   */
  async send(senderUser: string, senderDevice: string, type: string, txnId: string, messages: unknown): Promise<void> {
    if (!isStorableText(type) || type.length === 0 || type.length > 255) throw new E2eeError('M_INVALID_PARAM', 'Invalid event type');
    if (!isStorableText(txnId) || txnId.length > 255) throw new E2eeError('M_INVALID_PARAM', 'Invalid transaction id');
    if (!isObject(messages)) throw new E2eeError('M_BAD_JSON', 'messages must be an object');
    const local: { userId: string; deviceId: string; content: string }[] = [];
    const remote = new Map<string, Record<string, Record<string, JsonObject>>>();
    for (const [userId, devices] of Object.entries(messages)) {
      if (!isStorableText(userId) || !userId.startsWith('@') || !userId.includes(':')) throw new E2eeError('M_INVALID_PARAM', `Invalid user id ${userId.slice(0, 100)}`);
      if (!isObject(devices)) throw new E2eeError('M_BAD_JSON', 'messages maps user ids to objects of device ids');
      for (const [deviceId, content] of Object.entries(devices)) {
        if (!isStorableText(deviceId)) throw new E2eeError('M_INVALID_PARAM', 'Invalid device id');
        if (!isObject(content)) throw new E2eeError('M_BAD_JSON', 'Each message content is an object');
        const json = JSON.stringify(content);
        if (Buffer.byteLength(json, 'utf8') > MAX_TO_DEVICE_CONTENT_BYTES) throw new E2eeError('M_TOO_LARGE', 'A message is too large');
        if (json.includes('\\u0000')) throw new E2eeError('M_BAD_JSON', 'A message holds U+0000');
        const server = serverOf(userId);
        if (server === this.serverName) local.push({ userId, deviceId, content: json });
        else {
          const byUser = remote.get(server) ?? {};
          remote.set(server, byUser);
          (byUser[userId] ??= {})[deviceId] = content;
        }
      }
    }
    const result = await this.pool.transaction(async (tx) => {
      const fresh = await tx.maybeOne(sql.unsafe`
        INSERT INTO e2ee.to_device_txns (user_id, device_id, type, txn_id, sent_ts)
        VALUES (${senderUser}, ${senderDevice}, ${type}, ${txnId}, ${this.clock()})
        ON CONFLICT DO NOTHING RETURNING txn_id`);
      if (!fresh) return undefined;
      return this.queue(tx, senderUser, type, local);
    });
    if (!result) return;
    if (result.position !== undefined) this.keys.announce({ kind: 'to_device', userIds: result.users, position: result.position });
    for (const [destination, byUser] of remote) {
      this.relay?.relay(destination, { sender: senderUser, type, message_id: `${senderDevice}.${txnId}`, messages: byUser });
    }
  }

  /**
   * Messages that came from another server (an `m.direct_to_device` EDU of `origin`): queued for
   * the named local devices, like a local send; a message id seen before sends nothing again.
   */
  async receive(origin: string, edu: DirectToDevice): Promise<void> {
    const local: { userId: string; deviceId: string; content: string }[] = [];
    for (const [userId, devices] of Object.entries(edu.messages)) {
      if (serverOf(userId) !== this.serverName || !isObject(devices)) continue;
      for (const [deviceId, content] of Object.entries(devices)) {
        if (!isObject(content) || !isStorableText(deviceId)) continue;
        const json = JSON.stringify(content);
        if (Buffer.byteLength(json, 'utf8') > MAX_TO_DEVICE_CONTENT_BYTES || json.includes('\\u0000')) continue;
        local.push({ userId, deviceId, content: json });
      }
    }
    if (local.length === 0) return;
    const result = await this.pool.transaction(async (tx) => {
      const fresh = await tx.maybeOne(sql.unsafe`
        INSERT INTO e2ee.to_device_txns (user_id, device_id, type, txn_id, sent_ts)
        VALUES (${edu.sender}, ${`federation ${origin}`}, ${edu.type}, ${edu.message_id}, ${this.clock()})
        ON CONFLICT DO NOTHING RETURNING txn_id`);
      if (!fresh) return { position: undefined, users: [] as string[] };
      return this.queue(tx, edu.sender, edu.type, local);
    });
    if (result.position !== undefined) this.keys.announce({ kind: 'to_device', userIds: result.users, position: result.position });
  }

  /** Queues the messages for the devices that exist, at the next position (none taken when no device gets one). */
  private async queue(
    tx: CommonQueryMethods,
    sender: string,
    type: string,
    messages: { userId: string; deviceId: string; content: string }[],
  ): Promise<{ position: number | undefined; users: string[] }> {
    if (messages.length === 0) return { position: undefined, users: [] };
    const targets = await this.expand(tx, messages);
    const full = targets.length > 0 ? await this.fullInboxes(tx, targets) : new Set<string>();
    const kept = targets.filter((t) => !full.has(`${t.userId}\u0000${t.deviceId}`));
    if (full.size > 0) this.warn(`to-device: ${full.size} device(s) hold ${MAX_PENDING_PER_DEVICE} undelivered messages; new ones for them were dropped`);
    if (kept.length === 0) return { position: undefined, users: [] };
    const position = await nextPosition(tx);
    await tx.query(sql.unsafe`
      INSERT INTO e2ee.to_device (position, user_id, device_id, sender, type, content)
      SELECT ${position}, u, d, ${sender}, ${type}, c
        FROM unnest(${sql.array(kept.map((t) => t.userId), 'text')}::text[],
                    ${sql.array(kept.map((t) => t.deviceId), 'text')}::text[],
                    ${sql.array(kept.map((t) => t.content), 'text')}::text[]) AS m(u, d, c)
      ON CONFLICT DO NOTHING`);
    return { position, users: [...new Set(kept.map((t) => t.userId))] };
  }

  /** The named devices that exist, `*` standing for every device of its user (a device named twice gets the explicit message). */
  private async expand(
    conn: CommonQueryMethods,
    messages: { userId: string; deviceId: string; content: string }[],
  ): Promise<{ userId: string; deviceId: string; content: string }[]> {
    const users = [...new Set(messages.map((m) => m.userId))];
    const rows = await conn.any(sql.type(DeviceRow)`
      SELECT user_id, device_id FROM accounts.devices WHERE user_id = ANY(${sql.array(users, 'text')})`);
    const devices = new Map<string, string[]>();
    for (const row of rows) devices.set(row.user_id, [...(devices.get(row.user_id) ?? []), row.device_id]);
    const out = new Map<string, { userId: string; deviceId: string; content: string }>();
    for (const m of messages) {
      if (m.deviceId !== '*') continue;
      for (const deviceId of devices.get(m.userId) ?? []) out.set(`${m.userId}\u0000${deviceId}`, { userId: m.userId, deviceId, content: m.content });
    }
    for (const m of messages) {
      if (m.deviceId === '*' || !(devices.get(m.userId) ?? []).includes(m.deviceId)) continue;
      out.set(`${m.userId}\u0000${m.deviceId}`, m);
    }
    return [...out.values()];
  }

  private async fullInboxes(conn: CommonQueryMethods, targets: { userId: string; deviceId: string }[]): Promise<Set<string>> {
    const rows = await conn.any(sql.type(z.object({ user_id: z.string(), device_id: z.string() }))`
      SELECT user_id, device_id FROM e2ee.to_device
       WHERE user_id = ANY(${sql.array([...new Set(targets.map((t) => t.userId))], 'text')})
       GROUP BY user_id, device_id HAVING count(*) >= ${MAX_PENDING_PER_DEVICE}`);
    return new Set(rows.map((r) => `${r.user_id}\u0000${r.device_id}`));
  }

  /**
   * A device's /sync: deletes the messages at or before `acknowledged` (the `since` it sent),
   * then returns those after `after` up to `upTo` in order, at most `limit`; `upTo` of the
   * answer is the position the messages are complete up to. Inboxes asked for together (the
   * long-polls one send wakes) are read with one statement, after one delete for all of them.
   */
  inbox(userId: string, deviceId: string, acknowledged: number, after: number, upTo: number, limit = TO_DEVICE_SYNC_LIMIT): Promise<{ events: ToDeviceEvent[]; upTo: number }> {
    return this.inboxes.load({ userId, deviceId, acknowledged, after, upTo, limit });
  }

  private async readInboxes(requests: readonly InboxRequest[]): Promise<{ events: ToDeviceEvent[]; upTo: number }[]> {
    await this.deleteAcknowledged(requests);
    const reading = requests.map((r, i) => ({ ...r, i })).filter((r) => r.upTo > r.after);
    const byRequest = new Map<number, z.infer<typeof MessageRow>[]>();
    if (reading.length > 0) {
      const rows = await this.pool.any(sql.type(IndexedMessageRow)`
        SELECT w.i, m.position, m.sender, m.type, m.content
          FROM unnest(${sql.array(reading.map((r) => r.userId), 'text')}::text[],
                      ${sql.array(reading.map((r) => r.deviceId), 'text')}::text[],
                      ${sql.array(reading.map((r) => r.after), 'int8')}::int8[],
                      ${sql.array(reading.map((r) => r.upTo), 'int8')}::int8[],
                      ${sql.array(reading.map((r) => r.limit + 1), 'int4')}::int4[],
                      ${sql.array(reading.map((r) => r.i), 'int4')}::int4[]) AS w(user_id, device_id, after, up_to, n, i)
          CROSS JOIN LATERAL (
            SELECT position, sender, type, content FROM e2ee.to_device
             WHERE user_id = w.user_id AND device_id = w.device_id AND position > w.after AND position <= w.up_to
             ORDER BY position LIMIT w.n) m
         ORDER BY w.i, m.position`);
      for (const raw of rows) {
        const { i, ...row } = IndexedMessageRow.parse(raw);
        const list = byRequest.get(i);
        if (list) list.push(row);
        else byRequest.set(i, [row]);
      }
    }
    return requests.map((request, i) => {
      if (request.upTo <= request.after) return { events: [], upTo: request.upTo };
      const rows = byRequest.get(i) ?? [];
      // A device has one message per position: cut after the last one shown, the answer is complete up to it.
      const shown = rows.length > request.limit ? rows.slice(0, request.limit) : rows;
      const reached = rows.length > request.limit ? shown[shown.length - 1].position : request.upTo;
      return { events: shown.map((r) => ({ sender: r.sender, type: r.type, content: JSON.parse(r.content) as JsonObject })), upTo: reached };
    });
  }

  /** Deletes what the requests' `since` acknowledged, in one statement (a device's syncs mostly name the same since again: nothing is deleted twice). */
  private async deleteAcknowledged(requests: readonly InboxRequest[]): Promise<void> {
    const acknowledged = new Map<string, { userId: string; deviceId: string; upTo: number }>();
    for (const { userId, deviceId, acknowledged: upTo } of requests) {
      const device = `${userId}\u0000${deviceId}`;
      if (upTo <= 0 || upTo <= (this.deletedUpTo.get(device) ?? 0) || upTo <= (acknowledged.get(device)?.upTo ?? 0)) continue;
      acknowledged.set(device, { userId, deviceId, upTo });
    }
    if (acknowledged.size === 0) return;
    const devices = [...acknowledged.values()];
    await this.pool.query(sql.unsafe`
      DELETE FROM e2ee.to_device t
       USING unnest(${sql.array(devices.map((d) => d.userId), 'text')}::text[],
                    ${sql.array(devices.map((d) => d.deviceId), 'text')}::text[],
                    ${sql.array(devices.map((d) => d.upTo), 'int8')}::int8[]) AS w(user_id, device_id, up_to)
       WHERE t.user_id = w.user_id AND t.device_id = w.device_id AND t.position <= w.up_to`);
    for (const [device, { upTo }] of acknowledged) {
      this.deletedUpTo.delete(device);
      this.deletedUpTo.set(device, upTo);
      if (this.deletedUpTo.size > MAX_REMEMBERED_ACKS) this.deletedUpTo.delete(this.deletedUpTo.keys().next().value as string);
    }
  }
}
