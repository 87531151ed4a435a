/**
 * Login, logout, whoami and access tokens over real HTTP against the homeserver, login tokens
 * (m.login.token after POST /login/get_token), and the rate limits of login, registration and sending (with a clock the test moves).
 */
import { assertMatchesSpec } from '@hs/testing';
import { call, registerUser, useTestServer, TestUser, uniqueName } from './accounts-harness';

const LOGIN_200 = { api: 'client-server', file: 'login.yaml', path: '/login', method: 'post', status: 200 } as const;

describe('login, logout and access tokens', () => {
  const s = useTestServer();
  let alice: TestUser;
  beforeAll(async () => {
    alice = await registerUser(s.url, 'alice');
  });

  it('GET /login offers m.login.password', async () => {
    const reply = await call(s.url, 'GET', 'login');
    expect(reply.status).toBe(200);
    assertMatchesSpec(reply.body, { api: 'client-server', file: 'login.yaml', path: '/login', method: 'get', status: 200 });
    expect(reply.body).toEqual({ flows: [{ type: 'm.login.password' }] });
  });

  it('exchanges an OpenID token for its user on the client listener too (services that know only the client address)', async () => {
    const issued = await call<{ access_token: string }>(s.url, 'POST', `user/${encodeURIComponent(alice.userId)}/openid/request_token`, { token: alice.token, body: {} });
    expect(issued.status).toBe(200);
    const info = await call(s.url, 'GET', `/_matrix/federation/v1/openid/userinfo?access_token=${encodeURIComponent(issued.body.access_token)}`);
    expect(info).toMatchObject({ status: 200, body: { sub: alice.userId } });
    expect(await call(s.url, 'GET', '/_matrix/federation/v1/openid/userinfo?access_token=nope')).toMatchObject({ status: 401, body: { errcode: 'M_UNKNOWN_TOKEN' } });
    expect(await call(s.url, 'GET', '/_matrix/federation/v1/openid/userinfo')).toMatchObject({ status: 400, body: { errcode: 'M_MISSING_PARAM' } });
  });

  it('issues no login tokens unless login_via_existing_session is enabled', async () => {
    const getToken = await call(s.url, 'POST', '/_matrix/client/v1/login/get_token', { token: alice.token, body: {} });
    expect(getToken).toMatchObject({ status: 404, body: { errcode: 'M_UNRECOGNIZED' } });
    const login = await call(s.url, 'POST', 'login', { body: { type: 'm.login.token', token: 'anything' } });
    expect(login).toMatchObject({ status: 400, body: { errcode: 'M_UNKNOWN' } });
    const capabilities = await call<{ capabilities: Record<string, unknown> }>(s.url, 'GET', 'capabilities', { token: alice.token });
    expect(capabilities.body.capabilities['m.get_login_token']).toEqual({ enabled: false });
  });

  it('logs in with an m.id.user identifier (user id or localpart, any case) and with the legacy user field', async () => {
    const byId = await call<{ user_id: string; access_token: string; device_id: string }>(s.url, 'POST', 'login', {
      body: { type: 'm.login.password', identifier: { type: 'm.id.user', user: alice.userId }, password: alice.password, initial_device_display_name: 'Phone' },
    });
    expect(byId.status).toBe(200);
    assertMatchesSpec(byId.body, LOGIN_200);
    expect(byId.body.user_id).toBe(alice.userId);
    expect(byId.body.device_id).not.toBe(alice.deviceId);
    const device = await call(s.url, 'GET', `devices/${byId.body.device_id}`, { token: byId.body.access_token });
    expect(device.body).toMatchObject({ display_name: 'Phone' });

    const byLocalpart = await call(s.url, 'POST', 'login', {
      body: { type: 'm.login.password', identifier: { type: 'm.id.user', user: alice.username.toUpperCase() }, password: alice.password },
    });
    expect(byLocalpart.status).toBe(200);
    const legacy = await call(s.url, 'POST', '/_matrix/client/r0/login', { body: { type: 'm.login.password', user: alice.username, password: alice.password } });
    expect(legacy.status).toBe(200);
    expect(legacy.body).toMatchObject({ user_id: alice.userId });
  });

  it('logging in again on a known device keeps the device and replaces its token', async () => {
    const first = await call<{ access_token: string; device_id: string }>(s.url, 'POST', 'login', {
      body: { type: 'm.login.password', user: alice.username, password: alice.password, device_id: 'KEEPME' },
    });
    const second = await call<{ access_token: string; device_id: string }>(s.url, 'POST', 'login', {
      body: { type: 'm.login.password', user: alice.username, password: alice.password, device_id: 'KEEPME' },
    });
    expect(second.body.device_id).toBe('KEEPME');
    expect(second.body.access_token).not.toBe(first.body.access_token);
    expect((await call(s.url, 'GET', 'account/whoami', { token: first.body.access_token })).status).toBe(401);
    expect((await call(s.url, 'GET', 'account/whoami', { token: second.body.access_token })).status).toBe(200);
  });

  it('refuses a wrong password, an unknown user and third-party identifiers with 403', async () => {
    for (const body of [
      { type: 'm.login.password', user: alice.username, password: 'wrong' },
      { type: 'm.login.password', identifier: { type: 'm.id.user', user: '@nobody:localhost' }, password: 'x' },
      { type: 'm.login.password', identifier: { type: 'm.id.user', user: '@alice:elsewhere.example' }, password: alice.password },
      { type: 'm.login.password', identifier: { type: 'm.id.thirdparty', medium: 'email', address: 'a@example.org' }, password: 'x' },
      { type: 'm.login.password', identifier: { type: 'm.id.phone', country: 'GB', phone: '123' }, password: 'x' },
      { type: 'm.login.password', medium: 'email', address: 'a@example.org', password: 'x' },
    ]) {
      const reply = await call(s.url, 'POST', 'login', { body });
      expect(reply.status).toBe(403);
      expect(reply.body).toMatchObject({ errcode: 'M_FORBIDDEN' });
    }
  });

  it('answers malformed logins with the spec error codes', async () => {
    const cases: [unknown, number, string][] = [
      [{ identifier: { type: 'm.id.user', user: alice.userId }, password: 'x' }, 400, 'M_MISSING_PARAM'],
      [{ type: 'm.login.token', token: 'abc' }, 400, 'M_UNKNOWN'],
      [{ type: 'm.login.password', identifier: { type: 'm.id.user' }, password: 'x' }, 400, 'M_MISSING_PARAM'],
      [{ type: 'm.login.password', identifier: { type: 'm.id.user', user: 5 }, password: 'x' }, 400, 'M_BAD_JSON'],
      [{ type: 'm.login.password', identifier: { type: 'm.id.unknown' }, password: 'x' }, 400, 'M_UNKNOWN'],
      [{ type: 'm.login.password', identifier: 'alice', password: 'x' }, 400, 'M_BAD_JSON'],
      [{ type: 'm.login.password', user: alice.username }, 400, 'M_MISSING_PARAM'],
      [{ type: 'm.login.password', password: 'x' }, 400, 'M_MISSING_PARAM'],
      [{ type: 'm.login.password', user: alice.username, password: 12 }, 400, 'M_BAD_JSON'],
      [{ type: 'm.login.password', user: alice.username, password: alice.password, device_id: '' }, 400, 'M_INVALID_PARAM'],
    ];
    for (const [body, status, errcode] of cases) {
      const reply = await call(s.url, 'POST', 'login', { body });
      expect({ body, status: reply.status, errcode: (reply.body as { errcode?: string }).errcode }).toEqual({ body, status, errcode });
    }
    const notJson = await call(s.url, 'POST', 'login', { raw: 'type=password' });
    expect(notJson.status).toBe(400);
    expect(notJson.body).toMatchObject({ errcode: 'M_NOT_JSON' });
  });

  it('GET /account/whoami with the header or the access_token query parameter', async () => {
    const header = await call(s.url, 'GET', 'account/whoami', { token: alice.token });
    expect(header.status).toBe(200);
    assertMatchesSpec(header.body, { api: 'client-server', file: 'whoami.yaml', path: '/account/whoami', method: 'get', status: 200 });
    expect(header.body).toEqual({ user_id: alice.userId, device_id: alice.deviceId, is_guest: false });
    const query = await call(s.url, 'GET', 'account/whoami', { query: { access_token: alice.token } });
    expect(query.body).toEqual(header.body);
  });

  it('answers 401 M_MISSING_TOKEN without a token and M_UNKNOWN_TOKEN for a bad one', async () => {
    const missing = await call(s.url, 'GET', 'account/whoami');
    expect(missing.status).toBe(401);
    expect(missing.body).toMatchObject({ errcode: 'M_MISSING_TOKEN' });
    const unknown = await call(s.url, 'GET', 'account/whoami', { token: 'syt_bogus' });
    expect(unknown.status).toBe(401);
    expect(unknown.body).toEqual({ errcode: 'M_UNKNOWN_TOKEN', error: expect.any(String), soft_logout: false });
    const badScheme = await call(s.url, 'GET', 'account/whoami', { headers: { authorization: `Basic ${alice.token}` } });
    expect(badScheme.status).toBe(401);
    expect(badScheme.body).toMatchObject({ errcode: 'M_UNKNOWN_TOKEN' });
    const unknownQuery = await call(s.url, 'GET', 'account/whoami', { query: { access_token: 'nope' } });
    expect(unknownQuery.body).toMatchObject({ errcode: 'M_UNKNOWN_TOKEN' });
  });

  it('records where a device was last seen', async () => {
    const user = await registerUser(s.url, 'seen');
    await call(s.url, 'GET', 'account/whoami', { token: user.token });
    const devices = await call<{ devices: { device_id: string; last_seen_ip?: string; last_seen_ts?: number }[] }>(s.url, 'GET', 'devices', { token: user.token });
    const device = devices.body.devices.find((entry) => entry.device_id === user.deviceId);
    expect(device?.last_seen_ip).toMatch(/127\.0\.0\.1/);
    expect(typeof device?.last_seen_ts).toBe('number');
  });

  it('POST /logout ends one session, POST /logout/all every session', async () => {
    const user = await registerUser(s.url, 'bye');
    const login = (deviceId: string) =>
      call<{ access_token: string }>(s.url, 'POST', 'login', { body: { type: 'm.login.password', user: user.username, password: user.password, device_id: deviceId } });
    const second = await login('SECOND');
    const third = await login('THIRD');

    const out = await call(s.url, 'POST', 'logout', { token: second.body.access_token });
    expect(out.status).toBe(200);
    assertMatchesSpec(out.body, { api: 'client-server', file: 'logout.yaml', path: '/logout', method: 'post', status: 200 });
    expect((await call(s.url, 'GET', 'account/whoami', { token: second.body.access_token })).body).toMatchObject({ errcode: 'M_UNKNOWN_TOKEN' });
    const devices = await call<{ devices: { device_id: string }[] }>(s.url, 'GET', 'devices', { token: user.token });
    expect(devices.body.devices.map((device) => device.device_id).sort()).toEqual([user.deviceId, 'THIRD'].sort());
    expect((await call(s.url, 'POST', 'logout', { token: second.body.access_token })).status).toBe(401);

    const all = await call(s.url, 'POST', 'logout/all', { token: third.body.access_token });
    expect(all.status).toBe(200);
    assertMatchesSpec(all.body, { api: 'client-server', file: 'logout.yaml', path: '/logout/all', method: 'post', status: 200 });
    for (const token of [user.token, third.body.access_token]) {
      expect((await call(s.url, 'GET', 'account/whoami', { token })).status).toBe(401);
    }
    expect((await login('AGAIN')).status).toBe(200);
  });
});

describe('login tokens (login_via_existing_session)', () => {
  let now = Date.now();
  const s = useTestServer({ HS_LOGIN_VIA_EXISTING_SESSION__ENABLED: 'true', HS_LOGIN_VIA_EXISTING_SESSION__TOKEN_TIMEOUT_MS: '60000' }, () => now);
  let alice: TestUser;
  beforeAll(async () => {
    alice = await registerUser(s.url, 'alice');
  });

  async function getToken(): Promise<string> {
    const first = await call<{ session: string; flows: unknown }>(s.url, 'POST', '/_matrix/client/v1/login/get_token', { token: alice.token, body: {} });
    expect(first.status).toBe(401);
    expect(first.body.flows).toEqual([{ stages: ['m.login.password'] }]);
    const auth = { type: 'm.login.password', identifier: { type: 'm.id.user', user: alice.userId }, password: alice.password, session: first.body.session };
    const done = await call<{ login_token: string; expires_in_ms: number }>(s.url, 'POST', '/_matrix/client/v1/login/get_token', { token: alice.token, body: { auth } });
    expect(done.status).toBe(200);
    assertMatchesSpec(done.body, { api: 'client-server', file: 'login_token.yaml', path: '/login/get_token', method: 'post', status: 200 });
    expect(done.body.expires_in_ms).toBe(60_000);
    return done.body.login_token;
  }

  it('offers m.login.token with get_login_token and the m.get_login_token capability', async () => {
    const flows = await call(s.url, 'GET', 'login');
    expect(flows.body).toEqual({ flows: [{ type: 'm.login.password' }, { type: 'm.login.token', get_login_token: true }] });
    const capabilities = await call<{ capabilities: Record<string, unknown> }>(s.url, 'GET', 'capabilities', { token: alice.token });
    expect(capabilities.body.capabilities['m.get_login_token']).toEqual({ enabled: true });
  });

  it('a token from a signed-in device (after the password again) signs in a new device once', async () => {
    const token = await getToken();
    const login = await call<{ user_id: string; access_token: string; device_id: string }>(s.url, 'POST', 'login', {
      body: { type: 'm.login.token', token, initial_device_display_name: 'Phone' },
    });
    expect(login.status).toBe(200);
    assertMatchesSpec(login.body, LOGIN_200);
    expect(login.body.user_id).toBe(alice.userId);
    expect(login.body.device_id).not.toBe(alice.deviceId);
    const whoami = await call(s.url, 'GET', 'account/whoami', { token: login.body.access_token });
    expect(whoami.body).toMatchObject({ user_id: alice.userId, device_id: login.body.device_id });
    const again = await call(s.url, 'POST', 'login', { body: { type: 'm.login.token', token } });
    expect(again).toMatchObject({ status: 403, body: { errcode: 'M_FORBIDDEN' } });
  });

  it('refuses an expired token, an unknown one, a missing one, and get_token without authentication', async () => {
    const token = await getToken();
    now += 60_001;
    expect(await call(s.url, 'POST', 'login', { body: { type: 'm.login.token', token } })).toMatchObject({ status: 403, body: { errcode: 'M_FORBIDDEN' } });
    expect(await call(s.url, 'POST', 'login', { body: { type: 'm.login.token', token: 'nonsense' } })).toMatchObject({ status: 403, body: { errcode: 'M_FORBIDDEN' } });
    expect(await call(s.url, 'POST', 'login', { body: { type: 'm.login.token' } })).toMatchObject({ status: 400, body: { errcode: 'M_MISSING_PARAM' } });
    expect(await call(s.url, 'POST', '/_matrix/client/v1/login/get_token', { body: {} })).toMatchObject({ status: 401, body: { errcode: 'M_MISSING_TOKEN' } });
    const wrongPassword = await call(s.url, 'POST', '/_matrix/client/v1/login/get_token', {
      token: alice.token,
      body: { auth: { type: 'm.login.password', identifier: { type: 'm.id.user', user: alice.userId }, password: 'wrong' } },
    });
    expect(wrongPassword.status).toBe(401);
    expect(wrongPassword.body).toMatchObject({ errcode: 'M_FORBIDDEN' });
  });
});

describe('rate limits', () => {
  let now = Date.now();
  const s = useTestServer(
    {
      HS_RATE_LIMITS__ENABLED: 'true',
      HS_RATE_LIMITS__LOGIN__PER_SECOND: '0.5',
      HS_RATE_LIMITS__LOGIN__BURST_COUNT: '3',
      HS_RATE_LIMITS__REGISTRATION__PER_SECOND: '0.5',
      HS_RATE_LIMITS__REGISTRATION__BURST_COUNT: '4',
      HS_RATE_LIMITS__MESSAGE__PER_SECOND: '1',
      HS_RATE_LIMITS__MESSAGE__BURST_COUNT: '2',
    },
    () => now,
  );

  it('limits registration per address and lets it through again once the bucket refilled', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) statuses.push((await call(s.url, 'POST', 'register', { body: { username: uniqueName('r'), password: 'pw' } })).status);
    expect(statuses).toEqual([401, 401, 401, 401, 429]);
    const limited = await call(s.url, 'POST', 'register', { body: {} });
    expect(limited.status).toBe(429);
    expect(limited.body).toEqual({ errcode: 'M_LIMIT_EXCEEDED', error: expect.any(String), retry_after_ms: 2000 });
    expect(limited.headers.get('retry-after')).toBe('2');
    now += 2000;
    expect((await call(s.url, 'POST', 'register', { body: {} })).status).toBe(401);
  });

  it('limits logins per address and per account', async () => {
    now += 60_000;
    // Register while the registration bucket is full again.
    const user = await registerUser(s.url, 'limited');
    const attempt = () => call(s.url, 'POST', 'login', { body: { type: 'm.login.password', user: user.username, password: 'wrong' } });
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push((await attempt()).status);
    expect(statuses).toEqual([403, 403, 403, 429]);
    const limited = await attempt();
    expect(limited.body).toMatchObject({ errcode: 'M_LIMIT_EXCEEDED', retry_after_ms: 2000 });
    now += 2000;
    const right = await call(s.url, 'POST', 'login', { body: { type: 'm.login.password', user: user.username, password: user.password } });
    expect(right.status).toBe(200);
  });

  it('limits sending per user, not across users', async () => {
    now += 60_000;
    const alice = await registerUser(s.url, 'sender');
    now += 60_000;
    const bob = await registerUser(s.url, 'sender');
    const room = await call<{ room_id: string }>(s.url, 'POST', 'createRoom', { token: alice.token, body: { preset: 'public_chat' } });
    expect(room.status).toBe(200);
    const roomId = encodeURIComponent(room.body.room_id);
    expect((await call(s.url, 'POST', `join/${roomId}`, { token: bob.token, body: {} })).status).toBe(200);
    const send = (user: TestUser, txn: string) =>
      call(s.url, 'PUT', `rooms/${roomId}/send/m.room.message/${txn}`, { token: user.token, body: { msgtype: 'm.text', body: txn } });
    const aliceStatuses = [];
    for (let i = 0; i < 3; i++) aliceStatuses.push((await send(alice, `a${i}`)).status);
    expect(aliceStatuses).toEqual([200, 200, 429]);
    expect((await send(bob, 'b0')).status).toBe(200);
    now += 1000;
    expect((await send(alice, 'a3')).status).toBe(200);
    // An unauthenticated send is refused for the token, not counted against anyone.
    expect((await call(s.url, 'PUT', `rooms/${roomId}/send/m.room.message/x`, { body: {} })).status).toBe(401);
  });
});
