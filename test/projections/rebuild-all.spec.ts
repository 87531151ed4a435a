/**
 * Every projection the homeserver runs, rebuilt from the store over a history of more than
 * 10,000 events of every kind its projectors follow, answers row for row what the live
 * projection built event by event.
 */
import { randomUUID } from 'node:crypto';
import { PUSHER_SET, PUSH_RULES_CHANGED, ROOM_VISIBILITY_SET, pushStream, roomStream } from '@hs/contracts';
import { rebuildProjection, type JsonValue } from '@hs/eventstore';
import { sql } from 'slonik';
import { allProjectors } from '../../apps/homeserver/src/projectors';
import { openProjectionHarness, type ProjectionHarness } from '../../projections/sync/testing/harness';
import { TestRoom } from '../../projections/sync/testing/test-room';

const SERVER = 'test.local';
const users = Array.from({ length: 8 }, (_, i) => `@user${i}:${SERVER}`);
const remote = '@far:remote.example';

let h: ProjectionHarness;

jest.setTimeout(600_000);

afterAll(async () => {
  await h?.close();
});

/** Every row of every table of a projection, through its views, in a fixed order. */
async function rowsOf(name: string, tables: readonly string[]): Promise<Record<string, string[]>> {
  const out: Record<string, string[]> = {};
  for (const table of tables) {
    const rows = await h.db.pool.anyFirst(sql.unsafe`SELECT to_jsonb(t)::text AS row FROM ${sql.identifier([`proj_${name}`, table])} t ORDER BY 1`);
    out[table] = rows as string[];
  }
  return out;
}

async function history(): Promise<number> {
  let events = 0;
  const count = async <T>(work: Promise<T>) => {
    events++;
    return work;
  };
  await h.store.append(pushStream(users[1]), 'any', [
    {
      id: randomUUID(),
      type: PUSH_RULES_CHANGED,
      data: { v: 1, user_id: users[1], rules: { global: { content: [{ rule_id: 'cake', default: false, enabled: true, pattern: 'cake', actions: ['notify'] }] } }, ts: 1 } as unknown as JsonValue,
    },
    {
      id: randomUUID(),
      type: PUSHER_SET,
      data: {
        v: 1,
        user_id: users[1],
        pusher: { pushkey: 'k', kind: 'http', app_id: 'app', app_display_name: 'A', device_display_name: 'D', lang: 'en', data: { url: 'https://push.example/_matrix/push/v1/notify' } },
        append: false,
        ts: 1,
        device_id: 'DEV',
      } as unknown as JsonValue,
    },
  ]);
  const rooms: TestRoom[] = [];
  for (let r = 0; r < 20; r++) {
    const room = await TestRoom.create(h.store, users[r % users.length], { name: `Room ${r}`, historyVisibility: r % 3 === 0 ? 'world_readable' : 'shared' });
    rooms.push(room);
    for (const user of users) if (user !== room.creator) await count(room.join(user, `Name of ${user.slice(1, 6)}`));
    if (r % 2 === 0) await count(room.join(remote));
    await count(room.send(room.creator, 'm.room.topic', { topic: `Topic ${r} about cake` }, { stateKey: '' }));
    if (r % 4 === 0) {
      await h.store.append(roomStream(room.roomId), 'any', [{ id: randomUUID(), type: ROOM_VISIBILITY_SET, data: { v: 1, room_id: room.roomId, visibility: 'public' } as unknown as JsonValue }]);
    }
  }
  for (let i = 0; events < 10_500; i++) {
    const room = rooms[i % rooms.length];
    const sender = users[(i * 7) % users.length];
    const sent = await count(room.message(sender, i % 13 === 0 ? `who wants cake ${i}?` : `message ${i}`, i % 17 === 0 ? { 'm.mentions': { user_ids: [users[1]] } } : {}));
    if (i % 29 === 0) await count(room.message(users[2], `reply ${i}`, { 'm.relates_to': { rel_type: 'm.thread', event_id: sent.eventId } }));
    if (i % 31 === 0) await count(room.send(users[3], 'm.reaction', { 'm.relates_to': { rel_type: 'm.annotation', event_id: sent.eventId, key: '👍' } }));
    if (i % 37 === 0) await count(room.redact(room.creator, sent.eventId));
    if (i % 23 === 0) await count(room.receipt(users[1], sent.eventId, i % 2 === 0 ? 'm.read' : 'm.read.private'));
    if (i % 211 === 0) await count(room.leave(users[5]));
    if (i % 213 === 0) await count(room.join(users[5], `Back ${i}`));
    if (i % 500 === 0) await count(room.send(room.creator, 'm.room.name', { name: `Renamed ${i}` }, { stateKey: '' }));
  }
  await count(rooms[1].forget(users[4]));
  await count(rooms[2].purge(users[0]));
  return events;
}

describe('rebuilding every projection', () => {
  it('gives, row for row, what the live projections built, over more than 10,000 events', async () => {
    const projectors = allProjectors(SERVER);
    h = await openProjectionHarness(projectors);
    const events = await history();
    expect(events).toBeGreaterThanOrEqual(10_000);
    await h.settle();
    for (const projector of allProjectors(SERVER)) {
      const tables = projector.tables ?? [];
      const before = await rowsOf(projector.name, tables);
      const total = Object.values(before).reduce((n, rows) => n + rows.length, 0);
      const result = await rebuildProjection(h.db, h.store, projector);
      expect({ projection: projector.name, checkpoint: result.checkpoint }).toEqual({ projection: projector.name, checkpoint: await h.store.headPosition() });
      // The views now read the new generation's tables.
      for (const table of tables) {
        const definition = await h.db.pool.oneFirst(sql.unsafe`SELECT definition FROM pg_views WHERE schemaname = ${`proj_${projector.name}`} AND viewname = ${table}`);
        expect(definition).toContain(`proj_${projector.name}_${result.generation}.`);
      }
      const after = await rowsOf(projector.name, tables);
      for (const table of tables) {
        expect({ projection: projector.name, table, rows: after[table] }).toEqual({ projection: projector.name, table, rows: before[table] });
      }
      // A projection that holds nothing would compare nothing.
      if (projector.name !== 'media') expect({ projection: projector.name, rows: total > 0 }).toEqual({ projection: projector.name, rows: true });
    }
  });
});
