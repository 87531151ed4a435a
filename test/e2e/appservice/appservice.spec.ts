/**
 * Application services with a real bridge library: matrix-appservice's `AppService` stands as
 * the bridge (it receives the transactions and answers the user and alias queries), the
 * homeserver runs in this process with the bridge's registration file. Checks registration in
 * the namespace, masquerading, transactions (each event once, in order, after the bridge was
 * down, across a homeserver restart), queries, third-party lookups and ping.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '@hs/config';
import { assertMatchesSpec, freePort } from '@hs/testing';
import { AppService } from 'matrix-appservice';
import { runClientScript, type ClientReport } from '../../support/client-script';
import { startInProcess, type InProcessServer } from '../../support/in-process-server';

const AS_TOKEN = 'as_token_bridge_0123456789';
const HS_TOKEN = 'hs_token_bridge_0123456789';

const IRC_PROTOCOL = {
  user_fields: ['network', 'nickname'],
  location_fields: ['network', 'channel'],
  icon: 'mxc://example.org/irc',
  field_types: {
    network: { regexp: '([a-z0-9]+\\.)*[a-z0-9]+', placeholder: 'irc.example.org' },
    nickname: { regexp: '[^\\s]+', placeholder: 'username' },
    channel: { regexp: '#[^\\s]+', placeholder: '#foobar' },
  },
  instances: [{ desc: 'Example', icon: 'mxc://example.org/example', fields: { network: 'irc.example.org' }, network_id: 'example' }],
};

interface Answer {
  status: number;
  body: Record<string, unknown> & { irc?: unknown };
}

async function call(base: string, method: string, path: string, token?: string, body?: unknown): Promise<Answer> {
  const response = await fetch(`${base}${path}`, {
    method,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

async function waitFor(condition: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** The bridge: a matrix-appservice listener recording the events it receives. */
class Bridge {
  readonly events: Array<Record<string, unknown>> = [];
  readonly ephemeral: Array<{ type: string; room_id?: string; content: Record<string, unknown> }> = [];
  private service?: AppService;
  onAlias: (alias: string) => Promise<void> = async () => undefined;
  onUser: (userId: string) => Promise<void> = async () => undefined;

  constructor(readonly port: number) {}

  async start(): Promise<void> {
    const service = new AppService({ homeserverToken: HS_TOKEN });
    // matrix-appservice has no ping endpoint of its own.
    service.expressApp.post('/_matrix/app/v1/ping', (_request: unknown, response: { json(body: unknown): void }) => response.json({}));
    // Third-party lookups of the irc protocol (matrix-appservice routes them to the app as they come).
    type Handler = (request: { query: Record<string, string>; params: Record<string, string>; headers: Record<string, string> }, response: { json(body: unknown): void; status(code: number): { json(body: unknown): void } }) => void;
    const route = (path: string, handler: Handler) => service.expressApp.get(path, handler as never);
    route('/_matrix/app/v1/thirdparty/protocol/irc', (request, response) => {
      if (request.headers.authorization !== `Bearer ${HS_TOKEN}`) return response.status(403).json({ errcode: 'M_FORBIDDEN' });
      return response.json(IRC_PROTOCOL);
    });
    route('/_matrix/app/v1/thirdparty/location/irc', (request, response) =>
      response.json(request.query.channel === '#matrix' ? [{ alias: '#_bridge_irc_matrix:localhost', protocol: 'irc', fields: { network: request.query.network, channel: '#matrix' } }, { not: 'a location' }] : []),
    );
    route('/_matrix/app/v1/thirdparty/user/irc', (request, response) =>
      response.json([{ userid: `@br_${request.query.nickname}:localhost`, protocol: 'irc', fields: { nickname: request.query.nickname } }]),
    );
    route('/_matrix/app/v1/thirdparty/location', (request, response) =>
      response.json([{ alias: request.query.alias, protocol: 'irc', fields: { network: 'irc.example.org', channel: '#matrix' } }]),
    );
    route('/_matrix/app/v1/thirdparty/user', (request, response) => response.json([{ userid: request.query.userid, protocol: 'irc', fields: { nickname: 'alice' } }]));
    service.on('event', (event: Record<string, unknown>) => this.events.push(event));
    service.on('ephemeral', (event: Record<string, unknown>) => void this.ephemeral.push(event as Bridge['ephemeral'][number]));
    service.onAliasQuery = (alias: string) => this.onAlias(alias) as unknown as null;
    service.onUserQuery = (userId: string) => this.onUser(userId) as unknown as null;
    await service.listen(this.port, '127.0.0.1', 16);
    this.service = service;
  }

  async stop(): Promise<void> {
    await this.service?.close();
    this.service = undefined;
  }

  bodies(roomId: string): string[] {
    return this.events.filter((event) => event.room_id === roomId && event.type === 'm.room.message').map((event) => (event.content as { body: string }).body);
  }
}

describe('application services with matrix-appservice', () => {
  let dir: string;
  let hs: InProcessServer;
  let bridge: Bridge;
  let base: string;
  let aliceToken: string;

  const start = async () => {
    hs = await startInProcess({ dir, env: { HS_APP_SERVICE_CONFIG_FILES: JSON.stringify([join(dir, 'bridge.yaml')]) } });
    base = hs.url;
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'hs-appservice-'));
    bridge = new Bridge(await freePort());
    writeFileSync(
      join(dir, 'bridge.yaml'),
      [
        'id: bridge',
        `url: http://127.0.0.1:${bridge.port}`,
        `as_token: ${AS_TOKEN}`,
        `hs_token: ${HS_TOKEN}`,
        'sender_localpart: bridgebot',
        'rate_limited: false',
        'protocols: [irc]',
        'receive_ephemeral: true',
        'namespaces:',
        '  users:',
        '    - exclusive: true',
        '      regex: "@(_bridge_|br_).*:localhost"',
        '  aliases:',
        '    - exclusive: true',
        '      regex: "#_bridge_.*:localhost"',
        '  rooms: []',
        '',
      ].join('\n'),
    );
    await bridge.start();
    await start();
    const alice = await call(base, 'POST', '/_matrix/client/v3/register', undefined, { username: 'alice', password: 'a long password 1', auth: { type: 'm.login.dummy' } });
    expect(alice.status).toBe(200);
    aliceToken = alice.body.access_token as string;
  }, 60_000);

  afterAll(async () => {
    await bridge?.stop().catch(() => undefined);
    await hs?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses to start with a registration file that is not valid, naming the file and the key', async () => {
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, 'id: bad\nurl: null\nas_token: x\nhs_token: y\n');
    const started = startInProcess({ env: { HS_APP_SERVICE_CONFIG_FILES: JSON.stringify([bad]) } });
    await expect(started).rejects.toBeInstanceOf(ConfigError);
    await expect(started).rejects.toThrow(`app_service_config_files (${bad}: sender_localpart): is required`);
  });

  it('registers users of its namespace with its token, and keeps others out of an exclusive namespace', async () => {
    const registered = await call(base, 'POST', '/_matrix/client/v3/register', AS_TOKEN, { type: 'm.login.application_service', username: '_bridge_bob' });
    expect(registered.status).toBe(200);
    expect(registered.body.user_id).toBe('@_bridge_bob:localhost');
    expect(typeof registered.body.access_token).toBe('string');

    const outside = await call(base, 'POST', '/_matrix/client/v3/register', AS_TOKEN, { type: 'm.login.application_service', username: 'carol' });
    expect(outside).toMatchObject({ status: 400, body: { errcode: 'M_EXCLUSIVE' } });
    const noToken = await call(base, 'POST', '/_matrix/client/v3/register', undefined, { type: 'm.login.application_service', username: '_bridge_x' });
    expect(noToken).toMatchObject({ status: 401, body: { errcode: 'M_MISSING_TOKEN' } });
    const byUser = await call(base, 'POST', '/_matrix/client/v3/register', undefined, { username: 'br_mallory', password: 'a long password 1', auth: { type: 'm.login.dummy' } });
    expect(byUser).toMatchObject({ status: 400, body: { errcode: 'M_EXCLUSIVE' } });
    const available = await call(base, 'GET', '/_matrix/client/v3/register/available?username=br_mallory');
    expect(available).toMatchObject({ status: 400, body: { errcode: 'M_EXCLUSIVE' } });
  });

  it('acts as its sender, or as a registered user of its namespace named by user_id', async () => {
    expect(await call(base, 'GET', '/_matrix/client/v3/account/whoami', AS_TOKEN)).toMatchObject({ status: 200, body: { user_id: '@bridgebot:localhost' } });
    const asBob = await call(base, 'GET', `/_matrix/client/v3/account/whoami?user_id=${encodeURIComponent('@_bridge_bob:localhost')}`, AS_TOKEN);
    expect(asBob).toMatchObject({ status: 200, body: { user_id: '@_bridge_bob:localhost' } });
    const outside = await call(base, 'GET', `/_matrix/client/v3/account/whoami?user_id=${encodeURIComponent('@alice:localhost')}`, AS_TOKEN);
    expect(outside).toMatchObject({ status: 403, body: { errcode: 'M_EXCLUSIVE' } });
    const unregistered = await call(base, 'GET', `/_matrix/client/v3/account/whoami?user_id=${encodeURIComponent('@_bridge_nobody:localhost')}`, AS_TOKEN);
    expect(unregistered).toMatchObject({ status: 403, body: { errcode: 'M_FORBIDDEN' } });
    const badDevice = await call(base, 'GET', `/_matrix/client/v3/account/whoami?user_id=${encodeURIComponent('@_bridge_bob:localhost')}&device_id=NOPE`, AS_TOKEN);
    expect(badDevice).toMatchObject({ status: 400, body: { errcode: 'M_UNKNOWN_DEVICE' } });
  });

  it('pushes the events of rooms its users are in: each once, in order, also after it was down', async () => {
    const room = await call(base, 'POST', '/_matrix/client/v3/createRoom', aliceToken, { preset: 'public_chat' });
    const roomId = room.body.room_id as string;
    expect((await call(base, 'POST', `/_matrix/client/v3/join/${encodeURIComponent(roomId)}?user_id=${encodeURIComponent('@_bridge_bob:localhost')}`, AS_TOKEN, {})).status).toBe(200);
    const send = async (body: string) => {
      const sent = await call(base, 'PUT', `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/send/m.room.message/${encodeURIComponent(body)}`, aliceToken, { msgtype: 'm.text', body });
      expect(sent.status).toBe(200);
    };
    for (let i = 0; i < 10; i++) await send(`before ${i}`);
    await waitFor(() => bridge.bodies(roomId).length >= 10, 'the first ten messages');
    // The join of the bridge's user reached it too.
    expect(bridge.events.some((event) => event.type === 'm.room.member' && event.state_key === '@_bridge_bob:localhost' && event.room_id === roomId)).toBe(true);

    await bridge.stop();
    for (let i = 0; i < 5; i++) await send(`while down ${i}`);
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    await bridge.start();
    // A bridge coming back pings the homeserver, which then retries at once.
    expect((await call(base, 'POST', '/_matrix/client/v1/appservice/bridge/ping', AS_TOKEN, {})).status).toBe(200);
    await waitFor(() => bridge.bodies(roomId).length >= 15, 'the messages sent while the bridge was down', 30_000);
    await send('after');
    await waitFor(() => bridge.bodies(roomId).includes('after'), 'the message after');
    expect(bridge.bodies(roomId)).toEqual([...Array.from({ length: 10 }, (_, i) => `before ${i}`), ...Array.from({ length: 5 }, (_, i) => `while down ${i}`), 'after']);
    const ids = bridge.events.map((event) => event.event_id);
    expect(new Set(ids).size).toBe(ids.length);
  }, 60_000);

  it('loses and repeats nothing across a restart of the homeserver while the bridge is down', async () => {
    const room = await call(base, 'POST', '/_matrix/client/v3/createRoom', aliceToken, { preset: 'public_chat', invite: ['@_bridge_bob:localhost'] });
    const roomId = room.body.room_id as string;
    expect((await call(base, 'POST', `/_matrix/client/v3/join/${encodeURIComponent(roomId)}?user_id=${encodeURIComponent('@_bridge_bob:localhost')}`, AS_TOKEN, {})).status).toBe(200);
    await waitFor(() => bridge.events.some((event) => event.room_id === roomId && event.type === 'm.room.member' && (event.content as { membership: string }).membership === 'join'), 'the join');
    await bridge.stop();
    for (let i = 0; i < 3; i++) {
      const sent = await call(base, 'PUT', `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/send/m.room.message/r${i}`, aliceToken, { msgtype: 'm.text', body: `restart ${i}` });
      expect(sent.status).toBe(200);
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
    await hs.close();
    await start();
    await bridge.start();
    expect((await call(base, 'POST', '/_matrix/client/v1/appservice/bridge/ping', AS_TOKEN, {})).status).toBe(200);
    await waitFor(() => bridge.bodies(roomId).length >= 3, 'the messages sent before the restart', 30_000);
    const sent = await call(base, 'PUT', `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/send/m.room.message/r9`, aliceToken, { msgtype: 'm.text', body: 'restart after' });
    expect(sent.status).toBe(200);
    await waitFor(() => bridge.bodies(roomId).includes('restart after'), 'the message after the restart');
    expect(bridge.bodies(roomId)).toEqual(['restart 0', 'restart 1', 'restart 2', 'restart after']);
    const ids = bridge.events.map((event) => event.event_id);
    expect(new Set(ids).size).toBe(ids.length);
  }, 90_000);

  it('asks the bridge about aliases and users of its namespace nobody has yet', async () => {
    bridge.onAlias = async (alias) => {
      const name = alias.slice(1, alias.indexOf(':'));
      const created = await call(base, 'POST', '/_matrix/client/v3/createRoom', AS_TOKEN, { room_alias_name: name, preset: 'public_chat' });
      if (created.status !== 200) throw new Error(`createRoom: ${JSON.stringify(created.body)}`);
    };
    bridge.onUser = async (userId) => {
      const localpart = userId.slice(1, userId.indexOf(':'));
      await call(base, 'POST', '/_matrix/client/v3/register', AS_TOKEN, { type: 'm.login.application_service', username: localpart, inhibit_login: true });
    };
    const resolved = await call(base, 'GET', `/_matrix/client/v3/directory/room/${encodeURIComponent('#_bridge_irc:localhost')}`, aliceToken);
    expect(resolved.status).toBe(200);
    expect(resolved.body.room_id).toMatch(/^!/);
    const joined = await call(base, 'POST', `/_matrix/client/v3/join/${encodeURIComponent('#_bridge_other:localhost')}`, aliceToken, {});
    expect(joined.status).toBe(200);
    const profile = await call(base, 'GET', `/_matrix/client/v3/profile/${encodeURIComponent('@_bridge_dave:localhost')}`, aliceToken);
    expect(profile).toMatchObject({ status: 200, body: { displayname: '_bridge_dave' } });
    const missing = await call(base, 'GET', `/_matrix/client/v3/profile/${encodeURIComponent('@nobody:localhost')}`, aliceToken);
    expect(missing.status).toBe(404);

    const room = await call(base, 'POST', '/_matrix/client/v3/createRoom', aliceToken, {});
    const claimed = await call(base, 'PUT', `/_matrix/client/v3/directory/room/${encodeURIComponent('#_bridge_mine:localhost')}`, aliceToken, { room_id: room.body.room_id });
    expect(claimed).toMatchObject({ status: 400, body: { errcode: 'M_EXCLUSIVE' } });
    const created = await call(base, 'POST', '/_matrix/client/v3/createRoom', aliceToken, { room_alias_name: '_bridge_mine' });
    expect(created).toMatchObject({ status: 400, body: { errcode: 'M_EXCLUSIVE' } });
  }, 30_000);

  it('serves matrix-js-sdk as the bridge\'s client: registration, masquerading, and its own events pushed back to it', async () => {
    const room = await call(base, 'POST', '/_matrix/client/v3/createRoom', aliceToken, { preset: 'public_chat' });
    const roomId = room.body.room_id as string;
    const report = await runClientScript<ClientReport & { registered: string; whoami: string; eventId: string }>(
      process.execPath,
      [join(__dirname, '../clients/js-sdk-appservice.mjs')],
      [base, AS_TOKEN, '@_bridge_sdk:localhost', roomId],
      60_000,
    );
    if (!report.ok) throw new Error(`the bridge client failed after steps [${report.steps.join(', ')}]:\n${report.error}`);
    expect(report).toMatchObject({ registered: '@_bridge_sdk:localhost', whoami: '@_bridge_sdk:localhost' });
    await waitFor(() => bridge.events.some((event) => event.event_id === report.eventId), 'the bridge user\'s message');
    expect(bridge.events.find((event) => event.event_id === report.eventId)).toMatchObject({ sender: '@_bridge_sdk:localhost', room_id: roomId });
  }, 60_000);

  it('sends the bridge the read receipts and typing of its rooms (receive_ephemeral), and not of other rooms', async () => {
    const create = async () => (await call(base, 'POST', '/_matrix/client/v3/createRoom', aliceToken, { preset: 'public_chat' })).body.room_id as string;
    const [bridged, other] = [await create(), await create()];
    expect((await call(base, 'POST', `/_matrix/client/v3/join/${encodeURIComponent(bridged)}?user_id=${encodeURIComponent('@_bridge_bob:localhost')}`, AS_TOKEN, {})).status).toBe(200);
    for (const roomId of [bridged, other]) {
      const sent = await call(base, 'PUT', `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/send/m.room.message/eph-${encodeURIComponent(roomId)}`, aliceToken, { msgtype: 'm.text', body: 'read me' });
      const receipt = await call(base, 'POST', `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/receipt/m.read/${encodeURIComponent(sent.body.event_id as string)}`, aliceToken, {});
      expect(receipt.status).toBe(200);
      const typing = await call(base, 'PUT', `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/typing/${encodeURIComponent('@alice:localhost')}`, aliceToken, { typing: true, timeout: 10_000 });
      expect(typing.status).toBe(200);
    }
    await waitFor(() => bridge.ephemeral.some((e) => e.type === 'm.receipt' && e.room_id === bridged), 'the read receipt');
    await waitFor(() => bridge.ephemeral.some((e) => e.type === 'm.typing' && e.room_id === bridged && (e.content.user_ids as string[]).includes('@alice:localhost')), 'the typing notification');
    const receipt = bridge.ephemeral.find((e) => e.type === 'm.receipt' && e.room_id === bridged);
    expect(Object.values(receipt?.content ?? {})[0]).toEqual({ 'm.read': { '@alice:localhost': { ts: expect.any(Number) } } });
    await call(base, 'PUT', `/_matrix/client/v3/rooms/${encodeURIComponent(bridged)}/typing/${encodeURIComponent('@alice:localhost')}`, aliceToken, { typing: false });
    await waitFor(() => bridge.ephemeral.some((e) => e.type === 'm.typing' && e.room_id === bridged && (e.content.user_ids as string[]).length === 0), 'the end of typing');
    expect(bridge.ephemeral.filter((e) => e.room_id === other)).toEqual([]);
  });

  it('serves the bridge\'s third-party protocols, locations and users to clients', async () => {
    const protocols = await call(base, 'GET', '/_matrix/client/v3/thirdparty/protocols', aliceToken);
    expect(protocols.status).toBe(200);
    assertMatchesSpec(protocols.body, { api: 'client-server', file: 'third_party_lookup.yaml', path: '/thirdparty/protocols', method: 'get', status: 200 });
    expect(protocols.body).toEqual({ irc: { ...IRC_PROTOCOL, instances: [{ ...IRC_PROTOCOL.instances[0], instance_id: 'bridge|example' }] } });
    const one = await call(base, 'GET', '/_matrix/client/v3/thirdparty/protocol/irc', aliceToken);
    expect(one.body).toEqual(protocols.body.irc);
    expect(await call(base, 'GET', '/_matrix/client/v3/thirdparty/protocol/slack', aliceToken)).toMatchObject({ status: 404, body: { errcode: 'M_NOT_FOUND' } });

    const locations = await call(base, 'GET', '/_matrix/client/v3/thirdparty/location/irc?network=irc.example.org&channel=%23matrix', aliceToken);
    expect(locations).toEqual({ status: 200, body: [{ alias: '#_bridge_irc_matrix:localhost', protocol: 'irc', fields: { network: 'irc.example.org', channel: '#matrix' } }] });
    expect((await call(base, 'GET', '/_matrix/client/v3/thirdparty/location/irc?channel=%23nothing', aliceToken)).body).toEqual([]);
    const users = await call(base, 'GET', '/_matrix/client/v3/thirdparty/user/irc?nickname=bob', aliceToken);
    expect(users.body).toEqual([{ userid: '@br_bob:localhost', protocol: 'irc', fields: { nickname: 'bob' } }]);
    const byAlias = await call(base, 'GET', `/_matrix/client/v3/thirdparty/location?alias=${encodeURIComponent('#_bridge_irc_matrix:localhost')}`, aliceToken);
    expect(byAlias.body).toEqual([{ alias: '#_bridge_irc_matrix:localhost', protocol: 'irc', fields: { network: 'irc.example.org', channel: '#matrix' } }]);
    const byUser = await call(base, 'GET', `/_matrix/client/v3/thirdparty/user?userid=${encodeURIComponent('@alice:localhost')}`, aliceToken);
    expect(byUser.body).toEqual([{ userid: '@alice:localhost', protocol: 'irc', fields: { nickname: 'alice' } }]);
    expect(await call(base, 'GET', '/_matrix/client/v3/thirdparty/user', aliceToken)).toMatchObject({ status: 400, body: { errcode: 'M_MISSING_PARAM' } });
    expect((await call(base, 'GET', '/_matrix/client/v3/thirdparty/protocols')).status).toBe(401);
  });

  it("publishes rooms in the bridge's network directory, apart from the main one", async () => {
    const room = (await call(base, 'POST', '/_matrix/client/v3/createRoom', aliceToken, { preset: 'public_chat', name: 'Bridged channel' })).body.room_id as string;
    const path = `/_matrix/client/v3/directory/list/appservice/example/${encodeURIComponent(room)}`;
    // Only an application service may, and only with a visibility of the spec.
    expect(await call(base, 'PUT', path, aliceToken, { visibility: 'public' })).toMatchObject({ status: 403, body: { errcode: 'M_FORBIDDEN' } });
    expect((await call(base, 'PUT', path, AS_TOKEN, { visibility: 'secret' })).status).toBe(400);
    expect(await call(base, 'PUT', path, AS_TOKEN, { visibility: 'public' })).toEqual({ status: 200, body: {} });
    const listed = async (body: Record<string, unknown>) => {
      const answer = await call(base, 'POST', '/_matrix/client/v3/publicRooms', aliceToken, body);
      assertMatchesSpec(answer.body, { api: 'client-server', file: 'list_public_rooms.yaml', path: '/publicRooms', method: 'post', status: 200 });
      return (answer.body.chunk as { room_id: string }[]).map((r) => r.room_id);
    };
    // Read right after each change: the main list does not have it, the network's and all networks' do.
    expect(await listed({})).not.toContain(room);
    expect(await listed({ third_party_instance_id: 'bridge|example' })).toEqual([room]);
    expect(await listed({ include_all_networks: true })).toContain(room);
    expect(await listed({ third_party_instance_id: 'bridge|elsewhere' })).toEqual([]);
    expect(await call(base, 'DELETE', path, AS_TOKEN)).toEqual({ status: 200, body: {} });
    expect(await listed({ third_party_instance_id: 'bridge|example' })).toEqual([]);
  });

  it('deactivates a user of its namespace without user-interactive auth; a user still needs it', async () => {
    const ghost = await call(base, 'POST', '/_matrix/client/v3/register', AS_TOKEN, { type: 'm.login.application_service', username: '_bridge_gone' });
    expect(ghost.status).toBe(200);
    const asGhost = `/_matrix/client/v3/account/deactivate?user_id=${encodeURIComponent('@_bridge_gone:localhost')}`;
    expect(await call(base, 'POST', asGhost, AS_TOKEN, {})).toEqual({ status: 200, body: { id_server_unbind_result: 'no-support' } });
    // The ghost's own token is gone with the account.
    expect((await call(base, 'GET', '/_matrix/client/v3/account/whoami', ghost.body.access_token as string)).status).toBe(401);
    // A user's own request without auth gets the flows to follow.
    const user = await call(base, 'POST', '/_matrix/client/v3/register', undefined, { username: 'dora', password: 'a long password 1', auth: { type: 'm.login.dummy' } });
    const asked = await call(base, 'POST', '/_matrix/client/v3/account/deactivate', user.body.access_token as string, {});
    expect(asked.status).toBe(401);
    expect(asked.body.flows).toBeDefined();
  });

  it('answers a ping with the time the bridge took, and the errors of the spec', async () => {
    const ping = await call(base, 'POST', '/_matrix/client/v1/appservice/bridge/ping', AS_TOKEN, { transaction_id: 'ping1' });
    expect(ping.status).toBe(200);
    expect(typeof ping.body.duration_ms).toBe('number');
    expect((await call(base, 'POST', '/_matrix/client/v1/appservice/other/ping', AS_TOKEN, {})).body.errcode).toBe('M_FORBIDDEN');
    expect((await call(base, 'POST', '/_matrix/client/v1/appservice/bridge/ping', aliceToken, {})).body.errcode).toBe('M_FORBIDDEN');
    await bridge.stop();
    try {
      expect(await call(base, 'POST', '/_matrix/client/v1/appservice/bridge/ping', AS_TOKEN, {})).toMatchObject({ status: 502, body: { errcode: 'M_CONNECTION_FAILED' } });
    } finally {
      await bridge.start();
    }
  });
});
