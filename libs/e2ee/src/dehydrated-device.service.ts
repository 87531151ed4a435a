/**
 * Dehydrated devices (MSC3814, under `/_matrix/client/unstable/org.matrix.msc3814.v1/`): a user
 * keeps at most one device with no access token, its encrypted state stored here, that other
 * devices send to-device messages to while the user has no device online. A new login
 * fetches the state, reads the device's messages in batches (never deleted by reading, so an
 * interrupted rehydration can start again) and replaces the device.
 *
 * The device itself is an ordinary device of the accounts tables (created and deleted by the
 * caller), with its keys uploaded like any device's; this service keeps which device it is and
 * its data.
 */
import { z } from 'zod';
import { int, isStorableText, sql, type DatabasePool } from './db';
import type { JsonObject } from './device-keys.service';
import { E2eeError } from './errors';
import type { ToDeviceEvent } from './to-device.service';

/** Largest `device_data`, in bytes of JSON. */
export const MAX_DEHYDRATED_DATA_BYTES = 128 * 1024;
/** Most messages one batch of /dehydrated_device/{deviceId}/events returns. */
export const DEHYDRATED_EVENTS_LIMIT = 100;

const DeviceRow = z.object({ device_id: z.string(), device_data: z.string() });
const MessageRow = z.object({ position: int, sender: z.string(), type: z.string(), content: z.string() });

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export class DehydratedDeviceService {
  constructor(
    private readonly pool: DatabasePool,
    private readonly clock: () => number = Date.now,
  ) {}

  /** Checks a PUT body's device id and data; returns the data's stored form. */
  parse(deviceId: unknown, deviceData: unknown): { deviceId: string; data: string } {
    if (!isStorableText(deviceId) || deviceId.length === 0 || deviceId.length > 255) throw new E2eeError('M_INVALID_PARAM', 'device_id must be a string of 1 to 255 characters');
    if (!isObject(deviceData)) throw new E2eeError('M_BAD_JSON', 'device_data must be an object');
    const data = JSON.stringify(deviceData);
    if (Buffer.byteLength(data, 'utf8') > MAX_DEHYDRATED_DATA_BYTES) throw new E2eeError('M_TOO_LARGE', 'device_data is too large');
    if (data.includes('\\u0000')) throw new E2eeError('M_BAD_JSON', 'device_data holds U+0000');
    return { deviceId, data };
  }

  /** The user's dehydrated device, if any. */
  async get(userId: string): Promise<{ device_id: string; device_data: JsonObject } | undefined> {
    const row = await this.pool.maybeOne(sql.type(DeviceRow)`SELECT device_id, device_data FROM e2ee.dehydrated_devices WHERE user_id = ${userId}`);
    return row ? { device_id: row.device_id, device_data: JSON.parse(row.device_data) as JsonObject } : undefined;
  }

  /** Records the user's dehydrated device (replacing the record of the previous one). */
  async set(userId: string, deviceId: string, data: string): Promise<void> {
    await this.pool.query(sql.unsafe`
      INSERT INTO e2ee.dehydrated_devices (user_id, device_id, device_data, created_ts)
      VALUES (${userId}, ${deviceId}, ${data}, ${this.clock()})
      ON CONFLICT (user_id) DO UPDATE SET device_id = EXCLUDED.device_id, device_data = EXCLUDED.device_data, created_ts = EXCLUDED.created_ts`);
  }

  /** Forgets the user's dehydrated device record; returns its device id (undefined: none). */
  async clear(userId: string): Promise<string | undefined> {
    const deviceId = await this.pool.maybeOneFirst(sql.type(z.object({ device_id: z.string() }))`
      DELETE FROM e2ee.dehydrated_devices WHERE user_id = ${userId} RETURNING device_id`);
    return deviceId === null ? undefined : String(deviceId);
  }

  /**
   * POST /dehydrated_device/{deviceId}/events: the device's to-device messages after
   * `nextBatch` (none: from the first), at most {@link DEHYDRATED_EVENTS_LIMIT}, in order, and the
   * token of the next batch (the same token once they are all read). Nothing is deleted.
   */
  async events(userId: string, deviceId: string, nextBatch: unknown): Promise<{ events: ToDeviceEvent[]; next_batch: string }> {
    const current = await this.get(userId);
    if (current?.device_id !== deviceId) throw new E2eeError('M_FORBIDDEN', 'That is not your dehydrated device');
    let after = 0;
    if (nextBatch !== undefined && nextBatch !== null) {
      if (typeof nextBatch !== 'string' || !/^(0|[1-9][0-9]{0,15})$/.test(nextBatch)) throw new E2eeError('M_INVALID_PARAM', 'Invalid next_batch');
      after = Number(nextBatch);
    }
    const raw = await this.pool.any(sql.type(MessageRow)`
      SELECT position, sender, type, content FROM e2ee.to_device
       WHERE user_id = ${userId} AND device_id = ${deviceId} AND position > ${after}
       ORDER BY position LIMIT ${DEHYDRATED_EVENTS_LIMIT}`);
    const rows = raw.map((row) => MessageRow.parse(row));
    const last = rows.length > 0 ? rows[rows.length - 1].position : after;
    return {
      events: rows.map((row) => ({ sender: row.sender, type: row.type, content: JSON.parse(row.content) as JsonObject })),
      next_batch: String(last),
    };
  }
}
