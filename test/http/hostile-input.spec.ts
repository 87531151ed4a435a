/**
 * Hostile input over real HTTP: lone UTF-16 surrogates, deep nesting, bytes that are not
 * UTF-8, `null` bodies, look-alike usernames, overlong path parameters and URLs, slow and
 * numerous connections. Each probe gets a Matrix error (4xx, `errcode`), the server stays up,
 * and nothing is stored.
 */
import 'reflect-metadata';
import { connect, type Socket } from 'node:net';
import { Body, Controller, Get, Module, Post } from '@nestjs/common';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { sharedSecretMac } from '@hs/accounts';
import { MAX_JSON_BODY_DEPTH, createHttpApplication } from '@hs/http';
import { call, registerUser, type Reply, type TestUser } from '@hs/testing';
import pino from 'pino';
import { startInProcess, type InProcessServer } from '../support/in-process-server';

interface RawReply {
  status: number | undefined;
  headers: string;
  body: unknown;
  /** Milliseconds from the first byte written until the server closed the connection. */
  closedAfterMs: number;
}

/**
 * Writes `chunks` on a fresh TCP connection (a number in the list pauses that many
 * milliseconds) and resolves once the server has closed it, with what it answered.
 */
function rawExchange(base: string, chunks: (string | Buffer | number)[], timeoutMs = 30_000): Promise<RawReply> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(url.port), url.hostname);
    const received: Buffer[] = [];
    const started = Date.now();
    let done = false;
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`the server did not close the connection within ${timeoutMs} ms`));
    }, timeoutMs);
    const finish = () => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      const text = Buffer.concat(received).toString('utf8');
      const split = text.indexOf('\r\n\r\n');
      const head = split < 0 ? text : text.slice(0, split);
      const bodyText = split < 0 ? '' : text.slice(split + 4);
      let body: unknown = bodyText;
      try {
        body = JSON.parse(bodyText);
      } catch {
        // kept as text for the assertion message
      }
      const status = /^HTTP\/1\.1 (\d{3})/.exec(head)?.[1];
      resolve({ status: status === undefined ? undefined : Number(status), headers: head, body, closedAfterMs: Date.now() - started });
    };
    socket.on('data', (chunk: Buffer) => received.push(chunk));
    socket.on('error', () => undefined);
    socket.on('close', finish);
    socket.on('connect', () => {
      void (async () => {
        for (const chunk of chunks) {
          if (socket.destroyed) return;
          if (typeof chunk === 'number') await new Promise((wait) => setTimeout(wait, chunk));
          else socket.write(chunk);
        }
      })();
    });
  });
}

/** `depth` arrays inside each other, as JSON text. */
function nested(depth: number): string {
  return `${'['.repeat(depth)}${']'.repeat(depth)}`;
}

function errcodeOf(reply: Reply | RawReply): unknown {
  return (reply.body as { errcode?: unknown } | undefined)?.errcode;
}

const HOSTILE_TYPE = 'org.example.hostile';

describe('hostile input against the homeserver', () => {
  let hs: InProcessServer;
  let alice: TestUser;
  let roomId: string;
  let room: string;
  let me: string;
  let txn = 0;
  const nextTxn = () => `hostile-${(txn += 1)}`;

  beforeAll(async () => {
    hs = await startInProcess({ env: { HS_LOGGING__LEVEL: 'silent' } });
    alice = await registerUser(hs.url, 'alice');
    const created = await call<{ room_id: string }>(hs.url, 'POST', 'createRoom', { token: alice.token, body: {} });
    expect(created.status).toBe(200);
    roomId = created.body.room_id;
    room = encodeURIComponent(roomId);
    me = encodeURIComponent(alice.userId);
  });

  afterAll(async () => {
    await hs?.close();
  });

  afterEach(async () => {
    const versions = await fetch(`${hs.url}/_matrix/client/versions`);
    expect(versions.status).toBe(200);
  });

  /** A call with a raw body and alice's token. */
  function send(method: string, path: string, raw: string): Promise<Reply> {
    return call(hs.url, method, path, { token: alice.token, raw });
  }

  /**
   * Sends a sentinel event and waits until /messages shows it, then checks that no event of
   * the hostile type precedes it and that no such state exists.
   */
  async function expectNothingStored(): Promise<void> {
    const sentinel = nextTxn();
    const sent = await call(hs.url, 'PUT', `rooms/${room}/send/m.room.message/${sentinel}`, { token: alice.token, body: { msgtype: 'm.text', body: sentinel } });
    expect(sent.status).toBe(200);
    const deadline = Date.now() + 10_000;
    for (;;) {
      const messages = await call<{ chunk: { type: string; content: { body?: unknown } }[] }>(hs.url, 'GET', `rooms/${room}/messages`, {
        token: alice.token,
        query: { dir: 'b', limit: '1000' },
      });
      expect(messages.status).toBe(200);
      if (messages.body.chunk.some((event) => event.content.body === sentinel)) {
        expect(messages.body.chunk.filter((event) => event.type === HOSTILE_TYPE)).toEqual([]);
        break;
      }
      if (Date.now() > deadline) throw new Error('the sentinel event never showed in /messages');
      await new Promise((wait) => setTimeout(wait, 50));
    }
    const state = await call<{ type: string }[]>(hs.url, 'GET', `rooms/${room}/state`, { token: alice.token });
    expect(state.status).toBe(200);
    expect(state.body.filter((event) => event.type === HOSTILE_TYPE)).toEqual([]);
  }

  describe('lone UTF-16 surrogates', () => {
    it('are refused with 400 M_BAD_JSON in every JSON body, in values and in keys', async () => {
      const before = await call<{ joined_rooms: string[] }>(hs.url, 'GET', 'joined_rooms', { token: alice.token });
      const probes: [string, string, string][] = [
        ['PUT', `rooms/${room}/send/${HOSTILE_TYPE}/${nextTxn()}`, '{"body":"\\ud800"}'],
        ['PUT', `rooms/${room}/send/${HOSTILE_TYPE}/${nextTxn()}`, '{"body":"x\\udc00y"}'],
        ['PUT', `rooms/${room}/send/${HOSTILE_TYPE}/${nextTxn()}`, '{"x\\udc00y":1}'],
        ['PUT', `rooms/${room}/send/${HOSTILE_TYPE}/${nextTxn()}`, '{"a":{"b":["ok","\\ude00\\ud83d"]}}'],
        ['PUT', `rooms/${room}/state/${HOSTILE_TYPE}/key`, '{"v":"a\\udbff"}'],
        ['PUT', `profile/${me}/displayname`, '{"displayname":"\\ud800"}'],
        ['PUT', `user/${me}/account_data/${HOSTILE_TYPE}`, '{"\\ud800":1}'],
        ['PUT', `user/${me}/rooms/${room}/account_data/${HOSTILE_TYPE}`, '{"v":"\\udfff"}'],
        ['PUT', `user/${me}/rooms/${room}/tags/u.hostile`, '{"order":0.5,"n":"\\ud800"}'],
        ['POST', 'createRoom', '{"topic":"\\ud800"}'],
        ['POST', 'createRoom', '{"creation_content":{"\\udc00":1}}'],
        ['POST', `user/${me}/filter`, '{"room":{"rooms":["\\udc00"]}}'],
        ['POST', 'register', '{"username":"surrogate","password":"\\ud800"}'],
        ['POST', 'login', '{"type":"m.login.password","identifier":{"type":"m.id.user","user":"\\ud800"},"password":"x"}'],
      ];
      for (const [method, path, raw] of probes) {
        const reply = await send(method, path, raw);
        expect({ method, path, raw, status: reply.status, errcode: errcodeOf(reply) }).toEqual({ method, path, raw, status: 400, errcode: 'M_BAD_JSON' });
      }
      // Paired surrogates (an emoji written as escapes) are fine.
      const emoji = await send('PUT', `rooms/${room}/send/m.room.message/${nextTxn()}`, '{"msgtype":"m.text","body":"\\ud83d\\ude00"}');
      expect(emoji.status).toBe(200);

      await expectNothingStored();
      const profile = await call(hs.url, 'GET', `profile/${me}/displayname`, { token: alice.token });
      expect(profile.body).toEqual({ displayname: alice.username });
      expect((await call(hs.url, 'GET', `user/${me}/account_data/${HOSTILE_TYPE}`, { token: alice.token })).status).toBe(404);
      expect((await call(hs.url, 'GET', `user/${me}/rooms/${room}/account_data/${HOSTILE_TYPE}`, { token: alice.token })).status).toBe(404);
      const tags = await call<{ tags: Record<string, unknown> }>(hs.url, 'GET', `user/${me}/rooms/${room}/tags`, { token: alice.token });
      expect(tags.body.tags).toEqual({});
      const after = await call<{ joined_rooms: string[] }>(hs.url, 'GET', 'joined_rooms', { token: alice.token });
      expect(after.body.joined_rooms.sort()).toEqual(before.body.joined_rooms.sort());
      expect((await call(hs.url, 'GET', 'register/available', { query: { username: 'surrogate' } })).status).toBe(200);
    });
  });

  describe('deep nesting', () => {
    it(`accepts event content nested ${MAX_JSON_BODY_DEPTH} levels deep (the body's own object included)`, async () => {
      const reply = await send('PUT', `rooms/${room}/send/m.room.message/${nextTxn()}`, `{"msgtype":"m.text","body":"deep","a":${nested(MAX_JSON_BODY_DEPTH - 1)}}`);
      expect(reply.status).toBe(200);
    });

    it('refuses 3,000 and 100,000 levels in event content, creation_content and account data with a 4xx', async () => {
      const before = await call<{ joined_rooms: string[] }>(hs.url, 'GET', 'joined_rooms', { token: alice.token });
      for (const depth of [MAX_JSON_BODY_DEPTH + 1, 3_000, 100_000]) {
        for (const [method, path, raw] of [
          ['PUT', `rooms/${room}/send/${HOSTILE_TYPE}/${nextTxn()}`, `{"a":${nested(depth)}}`],
          ['PUT', `rooms/${room}/state/${HOSTILE_TYPE}/deep`, `{"a":${nested(depth)}}`],
          ['POST', 'createRoom', `{"creation_content":{"a":${nested(depth)}}}`],
          ['POST', 'createRoom', `{"initial_state":[{"type":"${HOSTILE_TYPE}","state_key":"","content":{"a":${nested(depth)}}}]}`],
          ['PUT', `user/${me}/account_data/${HOSTILE_TYPE}`, `{"a":${nested(depth)}}`],
          ['POST', `user/${me}/filter`, `{"room":{"rooms":${nested(depth)}}}`],
        ]) {
          const reply = await send(method, path, raw);
          expect({ depth, path, status: reply.status }).toEqual({ depth, path, status: 400 });
          expect(['M_BAD_JSON', 'M_NOT_JSON']).toContain(errcodeOf(reply));
        }
      }
      await expectNothingStored();
      const after = await call<{ joined_rooms: string[] }>(hs.url, 'GET', 'joined_rooms', { token: alice.token });
      expect(after.body.joined_rooms.length).toBe(before.body.joined_rooms.length);
      expect((await call(hs.url, 'GET', `user/${me}/account_data/${HOSTILE_TYPE}`, { token: alice.token })).status).toBe(404);
    });
  });

  describe('bytes that are not UTF-8', () => {
    it('are refused with 400 M_NOT_JSON (invalid, overlong and surrogate encodings)', async () => {
      const port = new URL(hs.url).port;
      for (const bad of [[0xff], [0xc0, 0xaf], [0xe0, 0x80, 0xaf], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0xe2, 0x82]]) {
        const body = Buffer.concat([Buffer.from('{"msgtype":"m.text","body":"'), Buffer.from(bad), Buffer.from('"}')]);
        const head =
          `PUT /_matrix/client/v3/rooms/${room}/send/${HOSTILE_TYPE}/${nextTxn()} HTTP/1.1\r\n` +
          `Host: 127.0.0.1:${port}\r\nAuthorization: Bearer ${alice.token}\r\nContent-Type: application/json\r\n` +
          `Content-Length: ${body.length}\r\nConnection: close\r\n\r\n`;
        const reply = await rawExchange(hs.url, [head, body]);
        expect({ bad, status: reply.status, errcode: errcodeOf(reply) }).toEqual({ bad, status: 400, errcode: 'M_NOT_JSON' });
      }
      await expectNothingStored();
    });
  });

  describe('bodies that are not JSON objects', () => {
    it('refuses null like an array or a number on every endpoint that takes an object', async () => {
      const eventId = (
        await call<{ event_id: string }>(hs.url, 'PUT', `rooms/${room}/send/m.room.message/${nextTxn()}`, { token: alice.token, body: { msgtype: 'm.text', body: 'x' } })
      ).body.event_id;
      const event = encodeURIComponent(eventId);
      const endpoints: [string, string][] = [
        ['PUT', `rooms/${room}/send/${HOSTILE_TYPE}/TXN`],
        ['PUT', `rooms/${room}/state/${HOSTILE_TYPE}/key`],
        ['PUT', `rooms/${room}/state/${HOSTILE_TYPE}`],
        ['PUT', `rooms/${room}/redact/${event}/TXN`],
        ['POST', `rooms/${room}/redact/${event}`],
        ['POST', 'createRoom'],
        ['POST', `rooms/${room}/invite`],
        ['POST', `rooms/${room}/leave`],
        ['POST', `rooms/${room}/kick`],
        ['POST', `rooms/${room}/read_markers`],
        ['POST', `rooms/${room}/receipt/m.read/${event}`],
        ['PUT', `rooms/${room}/typing/${me}`],
        ['PUT', `profile/${me}/displayname`],
        ['PUT', `user/${me}/account_data/${HOSTILE_TYPE}`],
        ['PUT', `user/${me}/rooms/${room}/account_data/${HOSTILE_TYPE}`],
        ['PUT', `user/${me}/rooms/${room}/tags/u.x`],
        ['POST', `user/${me}/filter`],
        ['PUT', `devices/${encodeURIComponent(alice.deviceId)}`],
        ['PUT', 'pushrules/global/override/hostile'],
        ['POST', 'login'],
        ['POST', 'register'],
        ['POST', 'account/password'],
        ['POST', '/_synapse/admin/v1/register'],
      ];
      for (const [method, template] of endpoints) {
        for (const raw of ['null', '[]', '1', '"text"']) {
          const path = template.replace('TXN', nextTxn());
          const reply = await send(method, path, raw);
          expect({ method, template, raw, status: reply.status, errcode: errcodeOf(reply) }).toEqual({ method, template, raw, status: 400, errcode: 'M_BAD_JSON' });
        }
      }
      await expectNothingStored();
    });
  });

  describe('usernames', () => {
    const KELVIN = '\u212Aelvin';

    it('are folded by ASCII case only: a KELVIN SIGN is refused, not taken for k', async () => {
      const available = await call(hs.url, 'GET', 'register/available', { query: { username: KELVIN } });
      expect(available.status).toBe(400);
      expect(errcodeOf(available)).toBe('M_INVALID_USERNAME');

      const register = await call(hs.url, 'POST', 'register', { body: { username: KELVIN, password: 'a long password', auth: { type: 'm.login.dummy' } } });
      expect(register.status).toBe(400);
      expect(errcodeOf(register)).toBe('M_INVALID_USERNAME');
      expect((await call(hs.url, 'GET', `profile/${encodeURIComponent(`@kelvin:${hs.serverName}`)}`)).status).toBe(404);

      // With @kelvin registered, the look-alike neither logs in as it nor registers beside it.
      const kelvin = await call<{ session: string }>(hs.url, 'POST', 'register', { body: { username: 'Kelvin', password: 'kelvin password' } });
      const done = await call(hs.url, 'POST', 'register', {
        body: { username: 'Kelvin', password: 'kelvin password', auth: { type: 'm.login.dummy', session: kelvin.body.session } },
      });
      expect(done.body).toMatchObject({ user_id: `@kelvin:${hs.serverName}` });
      const login = await call(hs.url, 'POST', 'login', {
        body: { type: 'm.login.password', identifier: { type: 'm.id.user', user: KELVIN }, password: 'kelvin password' },
      });
      expect(login.status).toBe(403);
      expect(errcodeOf(login)).toBe('M_FORBIDDEN');
      const asciiLogin = await call(hs.url, 'POST', 'login', {
        body: { type: 'm.login.password', identifier: { type: 'm.id.user', user: 'KELVIN' }, password: 'kelvin password' },
      });
      expect(asciiLogin.status).toBe(200);
      const again = await call(hs.url, 'GET', 'register/available', { query: { username: KELVIN } });
      expect(errcodeOf(again)).toBe('M_INVALID_USERNAME');

      const secret = hs.config.registration.shared_secret;
      if (secret === null) throw new Error('the generated configuration has a shared secret');
      const nonce = (await call<{ nonce: string }>(hs.url, 'GET', '/_synapse/admin/v1/register')).body.nonce;
      const mac = sharedSecretMac(secret, { nonce, username: '\u212Aelvin2', password: 'a long password', admin: false });
      const admin = await call(hs.url, 'POST', '/_synapse/admin/v1/register', { body: { nonce, username: '\u212Aelvin2', password: 'a long password', mac } });
      expect(admin.status).toBe(400);
      expect(errcodeOf(admin)).toBe('M_INVALID_USERNAME');
      expect((await call(hs.url, 'GET', `profile/${encodeURIComponent(`@kelvin2:${hs.serverName}`)}`)).status).toBe(404);
    });
  });

  describe('overlong path parameters and URLs', () => {
    it('refuses a 5,000-character transaction id or state key with 400 M_INVALID_PARAM', async () => {
      const long = 'x'.repeat(5_000);
      const sendReply = await send('PUT', `rooms/${room}/send/${HOSTILE_TYPE}/${long}`, '{"body":"long txn"}');
      expect(sendReply.status).toBe(400);
      expect(errcodeOf(sendReply)).toBe('M_INVALID_PARAM');
      const stateReply = await send('PUT', `rooms/${room}/state/${HOSTILE_TYPE}/${long}`, '{}');
      expect(stateReply.status).toBe(400);
      expect(errcodeOf(stateReply)).toBe('M_INVALID_PARAM');
      await expectNothingStored();
    });

    it('answers every path parameter of 5,000 characters with a 4xx Matrix error from its endpoint', async () => {
      const long = 'x'.repeat(5_000);
      const event = encodeURIComponent('$event');
      const routes: [string, string][] = [
        ['GET', 'profile/:'],
        ['GET', `profile/${me}/:`],
        ['PUT', `profile/${me}/:`],
        ['GET', 'devices/:'],
        ['PUT', 'devices/:'],
        ['GET', 'directory/room/:'],
        ['PUT', 'directory/room/:'],
        ['GET', 'directory/list/room/:'],
        ['POST', 'join/:'],
        ['POST', 'knock/:'],
        ['GET', 'rooms/:/state'],
        ['GET', `rooms/${room}/state/:`],
        ['GET', `rooms/${room}/state/${HOSTILE_TYPE}/:`],
        ['GET', `rooms/${room}/event/:`],
        ['GET', `rooms/${room}/context/:`],
        ['PUT', `rooms/${room}/send/:/TXN`],
        ['PUT', `rooms/${room}/redact/:/TXN`],
        ['PUT', `rooms/${room}/redact/${event}/:`],
        ['POST', `rooms/${room}/receipt/:/${event}`],
        ['POST', `rooms/${room}/receipt/m.read/:`],
        ['PUT', `rooms/${room}/typing/:`],
        ['GET', `user/${me}/account_data/:`],
        ['PUT', `user/${me}/account_data/:`],
        ['GET', `user/${me}/rooms/:/account_data/x`],
        ['PUT', `user/${me}/rooms/${room}/tags/:`],
        ['GET', `user/${me}/filter/:`],
        ['GET', 'pushrules/global/override/:'],
        ['PUT', 'pushrules/global/override/:'],
        ['PUT', 'pushrules/global/:/rule'],
      ];
      for (const [method, template] of routes) {
        const path = template.replace(':', long).replace('TXN', nextTxn());
        const reply = await call(hs.url, method, path, { token: alice.token, ...(method === 'GET' ? {} : { raw: '{}' }) });
        expect({ method, template, status: reply.status >= 400 && reply.status < 500, unrouted: errcodeOf(reply) === 'M_UNRECOGNIZED' }).toEqual({
          method,
          template,
          status: true,
          unrouted: false,
        });
        expect(typeof errcodeOf(reply)).toBe('string');
      }
      await expectNothingStored();
    });

    it('answers a 100 KB URL and 100 KB of headers with 431 and a Matrix error', async () => {
      const port = new URL(hs.url).port;
      const url = await rawExchange(hs.url, [`GET /_matrix/client/versions?filler=${'a'.repeat(100_000)} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n`]);
      expect(url.status).toBe(431);
      expect(url.headers).toMatch(/^Content-Type: application\/json$/im);
      expect(url.body).toEqual({ errcode: 'M_TOO_LARGE', error: expect.any(String) });
      const headers = await rawExchange(hs.url, [`GET /_matrix/client/versions HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nX-Filler: ${'a'.repeat(100_000)}\r\n\r\n`]);
      expect(headers.status).toBe(431);
      expect(errcodeOf(headers)).toBe('M_TOO_LARGE');
    });

    it('answers malformed HTTP with 400 and a Matrix error', async () => {
      const reply = await rawExchange(hs.url, ['GET /_matrix/client/versions HTTP/1.1\r\nHost x\r\n\r\n']);
      expect(reply.status).toBe(400);
      expect(typeof errcodeOf(reply)).toBe('string');
    });
  });

  describe('slow clients', () => {
    it('cuts off a connection that trickles its headers within 15 s (the default headers timeout, 10 s), with 408 and a Matrix error', async () => {
      expect(hs.config.client_listener.headers_timeout_ms).toBe(10_000);
      const port = new URL(hs.url).port;
      const trickle: (string | number)[] = [`GET /_matrix/client/versions HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nX-Slow: `];
      for (let i = 0; i < 60; i++) trickle.push(250, 'a');
      const reply = await rawExchange(hs.url, trickle, 20_000);
      expect(reply.closedAfterMs).toBeLessThan(15_000);
      expect(reply.closedAfterMs).toBeGreaterThanOrEqual(9_000);
      expect(reply.status).toBe(408);
      expect(typeof errcodeOf(reply)).toBe('string');
    }, 30_000);
  });
});

@Controller('_matrix/client/v3/probe')
class SlowController {
  /** GET /_matrix/client/v3/probe/slow: answers after three seconds. */
  @Get('slow')
  async slow(): Promise<{ ok: true }> {
    await new Promise((wait) => setTimeout(wait, 3_000));
    return { ok: true };
  }

  /** POST /_matrix/client/v3/probe/echo */
  @Post('echo')
  echo(@Body() body: unknown): unknown {
    return { body: body ?? null };
  }
}

@Module({ controllers: [SlowController] })
class SlowModule {}

describe('listener limits (short timeouts, loopback connections counted)', () => {
  let app: NestFastifyApplication;
  let base: string;
  const MAX_PER_ADDRESS = 3;

  beforeAll(async () => {
    app = await createHttpApplication(SlowModule, {
      bodyLimit: 4096,
      logger: pino({ level: 'silent' }),
      connections: { headersTimeoutMs: 1_000, requestTimeoutMs: 2_000, maxPerAddress: MAX_PER_ADDRESS, limitLoopback: true },
    });
    await app.listen(0, '127.0.0.1');
    const address = app.getHttpServer().address();
    if (address === null || typeof address === 'string') throw new Error('no port');
    base = `http://127.0.0.1:${address.port}`;
  });

  afterAll(async () => {
    await app?.close();
  });

  const HEAD = 'POST /_matrix/client/v3/probe/echo HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n';

  it('cuts off trickled headers after the headers timeout with 408', async () => {
    const chunks: (string | number)[] = [HEAD];
    for (let i = 0; i < 40; i++) chunks.push(100, `X-Slow-${i}: a\r\n`);
    const reply = await rawExchange(base, chunks, 10_000);
    expect(reply.status).toBe(408);
    expect(typeof errcodeOf(reply)).toBe('string');
    expect(reply.closedAfterMs).toBeLessThan(3_000);
  });

  it('cuts off a trickled body after the request timeout with 408', async () => {
    const chunks: (string | number)[] = [`${HEAD}Content-Length: 100\r\nConnection: close\r\n\r\n{"a":"`];
    for (let i = 0; i < 50; i++) chunks.push(100, 'b');
    const reply = await rawExchange(base, chunks, 10_000);
    expect(reply.status).toBe(408);
    expect(reply.closedAfterMs).toBeLessThan(4_000);
  });

  it('does not limit how long an answer takes (a long-poll outlives the request timeout)', async () => {
    const response = await fetch(`${base}/_matrix/client/v3/probe/slow`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ ok: true });
  });

  it(`answers a connection beyond ${MAX_PER_ADDRESS} from one address with 429 M_LIMIT_EXCEEDED, and admits one again once a connection closes`, async () => {
    app.getHttpServer().closeIdleConnections();
    const url = new URL(base);
    const open = () =>
      new Promise<{ socket: Socket; closed: Promise<number> }>((resolve) => {
        const socket = connect(Number(url.port), url.hostname, () => {
          const opened = Date.now();
          resolve({ socket, closed: new Promise((closed) => socket.on('close', () => closed(Date.now() - opened))) });
        });
        socket.on('error', () => undefined);
      });
    const held = [];
    for (let i = 0; i < MAX_PER_ADDRESS; i++) held.push(await open());
    try {
      // A connection over the limit that sends nothing is closed after a grace second.
      const idle = await open();
      expect(await idle.closed).toBeLessThan(2_500);
      const body = '{"a":1}';
      const request = `${HEAD}Content-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`;
      const refused = await rawExchange(base, [request], 5_000);
      expect(refused.status).toBe(429);
      expect(refused.body).toEqual({ errcode: 'M_LIMIT_EXCEEDED', error: expect.any(String), retry_after_ms: expect.any(Number) });
      expect(refused.headers).toMatch(/^Content-Type: application\/json\r?$/im);
      held.pop()?.socket.destroy();
      await new Promise((wait) => setTimeout(wait, 100));
      const admitted = await rawExchange(base, [request], 5_000);
      expect(admitted.status).toBe(201);
      expect(admitted.body).toEqual({ body: { a: 1 } });
    } finally {
      for (const { socket } of held) socket.destroy();
    }
  });
});
