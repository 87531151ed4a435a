/**
 * Push notifications with a real client and a real HTTP receiver standing in for the push
 * gateway: matrix-js-sdk sets a pusher and push rules, the homeserver (started as a process)
 * evaluates alice's messages with bob's rules, counts them in /sync, lists them in
 * GET /notifications and POSTs them to the gateway; a pushkey the gateway rejects loses its
 * pusher.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { NotifyBody } from '@hs/push';
import { assertMatchesSpec } from '@hs/testing';
import { runClientScript, type ClientReport } from '../support/client-script';
import { startServer, type TestServer } from './support/server';

interface Notification {
  actions: unknown[];
  event: { event_id: string; type: string; content: { body?: string }; room_id: string };
  read: boolean;
  room_id: string;
  ts: number;
}

interface PushReport extends ClientReport {
  bob: { userId: string; accessToken: string };
  alice: { userId: string; accessToken: string };
  rooms: { loud: string; quiet: string };
  pushers: unknown[];
  counts: { loud: { total: number; highlight: number }; quiet: { total: number; highlight: number } };
  notifications: { notifications: Notification[]; next_token?: string };
  highlights: { notifications: Notification[] };
  firstPage: { notifications: Notification[]; next_token?: string };
  secondPage?: { notifications: Notification[]; next_token?: string };
}

type Received = NotifyBody;

/** A push gateway: records every notify call and answers with the pushkeys to reject. */
class Gateway {
  readonly received: Received[] = [];
  reject: string[] = [];
  failNext = 0;
  private readonly server: Server;

  constructor() {
    this.server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        if (request.method !== 'POST' || request.url !== '/_matrix/push/v1/notify') {
          response.writeHead(404).end();
          return;
        }
        if (this.failNext > 0) {
          this.failNext--;
          response.writeHead(502).end();
          return;
        }
        this.received.push(JSON.parse(Buffer.concat(chunks).toString('utf8')) as Received);
        response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ rejected: this.reject }));
      });
    });
  }

  async listen(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

async function until<T>(what: string, read: () => Promise<T> | T, done: (value: T) => boolean, ms = 30_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(value)}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

describe('push notifications with matrix-js-sdk and a push gateway', () => {
  let server: TestServer;
  let gateway: Gateway;
  let gatewayUrl: string;
  beforeAll(async () => {
    gateway = new Gateway();
    gatewayUrl = await gateway.listen();
    server = await startServer({ logLevel: 'warn' });
  }, 180_000);
  afterAll(async () => {
    await server?.stop();
    await gateway?.close();
  });

  it("counts, lists and pushes what bob's own rules make notify", async () => {
    const report = await runClientScript<PushReport>(process.execPath, [join(__dirname, 'clients/js-sdk-push.mjs')], [server.url, gatewayUrl]);
    if (!report.ok) throw new Error(`the push flow failed after steps [${report.steps.join(', ')}]:\n${report.error}`);
    const { loud, quiet } = report.rooms;
    const api = async (path: string, token: string, init: RequestInit = {}) => {
      const response = await fetch(`${server.url}/_matrix/client/v3${path}`, { ...init, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' } });
      return { status: response.status, body: (await response.json()) as Record<string, unknown> };
    };

    // The counts of bob's client: the keyword highlights, the silenced room counts nothing.
    expect(report.counts.loud).toMatchObject({ total: 2, highlight: 1 });
    expect(report.counts.quiet).toMatchObject({ total: 0, highlight: 0 });

    // GET /pushers as set (the SDK adds its own `enabled` flag), and valid.
    expect(report.pushers).toEqual([
      expect.objectContaining({
        pushkey: 'bob-pushkey-1',
        kind: 'http',
        app_id: 'org.example.push.test',
        app_display_name: 'Push test',
        device_display_name: 'Test phone',
        lang: 'en',
        data: { url: `${gatewayUrl}/_matrix/push/v1/notify`, custom: 'kept' },
      }),
    ]);
    const pushers = await api('/pushers', report.bob.accessToken);
    expect(pushers.body.pushers).toHaveLength(1);
    assertMatchesSpec(pushers.body, { api: 'client-server', file: 'pusher.yaml', path: '/pushers', method: 'get', status: 200 });

    // GET /notifications: newest first (the invites to both rooms notified too), the quiet
    // room's message absent, highlights alone with only=highlight, pages.
    const all = report.notifications.notifications;
    expect(all.map((n) => [n.event.type, n.room_id, n.read, typeof n.ts])).toEqual([
      ['m.room.message', loud, false, 'number'],
      ['m.room.message', loud, false, 'number'],
      ['m.room.member', quiet, false, 'number'],
      ['m.room.member', loud, false, 'number'],
    ]);
    const listed = all.filter((n) => n.event.type === 'm.room.message');
    expect(listed.map((n) => n.event.content.body)).toEqual(['who wants pineapple pizza?', 'hello bob']);
    expect(listed[0].actions).toEqual(['notify', { set_tweak: 'highlight' }, { set_tweak: 'sound', value: 'fruit' }]);
    // A room of two: .m.rule.room_one_to_one, with a sound.
    expect(listed[1].actions).toEqual(['notify', { set_tweak: 'sound', value: 'default' }]);
    expect(all[2].actions).toEqual(['notify', { set_tweak: 'sound', value: 'default' }]);
    assertMatchesSpec(report.notifications, { api: 'client-server', file: 'notifications.yaml', path: '/notifications', method: 'get', status: 200 });
    expect(report.highlights.notifications.map((n) => n.event.content.body)).toEqual(['who wants pineapple pizza?']);
    expect(report.firstPage.notifications).toHaveLength(1);
    expect(typeof report.firstPage.next_token).toBe('string');
    expect(report.secondPage?.notifications.map((n) => n.event.content.body)).toEqual(['hello bob']);

    // The gateway got the two invites and both messages of the loud room, in order, with the spec's fields.
    const messages = () => gateway.received.map((r) => r.notification).filter((n) => n.type === 'm.room.message');
    await until('the gateway to get four notifications', () => gateway.received.length, (n) => n >= 4);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(gateway.received.map((r) => [r.notification.type, r.notification.room_id])).toEqual([
      ['m.room.member', loud],
      ['m.room.member', quiet],
      ['m.room.message', loud],
      ['m.room.message', loud],
    ]);
    expect(gateway.received[0].notification).toMatchObject({ user_is_target: true, room_name: 'Loud room' });
    const [hello, pineapple] = messages();
    expect(hello).toMatchObject({
      event_id: listed[1].event.event_id,
      room_id: loud,
      type: 'm.room.message',
      sender: report.alice.userId,
      room_name: 'Loud room',
      content: { body: 'hello bob' },
      prio: 'high',
    });
    expect(hello.counts.unread).toBeGreaterThanOrEqual(1);
    expect(hello.devices).toEqual([
      { app_id: 'org.example.push.test', pushkey: 'bob-pushkey-1', pushkey_ts: expect.any(Number), data: { custom: 'kept' }, tweaks: { sound: 'default' } },
    ]);
    expect(pineapple).toMatchObject({ event_id: listed[0].event.event_id, prio: 'high', content: { body: 'who wants pineapple pizza?' } });
    expect(pineapple.devices[0].tweaks).toEqual({ highlight: true, sound: 'fruit' });

    // A gateway error is retried; a rejected pushkey loses its pusher.
    gateway.failNext = 1;
    gateway.reject = ['bob-pushkey-1'];
    const sent = await api(`/rooms/${encodeURIComponent(loud)}/send/m.room.message/t1`, report.alice.accessToken, {
      method: 'PUT',
      body: JSON.stringify({ msgtype: 'm.text', body: 'third' }),
    });
    expect(sent.status).toBe(200);
    await until('the retried notification', () => messages().length, (n) => n === 3);
    expect(messages()[2].event_id).toBe(sent.body.event_id);
    await until('the rejected pusher to go', async () => (await api('/pushers', report.bob.accessToken)).body.pushers as unknown[], (p) => p.length === 0);

    // Bad input gets Matrix errors.
    const bad = (body: unknown) => api('/pushers/set', report.bob.accessToken, { method: 'POST', body: JSON.stringify(body) });
    const base = { kind: 'http', app_id: 'a', pushkey: 'k', app_display_name: 'A', device_display_name: 'D', lang: 'en' };
    expect(await bad({ ...base, data: { url: `${gatewayUrl}/elsewhere` } })).toMatchObject({ status: 400, body: { errcode: 'M_INVALID_PARAM' } });
    expect(await bad({ ...base, data: {} })).toMatchObject({ status: 400, body: { errcode: 'M_MISSING_PARAM' } });
    expect(await bad({ kind: 'http', app_id: 'a', pushkey: 'k' })).toMatchObject({ status: 400, body: { errcode: 'M_MISSING_PARAM' } });
    expect(await bad({ ...base, kind: 'email', app_id: 'm.email', pushkey: 'bob@example.org', data: {} })).toMatchObject({ status: 400, body: { errcode: 'M_INVALID_PARAM' } });
    expect((await api('/notifications?from=nope', report.bob.accessToken)).body).toMatchObject({ errcode: 'M_INVALID_PARAM' });
  }, 300_000);

  it('sends a badge update when the user reads, and drops the pushers of logged-out devices', async () => {
    const api = async (path: string, token: string | undefined, method = 'GET', body?: unknown) => {
      const response = await fetch(`${server.url}/_matrix/client/v3${path}`, {
        method,
        headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), 'content-type': 'application/json' },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      return { status: response.status, body: (await response.json()) as Record<string, unknown> };
    };
    const password = 'a long password 1';
    const register = async (username: string) => {
      const reply = await api('/register', undefined, 'POST', { username, password, auth: { type: 'm.login.dummy' } });
      expect(reply.status).toBe(200);
      return { userId: reply.body.user_id as string, token: reply.body.access_token as string };
    };
    const login = async (user: string) => (await api('/login', undefined, 'POST', { type: 'm.login.password', identifier: { type: 'm.id.user', user }, password })).body.access_token as string;
    const pusher = (pushkey: string) => ({
      kind: 'http',
      app_id: 'org.example.push.test',
      pushkey,
      app_display_name: 'Push test',
      device_display_name: pushkey,
      lang: 'en',
      data: { url: `${gatewayUrl}/_matrix/push/v1/notify` },
    });
    gateway.reject = [];
    const dave = await register('dave');
    const erin = await register('erin');
    const daveLaptop = await login('dave');
    expect((await api('/pushers/set', dave.token, 'POST', pusher('dave-phone'))).status).toBe(200);
    expect((await api('/pushers/set', daveLaptop, 'POST', pusher('dave-laptop'))).status).toBe(200);
    const room = (await api('/createRoom', erin.token, 'POST', { invite: [dave.userId] })).body.room_id as string;
    expect((await api(`/join/${encodeURIComponent(room)}`, dave.token, 'POST', {})).status).toBe(200);
    const seen = gateway.received.length;
    const sent = await api(`/rooms/${encodeURIComponent(room)}/send/m.room.message/b1`, erin.token, 'PUT', { msgtype: 'm.text', body: 'read me' });
    const pushed = () => gateway.received.slice(seen).map((r) => r.notification);
    await until('the message push', pushed, (n) => n.some((x) => x.event_id === sent.body.event_id));
    expect(pushed().find((x) => x.event_id === sent.body.event_id)).toMatchObject({ counts: { unread: 1 } });
    // Dave reads it: his devices hear that nothing is unread, without an event.
    expect((await api(`/rooms/${encodeURIComponent(room)}/receipt/m.read/${encodeURIComponent(sent.body.event_id as string)}`, dave.token, 'POST', {})).status).toBe(200);
    // One call per pusher, as for every notification.
    const badges = (await until('the badge updates', pushed, (n) => n.filter((x) => x.event_id === undefined).length >= 2)).filter((x) => x.event_id === undefined);
    expect(badges.map((b) => b.devices[0].pushkey).sort()).toEqual(['dave-laptop', 'dave-phone']);
    for (const badge of badges) expect(badge).toEqual({ counts: { unread: 0 }, devices: [expect.objectContaining({ tweaks: {} })] });

    // A password change logs out the other devices: the laptop's pusher goes with it, and the next read sees that.
    const changed = await api('/account/password', dave.token, 'POST', { new_password: 'another long password 2', auth: { type: 'm.login.password', identifier: { type: 'm.id.user', user: 'dave' }, password } });
    expect(changed.status).toBe(200);
    expect(((await api('/pushers', dave.token)).body.pushers as { pushkey: string }[]).map((p) => p.pushkey)).toEqual(['dave-phone']);
    // Logging out the phone takes its pusher too.
    expect((await api('/logout', dave.token, 'POST', {})).status).toBe(200);
    const fresh = (await api('/login', undefined, 'POST', { type: 'm.login.password', identifier: { type: 'm.id.user', user: 'dave' }, password: 'another long password 2' })).body.access_token as string;
    expect((await api('/pushers', fresh)).body.pushers).toEqual([]);
  }, 120_000);
});
