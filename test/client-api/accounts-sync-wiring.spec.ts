/**
 * The homeserver's wiring of the read side: the projections run, /sync sees what the client
 * API wrote (rooms, messages, account data), and a waiting incremental sync is woken by a new
 * message through the projection runner's checkpoints.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { SyncNotifier, SyncService } from '@hs/sync';
import { call, registerUser, useTestServer } from './accounts-harness';

describe('read side wiring', () => {
  const s = useTestServer();

  it('wakes a sync parked on a fresh server (empty store) by the first room event', async () => {
    const carol = await registerUser(s.url, 'carol');
    const sync = s.server.clientApp.get(SyncService);
    const notifier = s.server.clientApp.get(SyncNotifier);
    const initial = await sync.sync({ userId: carol.userId, deviceId: carol.deviceId });
    expect(initial.rooms?.join ?? {}).toEqual({});
    const waiting = sync.sync({ userId: carol.userId, deviceId: carol.deviceId, since: initial.next_batch, timeoutMs: 600_000 });
    while (notifier.waiting < 1) await sleep(10);
    const room = await call<{ room_id: string }>(s.url, 'POST', 'createRoom', { token: carol.token, body: {} });
    const woken = await waiting;
    expect(Object.keys(woken.rooms?.join ?? {})).toEqual([room.body.room_id]);
  }, 60000);

  it('wakes a waiting sync with a message sent through the client API, and carries account data', async () => {
    const alice = await registerUser(s.url, 'alice');
    const bob = await registerUser(s.url, 'bob');
    const room = await call<{ room_id: string }>(s.url, 'POST', 'createRoom', { token: alice.token, body: { preset: 'public_chat' } });
    const roomId = room.body.room_id;
    expect((await call(s.url, 'POST', `join/${encodeURIComponent(roomId)}`, { token: bob.token, body: {} })).status).toBe(200);
    const sync = s.server.clientApp.get(SyncService);
    const notifier = s.server.clientApp.get(SyncNotifier);
    // Alice syncs once, so she is online before Bob's long poll: her message is then no
    // presence change of a room-mate, which would wake the poll before the message does.
    await sync.sync({ userId: alice.userId, deviceId: alice.deviceId });
    /** Resolves once `count` sync requests are parked in the notifier. */
    const parked = async (count: number) => {
      while (notifier.waiting < count) await sleep(10);
    };

    // The initial sync of Bob shows the room once the projection caught up with the join.
    let initial = await sync.sync({ userId: bob.userId, deviceId: bob.deviceId });
    for (let attempt = 0; attempt < 50 && !initial.rooms?.join?.[roomId]; attempt++) {
      initial = await sync.sync({ userId: bob.userId, deviceId: bob.deviceId, since: initial.next_batch, timeoutMs: 5000 });
    }
    expect(Object.keys(initial.rooms?.join ?? {})).toContain(roomId);

    // A long poll with nothing new waits (far longer than this test may run); Alice's message wakes it.
    const waiting = sync.sync({ userId: bob.userId, deviceId: bob.deviceId, since: initial.next_batch, timeoutMs: 600_000 });
    await parked(1);
    const sent = await call<{ event_id: string }>(s.url, 'PUT', `rooms/${encodeURIComponent(roomId)}/send/m.room.message/t1`, {
      token: alice.token,
      body: { msgtype: 'm.text', body: 'wake up' },
    });
    expect(sent.status).toBe(200);
    const woken = await waiting;
    const events = woken.rooms?.join?.[roomId]?.timeline?.events ?? [];
    expect(events.map((event) => event.event_id)).toContain(sent.body.event_id);

    // Account data written through the client API reaches /sync.
    const waitingForData = sync.sync({ userId: bob.userId, deviceId: bob.deviceId, since: woken.next_batch, timeoutMs: 600_000 });
    await parked(1);
    await call(s.url, 'PUT', `user/${encodeURIComponent(bob.userId)}/account_data/org.example.pref`, { token: bob.token, body: { on: true } });
    const withData = await waitingForData;
    expect(withData.account_data?.events).toEqual(expect.arrayContaining([{ type: 'org.example.pref', content: { on: true } }]));
  }, 60000);
});
