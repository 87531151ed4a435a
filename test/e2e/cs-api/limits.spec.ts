/**
 * Sending is rate limited per user (429 M_LIMIT_EXCEEDED with retry_after_ms), and a /sync
 * long-poll whose client goes away stops waiting.
 */
import { request as httpRequest } from 'node:http';
import { SyncNotifier } from '@hs/sync';
import { call, registerUser } from '@hs/testing';
import { startInProcess, type InProcessServer } from '../../support/in-process-server';

const enc = encodeURIComponent;

describe('send rate limit and abandoned long-polls', () => {
  let hs: InProcessServer;

  beforeAll(async () => {
    hs = await startInProcess({
      postgresFromEnv: true,
      rateLimits: true,
      env: {
        HS_RATE_LIMITS__MESSAGE__BURST_COUNT: '3',
        HS_RATE_LIMITS__MESSAGE__PER_SECOND: '0.01',
        HS_RATE_LIMITS__REGISTRATION__BURST_COUNT: '100',
      },
    });
  }, 120_000);
  afterAll(async () => {
    await hs?.close();
  }, 60_000);

  it('PUT /send answers 429 M_LIMIT_EXCEEDED once the user has used the burst; other users are not affected', async () => {
    const alice = await registerUser(hs.url, 'alice');
    const bob = await registerUser(hs.url, 'bob');
    const room = (await call<{ room_id: string }>(hs.url, 'POST', 'createRoom', { token: alice.token, body: { preset: 'public_chat' } })).body.room_id;
    await call(hs.url, 'POST', `join/${enc(room)}`, { token: bob.token, body: {} });
    for (let i = 0; i < 3; i++) {
      const sent = await call(hs.url, 'PUT', `rooms/${enc(room)}/send/m.room.message/a${i}`, { token: alice.token, body: { body: `${i}` } });
      expect(sent.status).toBe(200);
    }
    const limited = await call<{ errcode: string; retry_after_ms: number }>(hs.url, 'PUT', `rooms/${enc(room)}/send/m.room.message/a3`, {
      token: alice.token,
      body: { body: '3' },
    });
    expect(limited.status).toBe(429);
    expect(limited.body.errcode).toBe('M_LIMIT_EXCEEDED');
    expect(limited.body.retry_after_ms).toBeGreaterThan(0);
    const bobSends = await call(hs.url, 'PUT', `rooms/${enc(room)}/send/m.room.message/b0`, { token: bob.token, body: { body: 'b' } });
    expect(bobSends.status).toBe(200);
  });

  it('a long-poll whose client disconnects stops waiting', async () => {
    const carol = await registerUser(hs.url, 'carol');
    const first = await call<{ next_batch: string }>(hs.url, 'GET', 'sync', { token: carol.token });
    const notifier = hs.server.clientApp.get(SyncNotifier);
    const before = notifier.waiting;
    const url = new URL('/_matrix/client/v3/sync', hs.url);
    url.searchParams.set('since', first.body.next_batch);
    url.searchParams.set('timeout', '60000');
    // A plain HTTP request whose socket is destroyed: the client went away.
    const request = httpRequest(url, { headers: { authorization: `Bearer ${carol.token}` }, agent: false });
    const pending = new Promise((resolve) => request.on('error', resolve).on('close', resolve));
    request.end();
    for (let i = 0; i < 100 && notifier.waiting === before; i++) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(notifier.waiting).toBe(before + 1);
    request.destroy();
    await pending;
    for (let i = 0; i < 100 && notifier.waiting !== before; i++) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(notifier.waiting).toBe(before);
  });
});
