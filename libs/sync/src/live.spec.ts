/**
 * The live path of /sync must answer exactly what the database path answers. Two services
 * (one per path) share one projection and notifier; a seeded sequence of room activity
 * (messages, mentions, notices, topic and display name changes, redactions, receipts, typing,
 * joins, leaves, state resets, account data) runs, and after each step every user's
 * incremental sync is taken on both paths and compared.
 */
import { parseSyncToken } from '@hs/contracts';
import { SyncProjector, SyncQueries } from '@hs/projections/sync';
import { ReceiptsProjector } from '@hs/projections/receipts';
import { PushProjector } from '@hs/projections/push';
import { TestRoom } from '../../../projections/sync/testing/test-room';
import { openProjectionHarness, type ProjectionHarness } from '../../../projections/sync/testing/harness';
import { LiveWindow } from './live';
import { SyncNotifier } from './notifier';
import { SyncService, type SyncResponse } from './sync.service';
import { TypingStore } from './typing';
import { MemoryAccountData } from '../testing/memory-account-data';
import type { SyncFilter } from './filter';

const alice = '@alice:test.local';
const bob = '@bob:test.local';
const carol = '@carol:test.local';

/** A small deterministic generator (mulberry32). */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The response without what differs by nature between two requests (ages, the account data token). */
function normalise(response: SyncResponse): unknown {
  const copy = JSON.parse(JSON.stringify(response)) as Record<string, unknown>;
  const token = parseSyncToken(response.next_batch);
  copy.next_batch = { events: String(token.events), typing: token.typing, receipts: String(token.receipts) };
  const strip = (value: unknown): void => {
    if (Array.isArray(value)) value.forEach(strip);
    else if (value && typeof value === 'object') {
      const object = value as Record<string, unknown>;
      if (object.unsigned && typeof object.unsigned === 'object') delete (object.unsigned as Record<string, unknown>).age;
      Object.values(object).forEach(strip);
    }
  };
  strip(copy);
  return copy;
}

let h: ProjectionHarness;
let notifier: SyncNotifier | undefined;
let typing: TypingStore;
let accountData: MemoryAccountData;

beforeEach(async () => {
  h = await openProjectionHarness([new SyncProjector(), new ReceiptsProjector(), new PushProjector('test.local')], (name, position, wrote, written) =>
    notifier?.checkpointAdvanced(name, position, wrote, written),
  );
  typing = new TypingStore();
  accountData = new MemoryAccountData();
});

afterEach(async () => {
  notifier?.close();
  notifier = undefined;
  typing?.close();
  await h?.close();
});

async function settle(): Promise<void> {
  await h.settle();
  await notifier?.idle();
}

describe('live /sync path', () => {
  it.each([1, 2, 3, 4, 5])('answers every incremental sync as the database path does (seed %i)', async (seed) => {
    const queries = new SyncQueries(h.db.pool);
    notifier = new SyncNotifier(h.db.pool, typing, accountData, queries);
    const live = new SyncService(queries, { typing, accountData, notifier, live: true });
    const database = new SyncService(queries, { typing, accountData, notifier, live: false });
    const next = random(seed);
    const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)];

    const lobby = await TestRoom.create(h.store, alice, { name: 'Lobby' });
    const unnamed = await TestRoom.create(h.store, bob);
    await lobby.join(bob);
    await unnamed.join(alice);
    const rooms = [lobby, unnamed];
    const joined = new Map<TestRoom, Set<string>>([
      [lobby, new Set([alice, bob])],
      [unnamed, new Set([alice, bob])],
    ]);
    const messages = new Map<TestRoom, string[]>([
      [lobby, []],
      [unnamed, []],
    ]);
    await settle();

    const filters: SyncFilter[] = [
      { room: { timeline: { limit: 20, unread_thread_notifications: true }, state: { lazy_load_members: true } } },
      { room: { timeline: { limit: 3 } } },
    ];
    const users = [alice, bob, carol];
    const tokens = new Map<string, { live: string; database: string }>();
    for (const user of users) {
      for (const [f] of filters.entries()) {
        const device = `D${f}`;
        const a = await live.sync({ userId: user, deviceId: device, filter: filters[f] });
        const b = await database.sync({ userId: user, deviceId: device, filter: filters[f] });
        expect(normalise(a)).toEqual(normalise(b));
        tokens.set(`${user}/${f}`, { live: a.next_batch, database: b.next_batch });
      }
    }

    for (let step = 0; step < 40; step++) {
      const operations = 1 + Math.floor(next() * 3);
      for (let o = 0; o < operations; o++) {
        const room = pick(rooms);
        const members = [...joined.get(room)!];
        const sender = pick(members);
        const roll = next();
        if (roll < 0.45) {
          const mention = next() < 0.2 ? ` hello ${pick(users)}` : '';
          const sent = await room.message(sender, `m${step}.${o}${mention}`);
          messages.get(room)!.push(sent.eventId);
        } else if (roll < 0.5) {
          await room.send(sender, 'm.room.message', { msgtype: 'm.notice', body: `notice ${step}` });
        } else if (roll < 0.55) {
          await room.state_(sender, 'm.room.topic', { topic: `topic ${step}` });
        } else if (roll < 0.6) {
          await room.join(sender, `${sender.slice(1, 4)} ${step}`);
        } else if (roll < 0.65 && messages.get(room)!.length > 0) {
          await room.redact(sender, pick(messages.get(room)!));
        } else if (roll < 0.75 && messages.get(room)!.length > 0) {
          const reader = pick(members);
          await room.receipt(reader, pick(messages.get(room)!), next() < 0.5 ? 'm.read' : 'm.read.private');
        } else if (roll < 0.8) {
          typing.setTyping(room.roomId, sender, next() < 0.7, 30_000);
        } else if (roll < 0.85) {
          if (joined.get(room)!.has(carol)) {
            await room.leave(carol);
            joined.get(room)!.delete(carol);
          } else {
            await room.join(carol);
            joined.get(room)!.add(carol);
          }
        } else if (roll < 0.87) {
          await room.resetState(sender, [{ type: 'm.room.topic', stateKey: '' }]);
        } else if (roll < 0.9) {
          accountData.set(pick(users), next() < 0.5 ? null : room.roomId, 'm.tag', { step });
        } else {
          const sent = await room.message(sender, `burst ${step}`);
          messages.get(room)!.push(sent.eventId);
        }
      }
      await settle();
      for (const user of users) {
        for (const [f] of filters.entries()) {
          const device = `D${f}`;
          const key = `${user}/${f}`;
          const since = tokens.get(key)!;
          const a = await live.sync({ userId: user, deviceId: device, filter: filters[f], since: since.live });
          const b = await database.sync({ userId: user, deviceId: device, filter: filters[f], since: since.database });
          expect({ step, user, filter: f, body: normalise(a) }).toEqual({ step, user, filter: f, body: normalise(b) });
          tokens.set(key, { live: a.next_batch, database: b.next_batch });
        }
      }
    }
    // The live path answered a good share of the syncs; the database path never did there.
    expect(live.answeredBy.live).toBeGreaterThan(40);
    expect(database.answeredBy.live).toBe(0);
  }, 240_000);

  it('a long-poll on the live path wakes with the new message and reads nothing else', async () => {
    const queries = new SyncQueries(h.db.pool);
    notifier = new SyncNotifier(h.db.pool, typing, accountData, queries);
    const service = new SyncService(queries, { typing, accountData, notifier });
    const room = await TestRoom.create(h.store, alice);
    await room.join(bob);
    await settle();
    const filter: SyncFilter = { room: { state: { lazy_load_members: true } } };
    let token = (await service.sync({ userId: bob, deviceId: 'B', filter })).next_batch;
    // Warm the caches with one message.
    await room.message(alice, 'first');
    await settle();
    token = (await service.sync({ userId: bob, deviceId: 'B', filter, since: token })).next_batch;
    const before = service.answeredBy.live;
    const waiting = service.sync({ userId: bob, deviceId: 'B', filter, since: token, timeoutMs: 10_000 });
    await new Promise((resolve) => setTimeout(resolve, 50));
    await room.message(alice, 'second');
    const response = await waiting;
    expect(response.rooms?.join?.[room.roomId]?.timeline.events.map((e) => e.content?.body)).toEqual(['second']);
    expect(response.rooms?.join?.[room.roomId]?.unread_notifications).toEqual({ notification_count: 2, highlight_count: 0 });
    expect(service.answeredBy.live).toBeGreaterThan(before);
  });
});

describe('LiveWindow', () => {
  it('forgets the oldest ranges beyond its size and then sends older tokens to the database', async () => {
    const queries = new SyncQueries(h.db.pool);
    const window = new LiveWindow(queries, 4);
    window.start(10n);
    const row = (position: bigint) =>
      ({ position, room_id: '!r:test.local', type: 'm.room.message', state_key: null, sender: alice, in_timeline: true, event_id: `$${position}` }) as never;
    window.add(10n, 12n, [row(11n), row(12n)], new Set(), new Set());
    window.add(12n, 14n, [row(13n), row(14n)], new Set(), new Set());
    expect(window.steady('!r:test.local', 10n)).toBe(true);
    window.add(14n, 16n, [row(15n), row(16n)], new Set(), new Set());
    expect(window.floor).toBeGreaterThan(10n);
    expect(window.steady('!r:test.local', 10n)).toBe(false);
    expect(window.rowsAfter('!r:test.local', 14n).map((r) => r.position)).toEqual([15n, 16n]);
    // A state change makes the room unsteady for tokens before it.
    window.add(16n, 18n, [{ ...(row(17n) as object), state_key: '' } as never], new Set(), new Set());
    expect(window.steady('!r:test.local', 16n)).toBe(false);
    expect(window.steady('!r:test.local', 18n)).toBe(true);
    // A range that does not follow on starts the window again.
    window.add(20n, 22n, [row(21n)], new Set(), new Set());
    expect(window.floor).toBe(22n);
    expect(window.rowsAfter('!r:test.local', 0n)).toEqual([]);
  });
});
