/**
 * Registration over real HTTP against the homeserver: user-interactive auth with
 * m.login.dummy and m.login.registration_token, username checks, inhibit_login, guests,
 * disabled registration, and Synapse's shared-secret registration.
 */
import { createHmac } from 'node:crypto';
import { assertMatchesSpec } from '@hs/testing';
import { call, registerUser, useTestServer, uniqueName } from './accounts-harness';

const REGISTER_200 = { api: 'client-server', file: 'registration.yaml', path: '/register', method: 'post', status: 200 } as const;
const REGISTER_401 = { api: 'client-server', file: 'registration.yaml', path: '/register', method: 'post', status: 401 } as const;

interface UiaBody {
  flows: { stages: string[] }[];
  session: string;
  completed?: string[];
  params: Record<string, unknown>;
  errcode?: string;
}

describe('registration (open, m.login.dummy)', () => {
  const s = useTestServer();

  it('asks for m.login.dummy, then registers and logs in', async () => {
    const username = uniqueName('alice');
    const first = await call<UiaBody>(s.url, 'POST', 'register', { body: { username, password: 'pw-1' } });
    expect(first.status).toBe(401);
    assertMatchesSpec(first.body, REGISTER_401);
    expect(first.body.flows).toEqual([{ stages: ['m.login.dummy'] }]);

    const done = await call<{ user_id: string; access_token: string; device_id: string }>(s.url, 'POST', 'register', {
      body: { username, password: 'pw-1', device_id: 'MYDEVICE', initial_device_display_name: 'Laptop', auth: { type: 'm.login.dummy', session: first.body.session } },
    });
    expect(done.status).toBe(200);
    assertMatchesSpec(done.body, REGISTER_200);
    expect(done.body.user_id).toBe(`@${username}:localhost`);
    expect(done.body.device_id).toBe('MYDEVICE');

    const whoami = await call(s.url, 'GET', 'account/whoami', { token: done.body.access_token });
    expect(whoami.body).toEqual({ user_id: `@${username}:localhost`, device_id: 'MYDEVICE', is_guest: false });
    const device = await call(s.url, 'GET', 'devices/MYDEVICE', { token: done.body.access_token });
    expect(device.body).toMatchObject({ device_id: 'MYDEVICE', display_name: 'Laptop' });
    // New accounts get their localpart as display name.
    const profile = await call(s.url, 'GET', `profile/${encodeURIComponent(done.body.user_id)}`);
    expect(profile.body).toEqual({ displayname: username });
  });

  it('answers a retry of a finished registration with the same account, also when the retry names another user', async () => {
    const username = uniqueName('once');
    const first = await call<UiaBody>(s.url, 'POST', 'register', { body: { username, password: 'pw' } });
    const auth = { type: 'm.login.dummy', session: first.body.session };
    const done = await call<{ user_id: string; device_id: string; access_token: string }>(s.url, 'POST', 'register', { body: { username, password: 'pw', auth } });
    expect(done.status).toBe(200);
    const again = await call<{ user_id: string; device_id: string; access_token: string }>(s.url, 'POST', 'register', { body: { username, password: 'pw', auth } });
    expect(again.status).toBe(200);
    assertMatchesSpec(again.body, REGISTER_200);
    expect(again.body).toMatchObject({ user_id: done.body.user_id, device_id: done.body.device_id });
    const whoami = await call(s.url, 'GET', 'account/whoami', { token: again.body.access_token });
    expect(whoami.body).toMatchObject({ user_id: done.body.user_id, device_id: done.body.device_id });
    const other = await call(s.url, 'POST', 'register', { body: { username: uniqueName('twice'), password: 'pw', auth } });
    expect(other).toEqual({ status: 200, body: expect.objectContaining({ user_id: done.body.user_id }) });
  });

  it('answers a retry of a finished registration without a username (SyTest "registration is idempotent")', async () => {
    const first = await call<UiaBody>(s.url, 'POST', 'register', { body: { password: 'sUp3rs3kr1t' } });
    const auth = { type: 'm.login.dummy', session: first.body.session };
    const done = await call<{ user_id: string }>(s.url, 'POST', 'register', { body: { password: 'sUp3rs3kr1t', auth } });
    expect(done.status).toBe(200);
    const again = await call<{ user_id: string; access_token: string }>(s.url, 'POST', 'register', { body: { password: 'sUp3rs3kr1t', auth } });
    expect(again.status).toBe(200);
    expect(again.body.user_id).toBe(done.body.user_id);
    expect(typeof again.body.access_token).toBe('string');
  });

  it('keeps the first request\'s parameters with the session for a request that completes a stage without them', async () => {
    const username = uniqueName('Kept');
    const first = await call<UiaBody>(s.url, 'POST', 'register', {
      body: { username, password: 'first-pw', device_id: 'xyzzy', initial_device_display_name: 'display_name' },
    });
    expect(first.status).toBe(401);
    const done = await call<{ user_id: string; access_token: string; device_id: string }>(s.url, 'POST', 'register', {
      body: { auth: { type: 'm.login.dummy', session: first.body.session } },
    });
    expect(done.status).toBe(200);
    expect(done.body).toMatchObject({ user_id: `@${username.toLowerCase()}:localhost`, device_id: 'xyzzy' });
    const device = await call(s.url, 'GET', 'devices/xyzzy', { token: done.body.access_token });
    expect(device.body).toMatchObject({ device_id: 'xyzzy', display_name: 'display_name' });
    // The kept password is the account's password.
    const login = await call(s.url, 'POST', 'login', {
      body: { type: 'm.login.password', identifier: { type: 'm.id.user', user: username.toLowerCase() }, password: 'first-pw' },
    });
    expect(login.status).toBe(200);
  });

  it('lets a request completing a stage replace a kept parameter, and honours a kept inhibit_login', async () => {
    const first = await call<UiaBody>(s.url, 'POST', 'register', { body: { username: uniqueName('replaced'), password: 'pw', inhibit_login: true } });
    const username = uniqueName('replacing');
    const done = await call(s.url, 'POST', 'register', { body: { username, auth: { type: 'm.login.dummy', session: first.body.session } } });
    expect(done).toEqual({ status: 200, body: { user_id: `@${username}:localhost` } });
  });

  it('downcases capitals in a username and answers the requested device_id, in one request', async () => {
    const done = await call(s.url, 'POST', 'register', {
      body: { auth: { type: 'm.login.dummy' }, username: 'user-UPPER', password: 'sUp3rs3kr1t', device_id: 'my_device_id' },
    });
    expect(done.status).toBe(200);
    expect(done.headers.get('content-type')).toBe('application/json');
    expect(done.body).toMatchObject({ user_id: '@user-upper:localhost', device_id: 'my_device_id' });
    const first = await call(s.url, 'POST', 'register', { body: {} });
    expect(first.status).toBe(401);
    expect(first.headers.get('content-type')).toBe('application/json');
  });

  it('registers without a username (a generated localpart) and with inhibit_login', async () => {
    const first = await call<UiaBody>(s.url, 'POST', 'register', { body: {} });
    expect(first.status).toBe(401);
    const done = await call<Record<string, unknown>>(s.url, 'POST', 'register', {
      body: { password: 'pw', inhibit_login: true, auth: { type: 'm.login.dummy', session: first.body.session } },
    });
    expect(done.status).toBe(200);
    assertMatchesSpec(done.body, REGISTER_200);
    expect(Object.keys(done.body)).toEqual(['user_id']);
    expect(done.body.user_id).toMatch(/^@\d+:localhost$/);
  });

  it('is served under r0 as well', async () => {
    const first = await call<UiaBody>(s.url, 'POST', '/_matrix/client/r0/register', { body: { username: uniqueName('legacy'), password: 'pw' } });
    expect(first.status).toBe(401);
    expect(first.body.flows).toEqual([{ stages: ['m.login.dummy'] }]);
  });

  it('refuses a username in use or invalid before asking for authentication', async () => {
    const taken = await registerUser(s.url, 'taken');
    const inUse = await call(s.url, 'POST', 'register', { body: { username: taken.username, password: 'pw' } });
    expect(inUse.status).toBe(400);
    expect(inUse.body).toMatchObject({ errcode: 'M_USER_IN_USE' });
    for (const username of ['_underscore', '12345', 'has space', 'bad:colon']) {
      const invalid = await call(s.url, 'POST', 'register', { body: { username, password: 'pw' } });
      expect(invalid.status).toBe(400);
      expect(invalid.body).toMatchObject({ errcode: 'M_INVALID_USERNAME' });
    }
  });

  it('wants a password once the auth is complete', async () => {
    const first = await call<UiaBody>(s.url, 'POST', 'register', { body: { username: uniqueName('nopw') } });
    const done = await call(s.url, 'POST', 'register', { body: { username: uniqueName('nopw'), auth: { type: 'm.login.dummy', session: first.body.session } } });
    expect(done.status).toBe(400);
    expect(done.body).toMatchObject({ errcode: 'M_MISSING_PARAM' });
  });

  it('answers bad bodies with the spec error codes', async () => {
    const notJson = await call(s.url, 'POST', 'register', { raw: '{"username": ' });
    expect(notJson.status).toBe(400);
    expect(notJson.body).toMatchObject({ errcode: 'M_NOT_JSON' });
    const array = await call(s.url, 'POST', 'register', { body: ['x'] });
    expect(array.status).toBe(400);
    expect(array.body).toMatchObject({ errcode: 'M_BAD_JSON' });
    const wrongType = await call(s.url, 'POST', 'register', { body: { username: 42, password: 'pw' } });
    expect(wrongType.status).toBe(400);
    expect(wrongType.body).toMatchObject({ errcode: 'M_BAD_JSON' });
    const inhibit = await call(s.url, 'POST', 'register', { body: { password: 'pw', inhibit_login: 'yes' } });
    expect(inhibit.body).toMatchObject({ errcode: 'M_BAD_JSON' });
    const badAuth = await call(s.url, 'POST', 'register', { body: { password: 'pw', auth: 'dummy' } });
    expect(badAuth.status).toBe(400);
    expect(badAuth.body).toMatchObject({ errcode: 'M_BAD_JSON' });
    const unknownStage = await call<UiaBody>(s.url, 'POST', 'register', { body: {} });
    const wrongStage = await call(s.url, 'POST', 'register', {
      body: { password: 'pw', auth: { type: 'm.login.recaptcha', session: unknownStage.body.session } },
    });
    expect(wrongStage.status).toBe(400);
    expect(wrongStage.body).toMatchObject({ errcode: 'M_UNRECOGNIZED' });
    const badKind = await call(s.url, 'POST', 'register', { query: { kind: 'robot' }, body: {} });
    expect(badKind.status).toBe(400);
    expect(badKind.body).toMatchObject({ errcode: 'M_INVALID_PARAM' });
  });

  it('refuses guest registration (guests are not allowed by default)', async () => {
    const guest = await call(s.url, 'POST', 'register', { query: { kind: 'guest' }, body: {} });
    expect(guest.status).toBe(403);
    expect(guest.body).toMatchObject({ errcode: 'M_GUEST_ACCESS_FORBIDDEN' });
  });

  it('GET /register/available', async () => {
    const free = await call(s.url, 'GET', 'register/available', { query: { username: uniqueName('free') } });
    expect(free.status).toBe(200);
    assertMatchesSpec(free.body, { api: 'client-server', file: 'registration.yaml', path: '/register/available', method: 'get', status: 200 });
    expect(free.body).toEqual({ available: true });
    const taken = await registerUser(s.url, 'avail');
    const inUse = await call(s.url, 'GET', 'register/available', { query: { username: taken.username.toUpperCase() } });
    expect(inUse.status).toBe(400);
    expect(inUse.body).toMatchObject({ errcode: 'M_USER_IN_USE' });
    const invalid = await call(s.url, 'GET', 'register/available', { query: { username: 'not valid' } });
    expect(invalid.body).toMatchObject({ errcode: 'M_INVALID_USERNAME' });
    const missing = await call(s.url, 'GET', 'register/available');
    expect(missing.status).toBe(400);
    expect(missing.body).toMatchObject({ errcode: 'M_MISSING_PARAM' });
  });

  it('GET /register/m.login.registration_token/validity says no token is valid when none is configured', async () => {
    const reply = await call(s.url, 'GET', '/_matrix/client/v1/register/m.login.registration_token/validity', { query: { token: 'nope' } });
    expect(reply.status).toBe(200);
    assertMatchesSpec(reply.body, {
      api: 'client-server',
      file: 'registration_tokens.yaml',
      path: '/register/m.login.registration_token/validity',
      method: 'get',
      status: 200,
    });
    expect(reply.body).toEqual({ valid: false });
    const missing = await call(s.url, 'GET', '/_matrix/client/v1/register/m.login.registration_token/validity');
    expect(missing.body).toMatchObject({ errcode: 'M_MISSING_PARAM' });
  });

  it('a GET on /register is an unrecognised method', async () => {
    const reply = await call(s.url, 'GET', 'register');
    expect(reply.status).toBe(405);
    expect(reply.body).toMatchObject({ errcode: 'M_UNRECOGNIZED' });
  });

  it('registers through the shared secret (Synapse HMAC) and refuses a wrong MAC or reused nonce', async () => {
    const secret = s.config.registration.shared_secret;
    if (secret === null) throw new Error('the generated config has a shared secret');
    const nonceReply = await call<{ nonce: string }>(s.url, 'GET', '/_synapse/admin/v1/register');
    expect(nonceReply.status).toBe(200);
    const username = uniqueName('admin');
    const mac = (nonce: string) =>
      createHmac('sha1', secret).update(`${nonce}\0${username}\0pw-admin\0admin`).digest('hex');
    const body = { nonce: nonceReply.body.nonce, username, password: 'pw-admin', admin: true, mac: mac(nonceReply.body.nonce) };
    const done = await call<{ user_id: string; access_token: string }>(s.url, 'POST', '/_synapse/admin/v1/register', { body });
    expect(done.status).toBe(200);
    expect(done.body.user_id).toBe(`@${username}:localhost`);
    expect((await call(s.url, 'GET', 'account/whoami', { token: done.body.access_token })).status).toBe(200);

    const reused = await call(s.url, 'POST', '/_synapse/admin/v1/register', { body });
    expect(reused.status).toBe(400);
    const fresh = await call<{ nonce: string }>(s.url, 'GET', '/_synapse/admin/v1/register');
    const wrong = await call(s.url, 'POST', '/_synapse/admin/v1/register', {
      body: { ...body, nonce: fresh.body.nonce, username: uniqueName('x'), mac: mac(fresh.body.nonce) },
    });
    expect(wrong.status).toBe(403);
    expect(wrong.body).toMatchObject({ errcode: 'M_FORBIDDEN' });
    const malformed = await call(s.url, 'POST', '/_synapse/admin/v1/register', { body: { nonce: 1 } });
    expect(malformed.status).toBe(400);
    expect(malformed.body).toMatchObject({ errcode: 'M_INVALID_PARAM' });
  });
});

describe('registration with a registration token, and disabled registration', () => {
  const tokenServer = useTestServer({ HS_REGISTRATION__REGISTRATION_TOKEN: 'let-me-in' });
  const closedServer = useTestServer({ HS_REGISTRATION__ENABLED: 'false' });

  it('asks for m.login.registration_token and checks it', async () => {
    const username = uniqueName('tok');
    const first = await call<UiaBody>(tokenServer.url, 'POST', 'register', { body: { username, password: 'pw' } });
    expect(first.status).toBe(401);
    expect(first.body.flows).toEqual([{ stages: ['m.login.registration_token'] }]);
    const wrong = await call<UiaBody>(tokenServer.url, 'POST', 'register', {
      body: { username, password: 'pw', auth: { type: 'm.login.registration_token', token: 'guess', session: first.body.session } },
    });
    expect(wrong.status).toBe(401);
    assertMatchesSpec(wrong.body, REGISTER_401);
    expect(wrong.body.errcode).toBe('M_UNAUTHORIZED');
    const dummy = await call(tokenServer.url, 'POST', 'register', {
      body: { username, password: 'pw', auth: { type: 'm.login.dummy', session: first.body.session } },
    });
    expect(dummy.status).toBe(400);
    expect(dummy.body).toMatchObject({ errcode: 'M_UNRECOGNIZED' });
    const right = await call(tokenServer.url, 'POST', 'register', {
      body: { username, password: 'pw', auth: { type: 'm.login.registration_token', token: 'let-me-in', session: first.body.session } },
    });
    expect(right.status).toBe(200);
    expect(right.body).toMatchObject({ user_id: `@${username}:localhost` });
  });

  it('reports the configured token valid', async () => {
    const path = '/_matrix/client/v1/register/m.login.registration_token/validity';
    expect((await call(tokenServer.url, 'GET', path, { query: { token: 'let-me-in' } })).body).toEqual({ valid: true });
    expect((await call(tokenServer.url, 'GET', path, { query: { token: 'let-me-out' } })).body).toEqual({ valid: false });
  });

  it('refuses registration with 403 when it is disabled, but not shared-secret registration', async () => {
    const reply = await call(closedServer.url, 'POST', 'register', { body: { username: uniqueName('closed'), password: 'pw' } });
    expect(reply.status).toBe(403);
    expect(reply.body).toMatchObject({ errcode: 'M_FORBIDDEN' });
    const validity = await call(closedServer.url, 'GET', '/_matrix/client/v1/register/m.login.registration_token/validity', { query: { token: 'x' } });
    expect(validity.status).toBe(403);
    const nonce = await call<{ nonce: string }>(closedServer.url, 'GET', '/_synapse/admin/v1/register');
    expect(nonce.status).toBe(200);
    const secret = closedServer.config.registration.shared_secret ?? '';
    const username = uniqueName('ops');
    const mac = createHmac('sha1', secret).update(`${nonce.body.nonce}\0${username}\0pw\0notadmin`).digest('hex');
    const done = await call(closedServer.url, 'POST', '/_synapse/admin/v1/register', { body: { nonce: nonce.body.nonce, username, password: 'pw', mac } });
    expect(done.status).toBe(200);
  });
});
