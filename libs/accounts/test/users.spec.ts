import { createHash } from 'node:crypto';
import { z } from 'zod';
import { Accounts, AccountsError, assertValidLocalpart, sql } from './imports';
import { caught, ManualClock, SERVER_NAME, TestDatabase, testAccounts, useTestAccounts } from './harness';

describe('localpart rules', () => {
  it('accepts the spec grammar', () => {
    for (const localpart of ['alice', 'a.b_c=d-e/f+g', 'x9']) {
      expect(() => assertValidLocalpart(localpart, SERVER_NAME)).not.toThrow();
    }
  });

  it.each([
    ['empty', ''],
    ['upper case', 'Alice'],
    ['space', 'al ice'],
    ['colon', 'al:ice'],
    ['non-ascii', 'alïce'],
    ['leading underscore', '_bridge'],
    ['purely numeric', '12345'],
  ])('rejects %s with M_INVALID_USERNAME', (_label, localpart) => {
    const error = (() => {
      try {
        assertValidLocalpart(localpart, SERVER_NAME);
      } catch (e) {
        return e;
      }
      return null;
    })();
    expect(error).toBeInstanceOf(AccountsError);
    expect((error as AccountsError).errcode).toBe('M_INVALID_USERNAME');
    expect((error as AccountsError).httpStatus).toBe(400);
  });

  it('allows numeric localparts when asked (generated accounts)', () => {
    expect(() => assertValidLocalpart('42', SERVER_NAME, { allowNumeric: true })).not.toThrow();
  });

  it('limits the whole user id to 255 bytes', () => {
    const room = 255 - `@:${SERVER_NAME}`.length;
    expect(() => assertValidLocalpart('a'.repeat(room), SERVER_NAME)).not.toThrow();
    expect(() => assertValidLocalpart('a'.repeat(room + 1), SERVER_NAME)).toThrow(AccountsError);
  });
});

describe('UserService', () => {
  let db: TestDatabase;
  let clock: ManualClock;
  let accounts: Accounts;

  useTestAccounts({}, (opened) => ({ db, clock, accounts } = opened));

  describe('register', () => {
    it('creates a user with a hashed password and the localpart as display name', async () => {
      const { userId } = await accounts.users.register({ localpart: 'alice', password: 'wonderland' });
      expect(userId).toBe(`@alice:${SERVER_NAME}`);
      const user = await accounts.users.requireUser(userId);
      expect(user).toMatchObject({ localpart: 'alice', kind: 'user', isAdmin: false, deactivated: false, hasPassword: true });
      const hash = await db.pool.oneFirst(sql.type(z.object({ password_hash: z.string() }))`
        SELECT password_hash FROM accounts.users WHERE user_id = ${userId}`);
      expect(hash.startsWith('$argon2id$')).toBe(true);
      expect(hash).not.toContain('wonderland');
      expect(await accounts.profiles.getProfile(userId)).toEqual({ displayname: 'alice' });
    });

    it('lower-cases the requested username and keeps a given display name', async () => {
      const { userId } = await accounts.users.register({ localpart: 'Bob.Smith', password: 'pw', displayName: 'Bob S' });
      expect(userId).toBe(`@bob.smith:${SERVER_NAME}`);
      expect(await accounts.profiles.getProfile(userId)).toEqual({ displayname: 'Bob S' });
    });

    it('rejects a taken name with M_USER_IN_USE (case-insensitively)', async () => {
      await accounts.users.register({ localpart: 'carol', password: 'pw' });
      const error = await caught(() => accounts.users.register({ localpart: 'CAROL', password: 'other' }));
      expect(error).toMatchObject({ errcode: 'M_USER_IN_USE', httpStatus: 400 });
    });

    it('rejects invalid names with M_INVALID_USERNAME', async () => {
      for (const localpart of ['has space', '_appservice', '1234', 'x'.repeat(300)]) {
        const error = await caught(() => accounts.users.register({ localpart, password: 'pw' }));
        expect(error).toMatchObject({ errcode: 'M_INVALID_USERNAME' });
      }
    });

    it('folds only ASCII letters: characters that lower-case to ASCII (KELVIN SIGN, dotted I) are refused', async () => {
      for (const localpart of ['\u212Aelvin', '\u0130van', 'ma\u017Fter']) {
        const error = await caught(() => accounts.users.register({ localpart, password: 'pw' }));
        expect(error).toMatchObject({ errcode: 'M_INVALID_USERNAME' });
        expect(await caught(() => accounts.users.isUsernameAvailable(localpart))).toMatchObject({ errcode: 'M_INVALID_USERNAME' });
      }
      expect(await accounts.users.getUser(`@kelvin:${SERVER_NAME}`)).toBeNull();
    });

    it('rejects an empty password with M_WEAK_PASSWORD and a huge one with M_INVALID_PARAM', async () => {
      expect(await caught(() => accounts.users.register({ localpart: 'weak', password: '' }))).toMatchObject({ errcode: 'M_WEAK_PASSWORD' });
      expect(await caught(() => accounts.users.register({ localpart: 'weak', password: 'p'.repeat(513) }))).toMatchObject({
        errcode: 'M_INVALID_PARAM',
      });
      expect(await accounts.users.getUser(`@weak:${SERVER_NAME}`)).toBeNull();
    });

    it('applies the configured minimum password length', async () => {
      const strict = testAccounts(db.pool, clock, { passwordMinLength: 8 });
      expect(await caught(() => strict.users.register({ localpart: 'strict', password: 'short' }))).toMatchObject({
        errcode: 'M_WEAK_PASSWORD',
      });
      await expect(strict.users.register({ localpart: 'strict', password: 'long enough' })).resolves.toEqual({
        userId: `@strict:${SERVER_NAME}`,
      });
      await strict.close();
    });

    it('generates numeric localparts when none is given, skipping taken ones', async () => {
      const first = await accounts.users.register({ password: 'pw' });
      const second = await accounts.users.register({ password: 'pw' });
      const n1 = Number(first.userId.slice(1, first.userId.indexOf(':')));
      const n2 = Number(second.userId.slice(1, second.userId.indexOf(':')));
      expect(Number.isInteger(n1)).toBe(true);
      expect(n2).toBeGreaterThan(n1);
    });

    it('registers guests with a generated id, no password and their number as display name, whatever was asked', async () => {
      const { userId } = await accounts.users.register({ kind: 'guest', localpart: 'wanted', password: 'pw', displayName: 'x' });
      expect(userId).toMatch(new RegExp(`^@[0-9]+:${SERVER_NAME.replace(/\./g, '\\.')}$`));
      expect(await accounts.users.requireUser(userId)).toMatchObject({ kind: 'guest', hasPassword: false });
      expect(await accounts.profiles.getProfile(userId)).toEqual({ displayname: userId.slice(1, userId.indexOf(':')) });
      const login = await accounts.devices.issueAccessToken(userId);
      expect(await accounts.devices.authenticate(login.access_token)).toEqual({ userId, deviceId: login.device_id, isGuest: true });
    });

    it('lets exactly one of two concurrent registrations of one name win', async () => {
      const results = await Promise.allSettled([
        accounts.users.register({ localpart: 'racer', password: 'one' }),
        accounts.users.register({ localpart: 'racer', password: 'two' }),
        accounts.users.register({ localpart: 'RACER', password: 'three' }),
      ]);
      const won = results.filter((r) => r.status === 'fulfilled');
      const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
      expect(won).toHaveLength(1);
      expect(lost).toHaveLength(2);
      for (const loss of lost) expect(loss.reason).toMatchObject({ errcode: 'M_USER_IN_USE' });
      const count = await db.pool.oneFirst(sql.type(z.object({ n: z.number() }))`
        SELECT count(*)::int AS n FROM accounts.users WHERE localpart = 'racer'`);
      expect(count).toBe(1);
    });

    it('records the admin flag and user type', async () => {
      const { userId } = await accounts.users.register({ localpart: 'root', password: 'pw', admin: true, userType: 'support' });
      expect(await accounts.users.requireUser(userId)).toMatchObject({ isAdmin: true, userType: 'support' });
      expect(await accounts.users.isAdmin(userId)).toBe(true);
      await accounts.users.setAdmin(userId, false);
      expect(await accounts.users.isAdmin(userId)).toBe(false);
      expect(await caught(() => accounts.users.setAdmin(`@nobody:${SERVER_NAME}`, true))).toMatchObject({ errcode: 'M_NOT_FOUND' });
    });
  });

  describe('isUsernameAvailable', () => {
    it('answers true for a free name, M_USER_IN_USE for a taken one and M_INVALID_USERNAME for a bad one', async () => {
      await accounts.users.register({ localpart: 'dave', password: 'pw' });
      await expect(accounts.users.isUsernameAvailable('erin')).resolves.toBe(true);
      expect(await caught(() => accounts.users.isUsernameAvailable('Dave'))).toMatchObject({ errcode: 'M_USER_IN_USE' });
      expect(await caught(() => accounts.users.isUsernameAvailable('d@ve'))).toMatchObject({ errcode: 'M_INVALID_USERNAME' });
      expect(await caught(() => accounts.users.isUsernameAvailable(42))).toMatchObject({ errcode: 'M_INVALID_USERNAME' });
    });
  });

  describe('passwords and login', () => {
    let userId: string;
    beforeAll(async () => {
      ({ userId } = await accounts.users.register({ localpart: 'frank', password: 'correct horse' }));
    });

    it('checks passwords', async () => {
      expect(await accounts.users.checkPassword(userId, 'correct horse')).toBe(true);
      expect(await accounts.users.checkPassword(userId, 'wrong')).toBe(false);
      expect(await accounts.users.checkPassword(`@ghost:${SERVER_NAME}`, 'correct horse')).toBe(false);
    });

    it('logs in by localpart, full user id or differently cased name', async () => {
      for (const user of ['frank', userId, 'FRANK', `@Frank:${SERVER_NAME}`]) {
        const result = await accounts.users.login({ user, password: 'correct horse' });
        expect(result.user_id).toBe(userId);
        expect(result.device_id).toMatch(/^[A-Z]{10}$/);
        expect(await accounts.devices.authenticate(result.access_token)).toEqual({ userId, deviceId: result.device_id, isGuest: false });
      }
    });

    it('refuses wrong passwords, unknown users and other servers with M_FORBIDDEN', async () => {
      for (const request of [
        { user: 'frank', password: 'wrong' },
        { user: 'nobody', password: 'correct horse' },
        { user: '@frank:elsewhere.org', password: 'correct horse' },
        { user: 'bad name!', password: 'correct horse' },
        { user: 'fran\u212A', password: 'correct horse' },
      ]) {
        expect(await caught(() => accounts.users.login(request))).toMatchObject({ errcode: 'M_FORBIDDEN', httpStatus: 403 });
      }
    });

    it('re-using a device id replaces its access token and keeps its display name', async () => {
      const first = await accounts.users.login({ user: 'frank', password: 'correct horse', deviceId: 'PHONE', initialDeviceDisplayName: 'Phone' });
      const second = await accounts.users.login({ user: 'frank', password: 'correct horse', deviceId: 'PHONE', initialDeviceDisplayName: 'Other' });
      expect(second.device_id).toBe('PHONE');
      expect(second.access_token).not.toBe(first.access_token);
      expect(await accounts.devices.authenticate(first.access_token)).toBeNull();
      expect(await accounts.devices.authenticate(second.access_token)).toMatchObject({ deviceId: 'PHONE' });
      expect(await accounts.devices.getDevice(userId, 'PHONE')).toMatchObject({ display_name: 'Phone' });
    });

    it('changes the password and logs out the other devices', async () => {
      const { userId: uid } = await accounts.users.register({ localpart: 'grace', password: 'old password' });
      const current = await accounts.users.login({ user: 'grace', password: 'old password' });
      const other = await accounts.users.login({ user: 'grace', password: 'old password' });
      await accounts.users.changePassword(uid, 'new password', { exceptDeviceId: current.device_id });
      expect(await accounts.users.checkPassword(uid, 'old password')).toBe(false);
      expect(await accounts.users.checkPassword(uid, 'new password')).toBe(true);
      expect(await accounts.devices.authenticate(current.access_token)).not.toBeNull();
      expect(await accounts.devices.authenticate(other.access_token)).toBeNull();
      expect((await accounts.devices.listDevices(uid)).map((d) => d.device_id)).toEqual([current.device_id]);
    });

    it('keeps other devices when logoutDevices is false', async () => {
      const { userId: uid } = await accounts.users.register({ localpart: 'heidi', password: 'pw1' });
      const a = await accounts.users.login({ user: 'heidi', password: 'pw1' });
      const b = await accounts.users.login({ user: 'heidi', password: 'pw1' });
      await accounts.users.changePassword(uid, 'pw2', { logoutDevices: false, exceptDeviceId: a.device_id });
      expect(await accounts.devices.authenticate(b.access_token)).not.toBeNull();
    });

    it('rejects a weak new password and password changes of guests', async () => {
      expect(await caught(() => accounts.users.changePassword(userId, ''))).toMatchObject({ errcode: 'M_WEAK_PASSWORD' });
      const guest = await accounts.users.register({ kind: 'guest' });
      expect(await caught(() => accounts.users.changePassword(guest.userId, 'something'))).toMatchObject({ errcode: 'M_FORBIDDEN' });
    });
  });

  describe('deactivate', () => {
    it('erases the password and profile, removes devices and tokens, and blocks login for good', async () => {
      const { userId } = await accounts.users.register({ localpart: 'ivan', password: 'secret', displayName: 'Ivan' });
      const login = await accounts.users.login({ user: 'ivan', password: 'secret' });
      // Put the token in the cache first: deactivation must still end it.
      expect(await accounts.devices.authenticate(login.access_token)).not.toBeNull();
      await accounts.accountData.setGlobalAccountData(userId, 'org.example.kept', { a: 1 });
      await accounts.users.deactivate(userId);

      expect(await accounts.devices.authenticate(login.access_token)).toBeNull();
      expect(await accounts.devices.listDevices(userId)).toEqual([]);
      const user = await accounts.users.requireUser(userId);
      expect(user).toMatchObject({ deactivated: true, hasPassword: false });
      expect(await accounts.profiles.getProfile(userId)).toEqual({});
      expect(await caught(() => accounts.users.login({ user: 'ivan', password: 'secret' }))).toMatchObject({
        errcode: 'M_USER_DEACTIVATED',
        httpStatus: 403,
      });
      expect(await accounts.users.checkPassword(userId, 'secret')).toBe(false);
      // The name stays taken.
      expect(await caught(() => accounts.users.register({ localpart: 'ivan', password: 'x' }))).toMatchObject({ errcode: 'M_USER_IN_USE' });
      // Without erase, account data stays.
      expect(await accounts.accountData.getGlobalAccountData(userId, 'org.example.kept')).toEqual({ a: 1 });
      const tokens = await db.pool.oneFirst(sql.type(z.object({ n: z.number() }))`
        SELECT count(*)::int AS n FROM accounts.access_tokens WHERE user_id = ${userId}`);
      expect(tokens).toBe(0);
    });

    it('with erase also deletes account data and filters', async () => {
      const { userId } = await accounts.users.register({ localpart: 'judy', password: 'secret' });
      await accounts.accountData.setGlobalAccountData(userId, 'org.example.gone', { a: 1 });
      const filterId = await accounts.filters.createFilter(userId, { room: { timeline: { limit: 5 } } });
      await accounts.users.deactivate(userId, { erase: true });
      expect(await caught(() => accounts.accountData.getGlobalAccountData(userId, 'org.example.gone'))).toMatchObject({ errcode: 'M_NOT_FOUND' });
      expect(await caught(() => accounts.filters.getFilter(userId, filterId))).toMatchObject({ errcode: 'M_NOT_FOUND' });
    });

    it('answers M_NOT_FOUND for an unknown user', async () => {
      expect(await caught(() => accounts.users.deactivate(`@ghost:${SERVER_NAME}`))).toMatchObject({ errcode: 'M_NOT_FOUND' });
    });
  });

  it('announces registrations and deactivations', async () => {
    const seen: string[] = [];
    const subscription = accounts.users.changes.subscribe((change) => seen.push(`${change.change} ${change.userId}`));
    const { userId } = await accounts.users.register({ localpart: 'ken', password: 'pw' });
    await accounts.users.deactivate(userId);
    subscription.unsubscribe();
    expect(seen).toEqual([`registered ${userId}`, `deactivated ${userId}`]);
  });

  it('never stores access tokens, only their SHA-256', async () => {
    const { userId } = await accounts.users.register({ localpart: 'leo', password: 'pw' });
    const login = await accounts.devices.issueAccessToken(userId);
    const stored = await db.pool.any(sql.type(z.object({ token_hash: z.string() }))`
      SELECT token_hash FROM accounts.access_tokens WHERE user_id = ${userId}`);
    expect(stored.map((row) => row.token_hash)).toEqual([createHash('sha256').update(login.access_token).digest('hex')]);
    const leaked = await db.pool.exists(sql.unsafe`
      SELECT 1 FROM accounts.access_tokens WHERE token_hash = ${login.access_token} OR token_hash LIKE ${'%' + login.access_token.slice(-20) + '%'}`);
    expect(leaked).toBe(false);
  });
});
