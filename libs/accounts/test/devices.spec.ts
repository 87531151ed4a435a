import { z } from 'zod';
import { Accounts, AccountsError, DeviceChange, hashAccessToken, sql } from './imports';
import { caught, ManualClock, SERVER_NAME, TestDatabase, testAccounts, useTestAccounts } from './harness';

describe('DeviceService', () => {
  let db: TestDatabase;
  let clock: ManualClock;
  let accounts: Accounts;
  let n = 0;

  /** A fresh user for each test. */
  async function newUser(): Promise<string> {
    n += 1;
    return (await accounts.users.register({ localpart: `user${String.fromCharCode(97 + (n % 26))}${n}x`, password: 'pw' })).userId;
  }

  useTestAccounts({ accessTokenCacheTtlMs: 60_000 }, (opened) => ({ db, clock, accounts } = opened));

  describe('createDevice', () => {
    it('creates a device with a generated id, or with the given id and display name', async () => {
      const userId = await newUser();
      const generated = await accounts.devices.createDevice(userId);
      expect(generated.created).toBe(true);
      expect(generated.deviceId).toMatch(/^[A-Z]{10}$/);
      const named = await accounts.devices.createDevice(userId, 'LAPTOP', 'My laptop');
      expect(named).toEqual({ deviceId: 'LAPTOP', created: true });
      expect(await accounts.devices.getDevice(userId, 'LAPTOP')).toEqual({ device_id: 'LAPTOP', display_name: 'My laptop' });
    });

    it('keeps an existing device as it is', async () => {
      const userId = await newUser();
      await accounts.devices.createDevice(userId, 'KEEP', 'First');
      expect(await accounts.devices.createDevice(userId, 'KEEP', 'Second')).toEqual({ deviceId: 'KEEP', created: false });
      expect(await accounts.devices.getDevice(userId, 'KEEP')).toMatchObject({ display_name: 'First' });
    });

    it('rejects bad device ids and display names with M_INVALID_PARAM', async () => {
      const userId = await newUser();
      expect(await caught(() => accounts.devices.createDevice(userId, ''))).toMatchObject({ errcode: 'M_INVALID_PARAM' });
      expect(await caught(() => accounts.devices.createDevice(userId, 'A\nB'))).toMatchObject({ errcode: 'M_INVALID_PARAM' });
      expect(await caught(() => accounts.devices.createDevice(userId, 'OK', 'n'.repeat(101)))).toMatchObject({ errcode: 'M_INVALID_PARAM' });
    });
  });

  describe('access tokens', () => {
    it('issues tokens that authenticate as their user and device', async () => {
      const userId = await newUser();
      const login = await accounts.devices.issueAccessToken(userId, { initialDisplayName: 'Web' });
      expect(login.user_id).toBe(userId);
      expect(login.access_token.startsWith('syt_')).toBe(true);
      expect(await accounts.devices.authenticate(login.access_token)).toEqual({ userId, deviceId: login.device_id, isGuest: false });
      expect(await accounts.devices.requireUser(login.access_token)).toEqual({ userId, deviceId: login.device_id, isGuest: false });
    });

    it('answers null (and M_UNKNOWN_TOKEN from requireUser) for unknown tokens', async () => {
      expect(await accounts.devices.authenticate('syt_nope')).toBeNull();
      expect(await accounts.devices.authenticate('')).toBeNull();
      const error = await caught(() => accounts.devices.requireUser('syt_nope'));
      expect(error).toBeInstanceOf(AccountsError);
      expect((error as AccountsError).toJSON()).toEqual({ errcode: 'M_UNKNOWN_TOKEN', error: 'Unknown access token', soft_logout: false });
      expect((error as AccountsError).httpStatus).toBe(401);
    });

    it('stores only the hash, and serves repeated lookups from the cache until its entries expire', async () => {
      const userId = await newUser();
      const login = await accounts.devices.issueAccessToken(userId);
      const stored = await db.pool.oneFirst(sql.type(z.object({ token_hash: z.string() }))`
        SELECT token_hash FROM accounts.access_tokens WHERE user_id = ${userId}`);
      expect(stored).toBe(hashAccessToken(login.access_token));
      expect(await accounts.devices.authenticate(login.access_token)).not.toBeNull();
      // Remove the row behind the service's back: the cached answer still stands...
      await db.pool.query(sql.unsafe`DELETE FROM accounts.access_tokens WHERE user_id = ${userId}`);
      expect(await accounts.devices.authenticate(login.access_token)).not.toBeNull();
      // ...until the entry's time to live has passed.
      clock.advance(60_001);
      expect(await accounts.devices.authenticate(login.access_token)).toBeNull();
    });

    it('logout deletes the token and its device, even when the token was cached', async () => {
      const userId = await newUser();
      const keep = await accounts.devices.issueAccessToken(userId);
      const login = await accounts.devices.issueAccessToken(userId);
      expect(await accounts.devices.authenticate(login.access_token)).not.toBeNull();
      expect(await accounts.devices.logout(login.access_token)).toBe(true);
      expect(await accounts.devices.authenticate(login.access_token)).toBeNull();
      expect(await caught(() => accounts.devices.getDevice(userId, login.device_id))).toMatchObject({ errcode: 'M_NOT_FOUND' });
      expect(await accounts.devices.authenticate(keep.access_token)).not.toBeNull();
      expect(await accounts.devices.logout(login.access_token)).toBe(false);
    });

    it('logoutAll ends every token and device of the user only', async () => {
      const userId = await newUser();
      const other = await newUser();
      const a = await accounts.devices.issueAccessToken(userId);
      const b = await accounts.devices.issueAccessToken(userId);
      const c = await accounts.devices.issueAccessToken(other);
      await accounts.devices.authenticate(a.access_token);
      await accounts.devices.logoutAll(userId);
      expect(await accounts.devices.authenticate(a.access_token)).toBeNull();
      expect(await accounts.devices.authenticate(b.access_token)).toBeNull();
      expect(await accounts.devices.listDevices(userId)).toEqual([]);
      expect(await accounts.devices.authenticate(c.access_token)).not.toBeNull();
    });
  });

  describe('device management', () => {
    it('lists, renames and deletes devices', async () => {
      const userId = await newUser();
      await accounts.devices.createDevice(userId, 'AAA', 'one');
      await accounts.devices.createDevice(userId, 'BBB');
      expect(await accounts.devices.listDevices(userId)).toEqual([{ device_id: 'AAA', display_name: 'one' }, { device_id: 'BBB' }]);
      await accounts.devices.updateDevice(userId, 'BBB', 'two');
      expect(await accounts.devices.getDevice(userId, 'BBB')).toEqual({ device_id: 'BBB', display_name: 'two' });
      await accounts.devices.updateDevice(userId, 'BBB', null);
      expect(await accounts.devices.getDevice(userId, 'BBB')).toEqual({ device_id: 'BBB' });
      await accounts.devices.deleteDevice(userId, 'AAA');
      expect((await accounts.devices.listDevices(userId)).map((d) => d.device_id)).toEqual(['BBB']);
    });

    it('answers M_NOT_FOUND for devices that are not the user\'s', async () => {
      const userId = await newUser();
      const other = await newUser();
      await accounts.devices.createDevice(other, 'THEIRS');
      expect(await caught(() => accounts.devices.getDevice(userId, 'THEIRS'))).toMatchObject({ errcode: 'M_NOT_FOUND', httpStatus: 404 });
      expect(await caught(() => accounts.devices.updateDevice(userId, 'THEIRS', 'x'))).toMatchObject({ errcode: 'M_NOT_FOUND' });
      expect(await caught(() => accounts.devices.deleteDevice(userId, 'THEIRS'))).toMatchObject({ errcode: 'M_NOT_FOUND' });
      expect(await accounts.devices.getDevice(other, 'THEIRS')).toEqual({ device_id: 'THEIRS' });
    });

    it('deleting a device deletes its tokens; bulk deletion ignores unknown ids', async () => {
      const userId = await newUser();
      const a = await accounts.devices.issueAccessToken(userId, { deviceId: 'DA' });
      const b = await accounts.devices.issueAccessToken(userId, { deviceId: 'DB' });
      const c = await accounts.devices.issueAccessToken(userId, { deviceId: 'DC' });
      await accounts.devices.authenticate(a.access_token);
      expect((await accounts.devices.deleteDevices(userId, ['DA', 'DB', 'NOPE'])).sort()).toEqual(['DA', 'DB']);
      expect(await accounts.devices.authenticate(a.access_token)).toBeNull();
      expect(await accounts.devices.authenticate(b.access_token)).toBeNull();
      expect(await accounts.devices.authenticate(c.access_token)).not.toBeNull();
      expect(await accounts.devices.deleteDevices(userId, [])).toEqual([]);
    });

    it('deleteAllDevices can spare the current device', async () => {
      const userId = await newUser();
      const current = await accounts.devices.issueAccessToken(userId);
      await accounts.devices.issueAccessToken(userId);
      await accounts.devices.issueAccessToken(userId);
      const deleted = await accounts.devices.deleteAllDevices(userId, { exceptDeviceId: current.device_id });
      expect(deleted).toHaveLength(2);
      expect((await accounts.devices.listDevices(userId)).map((d) => d.device_id)).toEqual([current.device_id]);
    });

    it('announces created, updated and deleted devices', async () => {
      const userId = await newUser();
      const changes: DeviceChange[] = [];
      const subscription = accounts.devices.changes.subscribe((change) => changes.push(change));
      const first = await accounts.devices.issueAccessToken(userId, { deviceId: 'EVT' });
      const again = await accounts.devices.issueAccessToken(userId, { deviceId: 'EVT' });
      await accounts.devices.updateDevice(userId, 'EVT', 'named');
      // The first token was replaced, so logging out with it changes nothing.
      expect(await accounts.devices.logout(first.access_token)).toBe(false);
      expect(await accounts.devices.logout(again.access_token)).toBe(true);
      subscription.unsubscribe();
      expect(changes.filter((c) => c.userId === userId).map((c) => `${c.change} ${c.deviceId}`)).toEqual([
        'created EVT',
        'updated EVT',
        'deleted EVT',
      ]);
    });
  });

  describe('last seen', () => {
    it('buffers sightings in memory and writes them on flush', async () => {
      const userId = await newUser();
      const login = await accounts.devices.issueAccessToken(userId, { deviceId: 'SEEN' });
      const auth = await accounts.devices.requireUser(login.access_token);
      clock.advance(1000);
      accounts.devices.recordLastSeen(auth, '10.0.0.1', 'agent/1');
      clock.advance(1000);
      accounts.devices.recordLastSeen(auth, '10.0.0.2', 'agent/2');
      const row = z.object({ last_seen_ip: z.string().nullable(), last_seen_ts: z.number().nullable(), last_seen_user_agent: z.string().nullable() });
      const before = await db.pool.one(sql.type(row)`
        SELECT last_seen_ip, last_seen_ts::float8 AS last_seen_ts, last_seen_user_agent FROM accounts.devices
        WHERE user_id = ${userId} AND device_id = 'SEEN'`);
      expect(before).toEqual({ last_seen_ip: null, last_seen_ts: null, last_seen_user_agent: null });
      // Reads already see the buffered sighting.
      expect(await accounts.devices.getDevice(userId, 'SEEN')).toEqual({ device_id: 'SEEN', last_seen_ip: '10.0.0.2', last_seen_ts: clock.now });

      await accounts.devices.flushLastSeen();
      const after = await db.pool.one(sql.type(row)`
        SELECT last_seen_ip, last_seen_ts::float8 AS last_seen_ts, last_seen_user_agent FROM accounts.devices
        WHERE user_id = ${userId} AND device_id = 'SEEN'`);
      expect(after).toEqual({ last_seen_ip: '10.0.0.2', last_seen_ts: clock.now, last_seen_user_agent: 'agent/2' });
      expect(await accounts.devices.listDevices(userId)).toEqual([{ device_id: 'SEEN', last_seen_ip: '10.0.0.2', last_seen_ts: clock.now }]);
    });

    it('writes many devices in one flush and never moves last_seen_ts backwards', async () => {
      const userId = await newUser();
      const ids = ['L1', 'L2', 'L3', 'L4'];
      for (const id of ids) await accounts.devices.createDevice(userId, id);
      const seenAt = clock.now;
      for (const id of ids) accounts.devices.recordLastSeen({ userId, deviceId: id }, `192.0.2.${id.slice(1)}`);
      await accounts.devices.flushLastSeen();
      const devices = await accounts.devices.listDevices(userId);
      expect(devices.map((d) => [d.device_id, d.last_seen_ip, d.last_seen_ts])).toEqual(ids.map((id) => [id, `192.0.2.${id.slice(1)}`, seenAt]));

      const older = new ManualClock(seenAt - 5000);
      const stale = testAccounts(db.pool, older);
      stale.devices.recordLastSeen({ userId, deviceId: 'L1' }, '198.51.100.1');
      await stale.devices.flushLastSeen();
      await stale.close();
      expect(await accounts.devices.getDevice(userId, 'L1')).toMatchObject({ last_seen_ip: '192.0.2.1', last_seen_ts: seenAt });
    });

    it('close flushes what is buffered', async () => {
      const userId = await newUser();
      await accounts.devices.createDevice(userId, 'CLOSE');
      const other = testAccounts(db.pool, clock);
      other.devices.startLastSeenFlusher();
      other.devices.recordLastSeen({ userId, deviceId: 'CLOSE' }, '203.0.113.9');
      await other.close();
      expect(await accounts.devices.getDevice(userId, 'CLOSE')).toMatchObject({ last_seen_ip: '203.0.113.9' });
    });
  });

  it('uses the configured server name in generated user ids', () => {
    expect(accounts.users.userIdFor('x')).toBe(`@x:${SERVER_NAME}`);
  });
});
