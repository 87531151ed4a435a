import { openTestDatabase, type TestDatabase } from '@hs/persistence';
import { Batcher } from './batcher';
import { sql } from './db';
import { DeviceKeysService } from './device-keys.service';
import { ToDeviceService } from './to-device.service';

describe('Batcher', () => {
  it('answers the requests made together with one run, each its own answer, and a request made during a run with the next run', async () => {
    const runs: number[][] = [];
    let release: () => void = () => undefined;
    const held = new Promise<void>((resolve) => (release = resolve));
    const batcher = new Batcher<number, number>(async (keys) => {
      runs.push([...keys]);
      if (runs.length === 1) await held;
      return keys.map((k) => k * 10);
    });
    const first = [batcher.load(1), batcher.load(2), batcher.load(3)];
    await new Promise((resolve) => setImmediate(resolve));
    expect(runs).toEqual([[1, 2, 3]]);
    // Made while the first run is in flight: not in it (its reads may predate this request).
    const later = [batcher.load(4), batcher.load(5)];
    release();
    expect(await Promise.all(first)).toEqual([10, 20, 30]);
    expect(await Promise.all(later)).toEqual([40, 50]);
    expect(runs).toEqual([
      [1, 2, 3],
      [4, 5],
    ]);
  });

  it('fails each request of a failed run, and runs the next ones', async () => {
    let fail = true;
    const batcher = new Batcher<number, number>(async (keys) => {
      if (fail) throw new Error('boom');
      return keys.map((k) => k + 1);
    });
    const failed = [batcher.load(1), batcher.load(2)];
    await expect(Promise.all(failed)).rejects.toThrow('boom');
    await expect(failed[1]).rejects.toThrow('boom');
    fail = false;
    expect(await batcher.load(3)).toBe(4);
  });

  it('runs at most maxBatch requests at once', async () => {
    const sizes: number[] = [];
    const batcher = new Batcher<number, number>(async (keys) => {
      sizes.push(keys.length);
      return [...keys];
    }, 2);
    expect(await Promise.all([1, 2, 3, 4, 5].map((k) => batcher.load(k)))).toEqual([1, 2, 3, 4, 5]);
    expect(sizes).toEqual([2, 2, 1]);
  });
});

describe('ToDeviceService inboxes read together', () => {
  let database: TestDatabase;
  let keys: DeviceKeysService;
  let toDevice: ToDeviceService;
  let users = 0;

  /** A user no other test touches, with the devices named. */
  const newUser = async (...deviceIds: string[]): Promise<string> => {
    const userId = `@todevice${++users}:test`;
    await database.db.pool.query(sql.unsafe`INSERT INTO accounts.users (user_id, localpart, kind, created_ts) VALUES (${userId}, ${userId.slice(1, userId.indexOf(':'))}, 'user', 0)`);
    for (const deviceId of deviceIds) {
      await database.db.pool.query(sql.unsafe`INSERT INTO accounts.devices (user_id, device_id, created_ts) VALUES (${userId}, ${deviceId}, 0)`);
    }
    return userId;
  };
  let txn = 0;
  const send = (messages: Record<string, Record<string, Record<string, unknown>>>) => toDevice.send('@sender:test', 'SENDER', 'm.test', `t${++txn}`, messages);
  const contents = (answer: { events: { content: Record<string, unknown> }[] }) => answer.events.map((e) => e.content);

  beforeAll(async () => {
    database = await openTestDatabase('hs_e2ee_todevice_test', 4);
    keys = new DeviceKeysService(database.db.pool);
    toDevice = new ToDeviceService(database.db.pool, keys, 'test');
  });
  afterAll(async () => {
    keys?.close();
    await database?.close();
  });

  it('gives each device read in one batch exactly its messages, in order, from its own since', async () => {
    const alice = await newUser('A1', 'A2');
    const bob = await newUser('B1');
    const start = await keys.position();
    await send({ [alice]: { A1: { n: 'a1-1' }, A2: { n: 'a2-1' } }, [bob]: { B1: { n: 'b1-1' } } });
    const middle = await keys.position();
    await send({ [alice]: { A1: { n: 'a1-2' } }, [bob]: { B1: { n: 'b1-2' } } });
    const now = await keys.position();
    // Read together: A1 from the start, A2 from the start, B1 from the middle (newer since).
    const [a1, a2, b1] = await Promise.all([
      toDevice.inbox(alice, 'A1', start, start, now),
      toDevice.inbox(alice, 'A2', start, start, now),
      toDevice.inbox(bob, 'B1', middle, middle, now),
    ]);
    expect(contents(a1)).toEqual([{ n: 'a1-1' }, { n: 'a1-2' }]);
    expect(a1.upTo).toBe(now);
    expect(contents(a2)).toEqual([{ n: 'a2-1' }]);
    expect(contents(b1)).toEqual([{ n: 'b1-2' }]);
    expect(b1.events[0]).toEqual({ sender: '@sender:test', type: 'm.test', content: { n: 'b1-2' } });
  });

  it('deletes what each since acknowledged, and nothing else, in a batch of devices with older and newer sinces', async () => {
    const carol = await newUser('C1', 'C2', 'C3');
    const start = await keys.position();
    await send({ [carol]: { C1: { n: 1 }, C2: { n: 1 }, C3: { n: 1 } } });
    const first = await keys.position();
    await send({ [carol]: { C1: { n: 2 }, C2: { n: 2 }, C3: { n: 2 } } });
    const second = await keys.position();
    // C1 acknowledges both, C2 the first, C3 nothing (its since is older than every message).
    const batch = await Promise.all([
      toDevice.inbox(carol, 'C1', second, second, second),
      toDevice.inbox(carol, 'C2', first, first, second),
      toDevice.inbox(carol, 'C3', start, start, second),
    ]);
    expect(batch.map(contents)).toEqual([[], [{ n: 2 }], [{ n: 1 }, { n: 2 }]]);
    // What is left, read from the start without acknowledging anything.
    const left = await Promise.all(['C1', 'C2', 'C3'].map((d) => toDevice.inbox(carol, d, 0, 0, second)));
    expect(left.map(contents)).toEqual([[], [{ n: 2 }], [{ n: 1 }, { n: 2 }]]);
    // A later since of C3 acknowledges its messages.
    await toDevice.inbox(carol, 'C3', second, second, second);
    expect(contents(await toDevice.inbox(carol, 'C3', 0, 0, second))).toEqual([]);
  });

  it('delivers at most the limit to a device and says where its answer is complete up to, beside devices with fewer', async () => {
    const dave = await newUser('D1', 'D2');
    const start = await keys.position();
    for (let i = 0; i < 5; i++) await send({ [dave]: { D1: { i } } });
    await send({ [dave]: { D2: { i: 0 } } });
    const now = await keys.position();
    const [d1, d2] = await Promise.all([toDevice.inbox(dave, 'D1', start, start, now, 3), toDevice.inbox(dave, 'D2', start, start, now, 3)]);
    expect(contents(d1)).toEqual([{ i: 0 }, { i: 1 }, { i: 2 }]);
    expect(d1.upTo).toBeLessThan(now);
    expect(contents(d2)).toEqual([{ i: 0 }]);
    expect(d2.upTo).toBe(now);
    const rest = await toDevice.inbox(dave, 'D1', d1.upTo, d1.upTo, now, 3);
    expect(contents(rest)).toEqual([{ i: 3 }, { i: 4 }]);
  });

  it('reads the key counts of devices asked for together as each alone', async () => {
    const erin = await newUser('E1', 'E2', 'E3');
    await keys.upload(erin, 'E1', { one_time_keys: { 'signed_curve25519:a': { key: 'x' }, 'signed_curve25519:b': { key: 'y' }, 'other:c': 'z' } });
    await keys.upload(erin, 'E2', { fallback_keys: { 'signed_curve25519:f': { key: 'f', fallback: true } } });
    const together = await Promise.all(['E1', 'E2', 'E3', 'E1'].map((d) => keys.countsOf(erin, d)));
    const alone = await Promise.all(['E1', 'E2', 'E3', 'E1'].map((d) => keys.counts(database.db.pool, erin, d)));
    expect(together).toEqual(alone);
    expect(together[0]).toEqual({ oneTimeKeyCounts: { signed_curve25519: 2, other: 1 }, unusedFallbackKeyTypes: [] });
    expect(together[1]).toEqual({ oneTimeKeyCounts: { signed_curve25519: 0 }, unusedFallbackKeyTypes: ['signed_curve25519'] });
    expect(together[2]).toEqual({ oneTimeKeyCounts: { signed_curve25519: 0 }, unusedFallbackKeyTypes: [] });
    // Each caller gets its own object.
    expect(together[0]).not.toBe(together[3]);
  });

  it('a position read after a send returns sees it (read your writes), also when asked for together', async () => {
    const fay = await newUser('F1');
    const before = await keys.position();
    await send({ [fay]: { F1: { n: 1 } } });
    const positions = await Promise.all([keys.position(), keys.position()]);
    expect(positions[0]).toBeGreaterThan(before);
    expect(positions[1]).toBe(positions[0]);
    expect(contents(await toDevice.inbox(fay, 'F1', before, before, positions[0]))).toEqual([{ n: 1 }]);
  });
});
