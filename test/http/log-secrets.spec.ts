/**
 * No secret reaches the logs: the homeserver process (its real entry point and logger, at
 * trace level) serves requests that carry access tokens in every way (Authorization header,
 * `access_token` query parameter, valid and unknown ones, on served, unknown and malformed
 * paths), passwords (registration, login, wrong login, password change, a body that is not
 * JSON), a registration token and a shared-secret registration; then every line it wrote is
 * searched for each of them.
 */
import { connect } from 'node:net';
import { sharedSecretMac } from '@hs/accounts';
import { call, type Reply } from '@hs/testing';
import { startServer, type TestServer } from '../e2e/support/server';

const SHARED_SECRET = 'shared-secret-0123456789-abcdef';
const REGISTRATION_TOKEN = 'registration-token-5f1d9c';
const PASSWORD = 'first-password-8c2e7a';
const NEW_PASSWORD = 'second-password-41b9d0';
const WRONG_PASSWORD = 'wrong-password-77aa31';
const ADMIN_PASSWORD = 'admin-password-2d64f8';
const BROKEN_BODY_PASSWORD = 'broken-body-password-9e0c12';
const UNKNOWN_TOKEN = 'syt_unknown_token_3b8f0e6a';

function expectOk(reply: Reply, what: string): void {
  if (reply.status !== 200) throw new Error(`${what}: ${reply.status} ${JSON.stringify(reply.body)}`);
}

/** Sends `text` on a fresh connection and waits until the server closes it. */
function rawExchange(base: string, text: string): Promise<string> {
  const url = new URL(base);
  return new Promise((resolve) => {
    const socket = connect(Number(url.port), url.hostname, () => socket.write(text));
    let received = '';
    socket.on('data', (chunk: Buffer) => (received += chunk.toString('utf8')));
    socket.on('error', () => undefined);
    socket.on('close', () => resolve(received));
  });
}

describe('secrets in the logs', () => {
  let server: TestServer | undefined;

  afterAll(async () => {
    await server?.stop();
  });

  it('never appear in any log line, whatever way a request carries them', async () => {
    server = await startServer({
      logLevel: 'trace',
      keepLines: 1_000_000,
      env: { HS_REGISTRATION__SHARED_SECRET: SHARED_SECRET, HS_REGISTRATION__REGISTRATION_TOKEN: REGISTRATION_TOKEN },
    });
    const base = server.url;
    const secrets: string[] = [SHARED_SECRET, REGISTRATION_TOKEN, PASSWORD, NEW_PASSWORD, WRONG_PASSWORD, ADMIN_PASSWORD, BROKEN_BODY_PASSWORD, UNKNOWN_TOKEN];

    // Registration with a password and a registration token (user-interactive auth).
    expectOk(await call(base, 'GET', '/_matrix/client/v1/register/m.login.registration_token/validity', { query: { token: REGISTRATION_TOKEN } }), 'validity');
    const started = await call<{ session: string }>(base, 'POST', 'register', { body: { username: 'logsecrets', password: PASSWORD } });
    const registered = await call<{ access_token: string; user_id: string }>(base, 'POST', 'register', {
      body: { username: 'logsecrets', password: PASSWORD, auth: { type: 'm.login.registration_token', token: REGISTRATION_TOKEN, session: started.body.session } },
    });
    expectOk(registered, 'register');
    const headerToken = registered.body.access_token;
    const userId = registered.body.user_id;
    secrets.push(headerToken);

    // Login with the password, and a wrong one.
    const login = await call<{ access_token: string }>(base, 'POST', 'login', {
      body: { type: 'm.login.password', identifier: { type: 'm.id.user', user: 'logsecrets' }, password: PASSWORD },
    });
    expectOk(login, 'login');
    const queryToken = login.body.access_token;
    secrets.push(queryToken);
    const wrong = await call(base, 'POST', 'login', { body: { type: 'm.login.password', identifier: { type: 'm.id.user', user: 'logsecrets' }, password: WRONG_PASSWORD } });
    expect(wrong.status).toBe(403);

    // Tokens in the Authorization header and the access_token query parameter; unknown ones too.
    expectOk(await call(base, 'GET', 'account/whoami', { token: headerToken }), 'whoami (header)');
    expectOk(await call(base, 'GET', 'account/whoami', { query: { access_token: queryToken } }), 'whoami (query)');
    expectOk(await call(base, 'GET', `/_matrix/client/v3/account/whoami?user_id=x&access_token=${queryToken}&x=1`), 'whoami (query among others)');
    expectOk(await call(base, 'GET', 'sync', { query: { access_token: queryToken, timeout: '0' } }), 'sync (query)');
    expect((await call(base, 'GET', 'account/whoami', { query: { access_token: UNKNOWN_TOKEN } })).status).toBe(401);
    expect((await call(base, 'GET', 'account/whoami', { token: UNKNOWN_TOKEN })).status).toBe(401);
    expect((await call(base, 'GET', `/_matrix/client/v3/no/such/endpoint?access_token=${queryToken}`)).status).toBe(404);
    expect((await call(base, 'GET', `/no/such/path?access_token=${UNKNOWN_TOKEN}`, { token: headerToken })).status).toBe(404);
    expect((await call(base, 'PUT', `/_matrix/client/v3/rooms/%E0%A4%A/send/m.room.message/1?access_token=${queryToken}`, { raw: '{}' })).status).toBe(400);
    expect((await call(base, 'POST', `/_matrix/client/v3/account/whoami?access_token=${queryToken}`)).status).toBe(405);

    // Passwords in bodies the server refuses: not JSON, not UTF-8.
    const broken = await call(base, 'POST', 'login', { raw: `{"type":"m.login.password","user":"logsecrets","password":"${BROKEN_BODY_PASSWORD}",` });
    expect(broken.status).toBe(400);

    // Requests Node's HTTP parser refuses, carrying the token in the URL and a header.
    const overflow = await rawExchange(
      base,
      `GET /_matrix/client/v3/account/whoami?access_token=${queryToken}&pad=${'a'.repeat(20_000)} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${headerToken}\r\n\r\n`,
    );
    expect(overflow).toMatch(/^HTTP\/1\.1 431 /);
    const malformed = await rawExchange(base, `GET /_matrix/client/v3/account/whoami?access_token=${queryToken} HTTP/1.1\r\nAuthorization Bearer ${headerToken}\r\n\r\n`);
    expect(malformed).toMatch(/^HTTP\/1\.1 400 /);

    // Password change through user-interactive auth.
    const change = await call<{ session: string }>(base, 'POST', 'account/password', { token: headerToken, body: { new_password: NEW_PASSWORD, logout_devices: false } });
    expect(change.status).toBe(401);
    expectOk(
      await call(base, 'POST', 'account/password', {
        token: headerToken,
        body: {
          new_password: NEW_PASSWORD,
          logout_devices: false,
          auth: { type: 'm.login.password', identifier: { type: 'm.id.user', user: userId }, password: PASSWORD, session: change.body.session },
        },
      }),
      'password change',
    );

    // Shared-secret registration (nonce, mac, password) and the token it hands out.
    const nonce = (await call<{ nonce: string }>(base, 'GET', '/_synapse/admin/v1/register')).body.nonce;
    const mac = sharedSecretMac(SHARED_SECRET, { nonce, username: 'logsecretsadmin', password: ADMIN_PASSWORD, admin: true });
    secrets.push(nonce, mac);
    const admin = await call<{ access_token: string }>(base, 'POST', '/_synapse/admin/v1/register', {
      body: { nonce, username: 'logsecretsadmin', password: ADMIN_PASSWORD, admin: true, mac },
    });
    expectOk(admin, 'shared-secret registration');
    secrets.push(admin.body.access_token);
    expectOk(await call(base, 'GET', 'account/whoami', { query: { access_token: admin.body.access_token } }), 'whoami (admin)');

    expectOk(await call(base, 'POST', 'logout', { query: { access_token: queryToken } }), 'logout');

    const lines = server.lines;
    expect(await server.stop()).toBe(0);
    const text = [...lines.map((line) => JSON.stringify(line)), ...server.stderr].join('\n');

    // The requests were logged (so the search below saw them), with the token replaced.
    const urls = lines.map((line) => (line.req as { url?: unknown } | undefined)?.url).filter((url): url is string => typeof url === 'string');
    expect(urls).toContain('/_matrix/client/v3/account/whoami?access_token=[Redacted]');
    expect(urls).toContain('/_matrix/client/v3/account/whoami?user_id=x&access_token=[Redacted]&x=1');
    expect(urls.some((url) => url.startsWith('/_matrix/client/v1/register/m.login.registration_token/validity?token=[Redacted]'))).toBe(true);

    for (const secret of secrets) {
      const found = lines.filter((line) => JSON.stringify(line).includes(secret));
      expect({ secret, found }).toEqual({ secret, found: [] });
      expect(text.includes(secret)).toBe(false);
    }
  }, 180_000);
});
