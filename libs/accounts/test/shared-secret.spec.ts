import { createHmac } from 'node:crypto';
import { Accounts, sharedSecretMac } from './imports';
import { caught, ManualClock, SERVER_NAME, TestDatabase, testAccounts, useTestAccounts } from './harness';

const SECRET = 'correct-horse-battery-staple';

/** The MAC computed independently: HMAC-SHA1 over the NUL-joined fields. */
function expectedMac(secret: string, parts: string[]): string {
  return createHmac('sha1', secret).update(Buffer.from(parts.join('\0'), 'utf8')).digest('hex');
}

describe('sharedSecretMac', () => {
  it('is the hex HMAC-SHA1 of nonce, username, password and admin flag joined by NUL', () => {
    expect(sharedSecretMac(SECRET, { nonce: 'abc', username: 'pepper_roni', password: 'pizza', admin: true })).toBe(
      expectedMac(SECRET, ['abc', 'pepper_roni', 'pizza', 'admin']),
    );
    expect(sharedSecretMac(SECRET, { nonce: 'abc', username: 'pepper_roni', password: 'pizza', admin: false })).toBe(
      expectedMac(SECRET, ['abc', 'pepper_roni', 'pizza', 'notadmin']),
    );
  });

  it('appends the user type when there is one', () => {
    expect(sharedSecretMac(SECRET, { nonce: 'n', username: 'u', password: 'p', admin: false, userType: 'bot' })).toBe(
      expectedMac(SECRET, ['n', 'u', 'p', 'notadmin', 'bot']),
    );
  });

  it('matches fixed vectors computed with Python hmac/hashlib', () => {
    expect(sharedSecretMac('secret', { nonce: 'nonce', username: 'user', password: 'pass', admin: false })).toBe(
      'a62633a505e2bc2e61569cf3c6847ee41ef09bae',
    );
    expect(sharedSecretMac('secret', { nonce: 'nonce', username: 'user', password: 'pass', admin: true, userType: 'bot' })).toBe(
      '0899de123d60946c6afbd7cec8db32e32241feed',
    );
  });
});

describe('SharedSecretRegistrationService', () => {
  let db: TestDatabase;
  let clock: ManualClock;
  let accounts: Accounts;

  useTestAccounts({ registrationSharedSecret: SECRET, sharedSecretNonceLifetimeMs: 60_000 }, (opened) => ({ db, clock, accounts } = opened));

  async function body(fields: { username: string; password: string; admin?: boolean; user_type?: string; displayname?: string }) {
    const nonce = await accounts.sharedSecret.issueNonce();
    const parts = [nonce, fields.username, fields.password, fields.admin ? 'admin' : 'notadmin'];
    if (fields.user_type !== undefined) parts.push(fields.user_type);
    return { nonce, ...fields, mac: expectedMac(SECRET, parts) };
  }

  it('registers an admin and logs them in', async () => {
    const request = await body({ username: 'pepper_roni', password: 'pizza', admin: true, displayname: 'Pepper Roni' });
    const result = await accounts.sharedSecret.register(request);
    expect(result.user_id).toBe(`@pepper_roni:${SERVER_NAME}`);
    expect(await accounts.devices.authenticate(result.access_token)).toMatchObject({ userId: result.user_id, deviceId: result.device_id });
    expect(await accounts.users.requireUser(result.user_id)).toMatchObject({ isAdmin: true });
    expect(await accounts.profiles.getProfile(result.user_id)).toEqual({ displayname: 'Pepper Roni' });
    expect(await accounts.users.checkPassword(result.user_id, 'pizza')).toBe(true);
  });

  it('includes the user type in the MAC and records it', async () => {
    const request = await body({ username: 'helper', password: 'pw', user_type: 'support' });
    const result = await accounts.sharedSecret.register(request);
    expect(await accounts.users.requireUser(result.user_id)).toMatchObject({ isAdmin: false, userType: 'support' });
  });

  it('accepts an upper-case hex MAC', async () => {
    const request = await body({ username: 'upperhex', password: 'pw' });
    await expect(accounts.sharedSecret.register({ ...request, mac: request.mac.toUpperCase() })).resolves.toMatchObject({
      user_id: `@upperhex:${SERVER_NAME}`,
    });
  });

  it('uses a nonce once', async () => {
    const request = await body({ username: 'once', password: 'pw' });
    await accounts.sharedSecret.register(request);
    expect(await caught(() => accounts.sharedSecret.register({ ...request }))).toMatchObject({ errcode: 'M_UNKNOWN', httpStatus: 400 });
  });

  it('refuses a wrong MAC with M_FORBIDDEN and burns the nonce', async () => {
    const request = await body({ username: 'tampered', password: 'pw' });
    // Claiming admin without the MAC covering it.
    expect(await caught(() => accounts.sharedSecret.register({ ...request, admin: true }))).toMatchObject({ errcode: 'M_FORBIDDEN', httpStatus: 403 });
    expect(await caught(() => accounts.sharedSecret.register(request))).toMatchObject({ errcode: 'M_UNKNOWN' });
    expect(await accounts.users.getUser(`@tampered:${SERVER_NAME}`)).toBeNull();
    const short = await body({ username: 'short', password: 'pw' });
    expect(await caught(() => accounts.sharedSecret.register({ ...short, mac: 'abcd' }))).toMatchObject({ errcode: 'M_FORBIDDEN' });
  });

  it('refuses expired and unknown nonces', async () => {
    const request = await body({ username: 'late', password: 'pw' });
    clock.advance(60_000);
    expect(await caught(() => accounts.sharedSecret.register(request))).toMatchObject({ errcode: 'M_UNKNOWN' });
    expect(await caught(() => accounts.sharedSecret.register({ ...request, nonce: 'made-up' }))).toMatchObject({ errcode: 'M_UNKNOWN' });
    expect(await caught(() => accounts.sharedSecret.register({ ...request, nonce: 'a\u0000b' }))).toMatchObject({ errcode: 'M_UNKNOWN' });
  });

  it('checks the body and the username', async () => {
    expect(await caught(() => accounts.sharedSecret.register({ nonce: 'x', username: 'y' }))).toMatchObject({ errcode: 'M_INVALID_PARAM' });
    expect(await caught(() => accounts.sharedSecret.register('nonsense'))).toMatchObject({ errcode: 'M_INVALID_PARAM' });
    const upper = await body({ username: 'Upper', password: 'pw' });
    expect(await caught(() => accounts.sharedSecret.register(upper))).toMatchObject({ errcode: 'M_INVALID_USERNAME' });
    const bad = await body({ username: 'bad name', password: 'pw' });
    expect(await caught(() => accounts.sharedSecret.register(bad))).toMatchObject({ errcode: 'M_INVALID_USERNAME' });
    const kelvin = await body({ username: '\u212Aelvin', password: 'pw' });
    expect(await caught(() => accounts.sharedSecret.register(kelvin))).toMatchObject({ errcode: 'M_INVALID_USERNAME' });
    expect(await accounts.users.getUser(`@kelvin:${SERVER_NAME}`)).toBeNull();
    await accounts.users.register({ localpart: 'taken', password: 'pw' });
    const taken = await body({ username: 'taken', password: 'pw' });
    expect(await caught(() => accounts.sharedSecret.register(taken))).toMatchObject({ errcode: 'M_USER_IN_USE' });
  });

  it('is off without a secret', async () => {
    const off = testAccounts(db.pool, clock);
    expect(off.sharedSecret.enabled).toBe(false);
    expect(accounts.sharedSecret.enabled).toBe(true);
    expect(await caught(() => off.sharedSecret.issueNonce())).toMatchObject({ errcode: 'M_FORBIDDEN' });
    expect(await caught(() => off.sharedSecret.register({}))).toMatchObject({ errcode: 'M_FORBIDDEN' });
    await off.close();
  });
});
