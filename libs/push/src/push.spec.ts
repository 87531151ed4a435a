import { randomUUID } from 'node:crypto';
import { sql } from 'slonik';
import { PUSH_RULES_CHANGED, ROOM_EVENT_ACCEPTED, pushStream, roomStream } from '@hs/contracts';
import type { JsonValue } from '@hs/eventstore';
import type { JsonObject } from '@hs/protocol';
import { PushProjector, notificationsOf, unreadCounts } from '@hs/projections/push';
import { ReceiptsProjector } from '@hs/projections/receipts';
import { SyncProjector } from '@hs/projections/sync';
import { TestRoom } from '../../../projections/sync/testing/test-room';
import { openProjectionHarness, type ProjectionHarness } from '../../../projections/sync/testing/harness';
import { PushDelivery } from './delivery';
import type { NotifyBody, NotifyResult } from './gateway';
import { PushService } from './push.service';

const alice = '@alice:test.local';
const bob = '@bob:test.local';
const remote = '@carol:elsewhere.example';

let h: ProjectionHarness;
let service: PushService;

// Each test opens a database and runs three projections.
jest.setTimeout(180_000);

beforeEach(async () => {
  h = await openProjectionHarness([new SyncProjector(), new ReceiptsProjector(), new PushProjector('test.local')]);
  service = new PushService({ store: h.store, pool: h.db.pool });
}, 180_000);

afterEach(async () => {
  await h?.close();
});

async function setRules(userId: string, global: Record<string, unknown>): Promise<void> {
  await h.store.append(pushStream(userId), 'any', [
    { id: randomUUID(), type: PUSH_RULES_CHANGED, data: { v: 1, user_id: userId, rules: { global }, ts: 1 } as unknown as JsonValue },
  ]);
}

const bodies = async (userId: string, onlyHighlight = false) =>
  (await notificationsOf(h.db.pool, userId, { limit: 50, onlyHighlight })).map((n) => n.eventId);

describe('the push projection', () => {
  it("evaluates each event for every local member but the sender, with the member's rules at the time", async () => {
    const room = await TestRoom.create(h.store, alice);
    await room.join(bob, 'Bobby');
    await room.join(remote);
    const hello = await room.message(alice, 'hello');
    const named = await room.message(alice, 'hey Bobby!');
    await room.message(alice, 'a notice', { msgtype: 'm.notice' });
    const mention = await room.message(remote, 'ping', { 'm.mentions': { user_ids: [bob] } });
    await room.message(bob, 'my own');
    // Bob silences the room: later events no longer notify him; earlier ones stay as they were.
    await setRules(bob, { room: [{ rule_id: room.roomId, default: false, enabled: true, actions: ['dont_notify'] }] });
    await room.message(alice, 'after the rule');
    await h.settle();
    expect(await bodies(bob)).toEqual([mention.eventId, named.eventId, hello.eventId]);
    expect(await bodies(bob, true)).toEqual([mention.eventId, named.eventId]);
    // Alice hears of the others' messages (a group of 3, so .m.rule.message); the remote user is not ours.
    expect((await bodies(alice)).length).toBe(2);
    expect(await bodies(remote)).toEqual([]);
    const counts = await unreadCounts(h.db.pool, bob, [{ roomId: room.roomId, unthreaded: hello.position, main: hello.position, threads: new Map() }], 2n ** 62n);
    expect(counts.get(room.roomId)).toEqual({ main: { notification_count: 2, highlight_count: 2 }, threads: new Map() });
  });

  it('applies a keyword content rule and a room member count of two; follows power levels for @room', async () => {
    const room = await TestRoom.create(h.store, alice);
    await room.join(bob);
    await setRules(bob, { content: [{ rule_id: 'cake', default: false, enabled: true, pattern: 'cake', actions: ['notify', { set_tweak: 'highlight' }] }] });
    const cake = await room.message(alice, 'Cake for everyone');
    const plain = await room.message(alice, 'plain');
    const roomMention = await room.message(alice, 'everyone!', { 'm.mentions': { room: true } });
    await h.settle();
    const records = await notificationsOf(h.db.pool, bob, { limit: 10, onlyHighlight: false });
    expect(records.map((r) => [r.eventId, r.highlight])).toEqual([
      // The creator (power 100) may notify the room.
      [roomMention.eventId, true],
      [plain.eventId, false],
      [cake.eventId, true],
    ]);
    expect(records[1].actions).toEqual(['notify', { set_tweak: 'sound', value: 'default' }]);
    // Bob (power 0) may not.
    await room.message(bob, 'everyone?', { 'm.mentions': { room: true } });
    await h.settle();
    expect((await notificationsOf(h.db.pool, alice, { limit: 10, onlyHighlight: true })).length).toBe(0);
  });
});

describe('unread counts', () => {
  it('counts any span from the running totals as counting the notifications one by one does, per thread', async () => {
    const room = await TestRoom.create(h.store, alice);
    const joined = await room.join(bob, 'Bobby');
    const root = await room.message(alice, 'a thread starts here');
    const positions = [joined.position, root.position];
    // Batches of the projection end between the groups, so totals carry over from stored rows.
    for (let group = 0; group < 3; group++) {
      for (let i = 0; i < 4; i++) {
        const threaded: JsonObject = i % 2 === 1 ? { 'm.relates_to': { rel_type: 'm.thread', event_id: root.eventId } } : {};
        const sent = await room.message(alice, i === 2 ? 'hey Bobby' : `message ${group}.${i}`, threaded);
        positions.push(sent.position);
      }
      await h.settle();
    }
    const { rows } = await h.db.pool.query(sql.unsafe`SELECT position, highlight, thread_id FROM proj_push.notifications WHERE user_id = ${bob}`);
    const stored = (rows as unknown as { position: bigint | number; highlight: boolean; thread_id: string | null }[]).map((r) => ({ ...r, position: BigInt(r.position) }));
    expect(stored.filter((r) => r.thread_id === root.eventId).length).toBe(6);
    expect(stored.filter((r) => r.highlight).length).toBe(3);
    const count = (rows: typeof stored) => ({ notification_count: rows.length, highlight_count: rows.filter((r) => r.highlight).length });
    for (const unthreaded of positions) {
      for (const main of positions.filter((p) => p >= unthreaded)) {
        for (const upTo of positions) {
          const threadRead = positions[(positions.indexOf(main) + 3) % positions.length];
          for (const threads of [new Map<string, bigint>(), new Map([[root.eventId, threadRead > unthreaded ? threadRead : unthreaded]])]) {
            const counted = await unreadCounts(h.db.pool, bob, [{ roomId: room.roomId, unthreaded, main, threads }], upTo);
            const inSpan = (after: bigint) => stored.filter((r) => r.position > after && r.position <= upTo);
            const expectedMain = count(inSpan(main).filter((r) => r.thread_id === null));
            const expectedThread = count(inSpan(threads.get(root.eventId) ?? unthreaded).filter((r) => r.thread_id === root.eventId));
            const got = counted.get(room.roomId);
            expect(got?.main ?? { notification_count: 0, highlight_count: 0 }).toEqual(expectedMain);
            expect(got?.threads.get(root.eventId) ?? { notification_count: 0, highlight_count: 0 }).toEqual(expectedThread);
            expect([...(got?.threads.keys() ?? [])].every((t) => t === root.eventId)).toBe(true);
          }
        }
      }
    }
  });
});

describe('invites from other servers', () => {
  it('notifies a local user invited to a room this server does not hold', async () => {
    const roomId = '!elsewhere:remote.example';
    const inviteId = '$remote-invite';
    const fact = {
      v: 1,
      room_id: roomId,
      room_version: '10',
      event_id: inviteId,
      pdu: {
        type: 'm.room.member',
        state_key: bob,
        sender: remote,
        room_id: roomId,
        content: { membership: 'invite' },
        origin_server_ts: 1,
        depth: 5,
        prev_events: [],
        auth_events: [],
        hashes: { sha256: 'x' },
        signatures: {},
      },
      soft_failed: false,
      outlier: true,
      state_delta: { added: [{ type: 'm.room.member', state_key: bob, event_id: inviteId }], removed: [] },
      forward_extremities: [],
      state_groups: [],
      unsigned: { invite_room_state: [{ type: 'm.room.name', state_key: '', sender: remote, content: { name: 'Far away' } }] },
    };
    await h.store.append(roomStream(roomId), 'any', [{ id: randomUUID(), type: ROOM_EVENT_ACCEPTED, data: fact as unknown as JsonValue }]);
    // An outlier that is not such an invite notifies nobody.
    const other = { ...fact, event_id: '$remote-other', pdu: { ...fact.pdu, content: { membership: 'join' }, state_key: remote }, unsigned: undefined };
    await h.store.append(roomStream(roomId), 'any', [{ id: randomUUID(), type: ROOM_EVENT_ACCEPTED, data: other as unknown as JsonValue }]);
    await h.settle();
    expect(await bodies(bob)).toEqual([inviteId]);
    expect(await bodies(remote)).toEqual([]);
  });
});

/** The body of POST /pushers/set for an http pusher. */
const httpPusher = (pushkey: string, url = 'https://push.example.org/_matrix/push/v1/notify', extra: Record<string, unknown> = {}) => ({
  kind: 'http',
  app_id: 'org.example.app',
  pushkey,
  app_display_name: 'App',
  device_display_name: 'Phone',
  lang: 'en',
  data: { url },
  ...extra,
});

describe('pushers and GET /notifications', () => {
  const pusher = (pushkey: string, extra: Record<string, unknown> = {}) =>
    httpPusher(pushkey, 'https://push.example.org/_matrix/push/v1/notify', { data: { url: 'https://push.example.org/_matrix/push/v1/notify', format: 'event_id_only' }, ...extra });

  it('sets, replaces (another user loses the pushkey unless appended) and removes pushers', async () => {
    await service.setPusher(bob, pusher('k1'));
    await service.setPusher(bob, pusher('k1', { device_display_name: 'New phone' }));
    await service.setPusher(alice, pusher('k2'));
    await h.settle();
    expect((await service.pushers(bob)).map((p) => [p.pushkey, p.device_display_name])).toEqual([['k1', 'New phone']]);
    await service.setPusher(alice, pusher('k1', { append: true }));
    await h.settle();
    expect((await service.pushers(bob)).length).toBe(1);
    await service.setPusher(alice, pusher('k1'));
    await h.settle();
    expect(await service.pushers(bob)).toEqual([]);
    expect((await service.pushers(alice)).map((p) => p.pushkey).sort()).toEqual(['k1', 'k2']);
    await service.setPusher(alice, { kind: null, app_id: 'org.example.app', pushkey: 'k2' });
    await h.settle();
    expect((await service.pushers(alice)).map((p) => p.pushkey)).toEqual(['k1']);
    // A format other than event_id_only is kept (it gets the full body); one that is not a string is refused.
    await service.setPusher(bob, pusher('k3', { data: { url: 'https://push.example.org/_matrix/push/v1/notify', format: 'full_event' } }));
    await h.settle();
    expect((await service.pushers(bob)).find((p) => p.pushkey === 'k3')?.data.format).toBe('full_event');
    await expect(service.setPusher(bob, pusher('k4', { data: { url: 'https://push.example.org/_matrix/push/v1/notify', format: 7 } }))).rejects.toMatchObject({ errcode: 'M_INVALID_PARAM' });
  });

  it('lists notifications newest first with read flags and a next token', async () => {
    const room = await TestRoom.create(h.store, alice);
    await room.join(bob);
    await room.join('@dave:test.local');
    const first = await room.message(alice, 'one');
    const second = await room.message(alice, 'two');
    await room.receipt(bob, first.eventId);
    await h.settle();
    const page = await service.notifications(bob, { limit: '1' });
    expect(page.notifications.map((n) => [n.event.event_id, n.read])).toEqual([[second.eventId, false]]);
    const next = await service.notifications(bob, { limit: '1', from: page.next_token });
    expect(next.notifications.map((n) => [n.event.event_id, n.read])).toEqual([[first.eventId, true]]);
    expect(next.next_token).toBeUndefined();
    await expect(service.notifications(bob, { limit: '-1' })).rejects.toMatchObject({ errcode: 'M_INVALID_PARAM', httpStatus: 400 });
  });
});

describe('delivery', () => {
  it('posts each notification once, from its persisted position, retrying failures with backoff', async () => {
    const calls: NotifyBody[] = [];
    let failures = 2;
    const post = async (_url: string, body: NotifyBody): Promise<NotifyResult> => {
      if (failures > 0) {
        failures--;
        return { ok: false, retry: true, reason: 'HTTP 502' };
      }
      calls.push(body);
      return { ok: true, rejected: [] };
    };
    const settings = { initialBackoffMs: 5, maxBackoffMs: 20, pollMs: 10 };
    let delivery = new PushDelivery({ store: h.store, pool: h.db.pool, post, settings });
    await service.setPusher(bob, {
      kind: 'http',
      app_id: 'org.example.app',
      pushkey: 'k1',
      app_display_name: 'App',
      device_display_name: 'Phone',
      lang: 'en',
      data: { url: 'https://push.example.org/_matrix/push/v1/notify', format: 'event_id_only', extra: 1 },
    });
    await h.settle();
    delivery.start();
    const room = await TestRoom.create(h.store, alice);
    await room.join(bob);
    const one = await room.message(alice, 'one');
    await h.settle();
    const deadline = Date.now() + 20_000;
    while (calls.length < 1 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    await delivery.stop();
    expect(calls.map((c) => c.notification.event_id)).toEqual([one.eventId]);
    expect(calls[0].notification).toEqual({
      event_id: one.eventId,
      room_id: room.roomId,
      prio: 'high',
      counts: { unread: 1 },
      devices: [{ app_id: 'org.example.app', pushkey: 'k1', pushkey_ts: expect.any(Number), data: { format: 'event_id_only', extra: 1 }, tweaks: { sound: 'default' } }],
    });
    // A restart goes on from where it was: nothing is sent twice.
    const two = await room.message(alice, 'two');
    await h.settle();
    delivery = new PushDelivery({ store: h.store, pool: h.db.pool, post, settings });
    delivery.start();
    const again = Date.now() + 20_000;
    while (calls.length < 2 && Date.now() < again) await new Promise((resolve) => setTimeout(resolve, 20));
    await new Promise((resolve) => setTimeout(resolve, 100));
    await delivery.stop();
    expect(calls.map((c) => c.notification.event_id)).toEqual([one.eventId, two.eventId]);
  });

  const until = async (check: () => boolean, ms = 20_000) => {
    const deadline = Date.now() + ms;
    while (!check() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
  };

  /** A delivery whose gateway accepts every call and keeps its body. */
  const recordingDelivery = () => {
    const calls: NotifyBody[] = [];
    const post = async (_url: string, body: NotifyBody): Promise<NotifyResult> => {
      calls.push(body);
      return { ok: true, rejected: [] };
    };
    return { calls, delivery: new PushDelivery({ store: h.store, pool: h.db.pool, post, settings: { pollMs: 10 } }) };
  };

  it('sends a badge update with the new unread count when the user reads', async () => {
    const { calls, delivery } = recordingDelivery();
    await service.setPusher(bob, httpPusher('k1'));
    await h.settle();
    delivery.start();
    try {
      const room = await TestRoom.create(h.store, alice);
      await room.join(bob);
      await room.message(alice, 'one');
      const two = await room.message(alice, 'two');
      await h.settle();
      await until(() => calls.length >= 2);
      expect(calls.map((c) => c.notification.counts.unread)).toEqual([1, 2]);
      await room.receipt(bob, two.eventId);
      await h.settle();
      await until(() => calls.length >= 3);
      expect(calls[2]).toEqual({
        notification: { counts: { unread: 0 }, devices: [{ app_id: 'org.example.app', pushkey: 'k1', pushkey_ts: expect.any(Number), data: {}, tweaks: {} }] },
      });
    } finally {
      await delivery.stop();
    }
  });

  it('pushes a pusher only what happens after it was set', async () => {
    const { calls, delivery } = recordingDelivery();
    // The delivery starts (its position) before the room exists, the pusher comes later.
    await h.settle();
    delivery.start();
    try {
      const room = await TestRoom.create(h.store, alice);
      await room.join(bob);
      const before = await room.message(alice, 'before the pusher');
      await room.receipt(bob, before.eventId);
      await service.setPusher(bob, httpPusher('late'));
      const after = await room.message(alice, 'after the pusher');
      await h.settle();
      await until(() => calls.length >= 1);
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(calls.map((c) => c.notification.event_id)).toEqual([after.eventId]);
    } finally {
      await delivery.stop();
    }
  });

  it("does not hold up a user's pushes behind another user's slow gateway", async () => {
    const carol = '@carol:test.local';
    const fast: NotifyBody[] = [];
    let slowCalls = 0;
    const post = async (url: string, body: NotifyBody, _timeout: number, signal?: AbortSignal): Promise<NotifyResult> => {
      if (url.includes('slow')) {
        slowCalls++;
        // A gateway that never answers: the call lasts until the delivery stops.
        await new Promise<void>((resolve) => signal?.addEventListener('abort', () => resolve(), { once: true }));
        return { ok: false, retry: true, reason: 'timed out' };
      }
      fast.push(body);
      return { ok: true, rejected: [] };
    };
    const delivery = new PushDelivery({ store: h.store, pool: h.db.pool, post, settings: { pollMs: 10 } });
    await service.setPusher(bob, httpPusher('slow-key', 'https://slow.example.org/_matrix/push/v1/notify'));
    await service.setPusher(carol, httpPusher('fast-key'));
    await h.settle();
    delivery.start();
    try {
      const room = await TestRoom.create(h.store, alice);
      await room.join(bob);
      await room.join(carol);
      const sent = [];
      for (let i = 0; i < 3; i++) sent.push((await room.message(alice, `message ${i}`)).eventId);
      await h.settle();
      await until(() => fast.length >= 3);
      expect(fast.map((b) => b.notification.event_id)).toEqual(sent);
      // Bob's lane is still on its first call: one at a time, in order.
      expect(slowCalls).toBe(1);
    } finally {
      await delivery.stop();
    }
  });
});

describe('pushers of deleted devices', () => {
  it('removes the pushers a device set when the device is deleted, and only those', async () => {
    const pusher = (pushkey: string) => httpPusher(pushkey);
    await service.setPusher(bob, pusher('phone'), 'PHONE');
    await service.setPusher(bob, pusher('laptop'), 'LAPTOP');
    await service.setPusher(bob, pusher('older'));
    await h.settle();
    await service.devicesDeleted(bob, ['PHONE', 'TABLET']);
    await h.settle();
    expect((await service.pushers(bob)).map((p) => p.pushkey).sort()).toEqual(['laptop', 'older']);
  });
});
