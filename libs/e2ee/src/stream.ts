/**
 * The e2ee stream's positions (see migrations/e2ee/0001_device_keys.sql): each change /sync
 * reports takes the next position under the lock of the stream's one row, so positions
 * become visible in commit order and a reader that saw position N has seen every change up to N.
 */
import { z } from 'zod';
import { int, sql, type CommonQueryMethods } from './db';

const PositionRow = z.object({ position: int });

/** Takes the next position; the row stays locked until `tx` (a transaction) ends. */
export async function nextPosition(tx: CommonQueryMethods): Promise<number> {
  const row = await tx.one(sql.type(PositionRow)`UPDATE e2ee.stream SET position = position + 1 RETURNING position`);
  return PositionRow.parse(row).position;
}

/** The highest committed position. */
export async function currentPosition(conn: CommonQueryMethods): Promise<number> {
  const row = await conn.one(sql.type(PositionRow)`SELECT position FROM e2ee.stream`);
  return PositionRow.parse(row).position;
}

/**
 * Records that the users' device lists changed, at the next position (returned); `tx` is a
 * transaction. `deviceIds` names the devices that changed (none: the cross-signing keys).
 */
export async function recordDeviceListChange(tx: CommonQueryMethods, userIds: readonly string[], deviceIds: readonly string[] = ['']): Promise<number> {
  const position = await nextPosition(tx);
  const users = [...new Set(userIds)];
  const devices = deviceIds.length > 0 ? [...new Set(deviceIds)] : [''];
  if (users.length > 0) {
    await tx.query(sql.unsafe`
      INSERT INTO e2ee.device_list_changes (position, user_id, device_id)
      SELECT ${position}, u, d FROM unnest(${sql.array(users, 'text')}::text[]) AS u, unnest(${sql.array(devices, 'text')}::text[]) AS d
      ON CONFLICT DO NOTHING`);
  }
  return position;
}
