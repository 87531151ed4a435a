import { openTestDatabase, type TestDatabase } from '@hs/persistence';
import { crossSigningKey, crossSigningKeys, deviceKeys, signed, testKey, type Signable } from '../../test/signing-keys';
import { sql } from '../db';
import { DeviceKeysService, type E2eeChange } from '../device-keys.service';
import { E2eeError } from '../errors';
import { CrossSigningService } from './cross-signing.service';

/** The error `promise` rejects with (failing when it resolves). */
async function refusal(promise: Promise<unknown>): Promise<E2eeError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof E2eeError) return error;
    throw error;
  }
  throw new Error('expected an E2eeError');
}

describe('CrossSigningService', () => {
  let database: TestDatabase;
  let keys: DeviceKeysService;
  let crossSigning: CrossSigningService;
  const announced: E2eeChange[] = [];
  let users = 0;
  /** A user no other test touches. */
  const newUser = () => `@xsign${++users}:test`;
  const noAuth = () => Promise.reject(new Error('authentication was asked for'));
  const upload = (userId: string, body: Signable, authorise: () => Promise<void> = noAuth) => crossSigning.uploadKeys(userId, body, authorise);
  /** A device of the user with device keys signed by its own ed25519 key. */
  const device = async (userId: string, deviceId: string) => {
    const key = testKey();
    const keysObject = deviceKeys(userId, deviceId, key);
    await keys.upload(userId, deviceId, { device_keys: keysObject });
    return { key, keys: keysObject };
  };
  const queried = async (requester: string, userId: string) => {
    const deviceKeysOf = await keys.deviceKeys(new Map([[userId, []]]));
    await crossSigning.addSignatures(deviceKeysOf);
    return { ...(await crossSigning.crossSigningKeys(requester, [userId])), device_keys: deviceKeysOf[userId] as Record<string, Signable> };
  };

  beforeAll(async () => {
    database = await openTestDatabase('hs_e2ee_xsign_test', 4);
    keys = new DeviceKeysService(database.db.pool);
    keys.changes.subscribe((change) => announced.push(change));
    crossSigning = new CrossSigningService(database.db.pool, keys);
  });
  afterAll(async () => {
    keys?.close();
    await database?.close();
  });

  describe('uploading keys', () => {
    it('stores the first keys without authentication and shows the user-signing key to its owner alone', async () => {
      const alice = newUser();
      const bob = newUser();
      const { upload: body } = crossSigningKeys(alice);
      await upload(alice, body);
      const own = await crossSigning.crossSigningKeys(alice, [alice]);
      expect(own).toEqual({
        master_keys: { [alice]: body.master_key },
        self_signing_keys: { [alice]: body.self_signing_key },
        user_signing_keys: { [alice]: body.user_signing_key },
      });
      const seen = await crossSigning.crossSigningKeys(bob, [alice, bob]);
      expect(seen).toEqual({ master_keys: { [alice]: body.master_key }, self_signing_keys: { [alice]: body.self_signing_key }, user_signing_keys: {} });
      expect(await crossSigning.publicKeys(alice)).toEqual({ master_key: body.master_key, self_signing_key: body.self_signing_key });
      expect(await crossSigning.publicKeys(bob)).toEqual({});
    });

    it('accepts the same keys again without authentication, and asks for it to replace them', async () => {
      const alice = newUser();
      const first = crossSigningKeys(alice);
      await upload(alice, first.upload);
      await upload(alice, first.upload);
      await upload(alice, { master_key: first.upload.master_key });

      const second = crossSigningKeys(alice);
      const refused = new Error('no password');
      await expect(upload(alice, second.upload, () => Promise.reject(refused))).rejects.toBe(refused);
      expect((await crossSigning.crossSigningKeys(alice, [alice])).master_keys[alice]).toEqual(first.upload.master_key);

      let asked = 0;
      await upload(alice, second.upload, () => Promise.resolve(void asked++));
      expect(asked).toBe(1);
      expect(await crossSigning.crossSigningKeys(alice, [alice])).toEqual({
        master_keys: { [alice]: second.upload.master_key },
        self_signing_keys: { [alice]: second.upload.self_signing_key },
        user_signing_keys: { [alice]: second.upload.user_signing_key },
      });
    });

    it('checks self-signing and user-signing keys against the master key of the upload or the one held', async () => {
      const alice = newUser();
      const { master, upload: body } = crossSigningKeys(alice);
      const noMaster = await refusal(upload(alice, { self_signing_key: body.self_signing_key }));
      expect([noMaster.errcode, noMaster.httpStatus]).toEqual(['M_MISSING_PARAM', 400]);

      const unsignedKey = await refusal(upload(alice, { master_key: body.master_key, self_signing_key: crossSigningKey(alice, 'self_signing', testKey()) }));
      expect(unsignedKey.errcode).toBe('M_INVALID_SIGNATURE');
      const otherKey = testKey();
      const wrongSigner = signed(crossSigningKey(alice, 'self_signing', otherKey), alice, otherKey, `ed25519:${master.publicKey}`);
      expect((await refusal(upload(alice, { master_key: body.master_key, self_signing_key: wrongSigner }))).errcode).toBe('M_INVALID_SIGNATURE');
      const tampered = { ...body.self_signing_key, usage: ['self_signing', 'extra'] };
      expect((await refusal(upload(alice, { master_key: body.master_key, self_signing_key: tampered }))).errcode).toBe('M_INVALID_SIGNATURE');

      // Signed by the master key held: accepted alone (a new key beside a master key: authentication).
      await upload(alice, { master_key: body.master_key });
      let asked = 0;
      await upload(alice, { self_signing_key: body.self_signing_key }, () => Promise.resolve(void asked++));
      expect(asked).toBe(1);
      expect((await crossSigning.crossSigningKeys(alice, [alice])).self_signing_keys[alice]).toEqual(body.self_signing_key);
    });

    it('refuses keys of another user, with the wrong usage or not exactly one ed25519 key', async () => {
      const alice = newUser();
      const key = testKey();
      const cases: [Signable, string][] = [
        [{ master_key: crossSigningKey(newUser(), 'master', key) }, 'M_INVALID_PARAM'],
        [{ master_key: crossSigningKey(alice, 'self_signing', key) }, 'M_INVALID_PARAM'],
        [{ master_key: { ...crossSigningKey(alice, 'master', key), usage: 'master' } }, 'M_BAD_JSON'],
        [{ master_key: { ...crossSigningKey(alice, 'master', key), keys: {} } }, 'M_INVALID_PARAM'],
        [{ master_key: { ...crossSigningKey(alice, 'master', key), keys: { [`ed25519:${key.publicKey}`]: key.publicKey, 'ed25519:other': 'other' } } }, 'M_INVALID_PARAM'],
        [{ master_key: { ...crossSigningKey(alice, 'master', key), keys: { 'ed25519:abc': 'abc' } } }, 'M_INVALID_PARAM'],
        [{ master_key: { ...crossSigningKey(alice, 'master', key), keys: { 'curve25519:x': 'x' } } }, 'M_INVALID_PARAM'],
        [{ master_key: 'not an object' }, 'M_BAD_JSON'],
      ];
      for (const [body, errcode] of cases) expect({ body, errcode: (await refusal(upload(alice, body))).errcode }).toEqual({ body, errcode });
      expect(await crossSigning.crossSigningKeys(alice, [alice])).toEqual({ master_keys: {}, self_signing_keys: {}, user_signing_keys: {} });
    });

    it('refuses a public key that is the id of one of the user’s devices', async () => {
      const alice = newUser();
      const key = testKey();
      await database.db.pool.query(sql.unsafe`
        INSERT INTO accounts.users (user_id, localpart, kind, created_ts) VALUES (${alice}, ${alice.slice(1, alice.indexOf(':'))}, 'user', 0)`);
      await database.db.pool.query(sql.unsafe`
        INSERT INTO accounts.devices (user_id, device_id, created_ts) VALUES (${alice}, ${key.publicKey}, 0)`);
      const clash = await refusal(upload(alice, { master_key: crossSigningKey(alice, 'master', key) }));
      expect([clash.errcode, clash.httpStatus]).toEqual(['M_FORBIDDEN', 403]);
    });

    it('records a device list change for new master and self-signing keys, none for a user-signing key alone', async () => {
      const alice = newUser();
      const { upload: body, master } = crossSigningKeys(alice);
      let before = await keys.position();
      announced.length = 0;
      await upload(alice, { master_key: body.master_key, self_signing_key: body.self_signing_key });
      let after = await keys.position();
      expect(await keys.usersChanged(before, after)).toEqual([alice]);
      expect(announced).toEqual([{ kind: 'device_list', userIds: [alice], position: after }]);

      before = after;
      announced.length = 0;
      const userSigning = signed(crossSigningKey(alice, 'user_signing', testKey()), alice, master);
      await upload(alice, { user_signing_key: userSigning }, () => Promise.resolve());
      after = await keys.position();
      expect(await keys.usersChanged(before, after)).toEqual([]);
      expect(announced).toEqual([]);
      // The same keys again: no change.
      await upload(alice, { master_key: body.master_key, self_signing_key: body.self_signing_key });
      expect(await keys.position()).toBe(after);
    });
  });

  describe('uploading signatures', () => {
    it('stores the self-signing key’s signature on a device and shows it on the device keys', async () => {
      const alice = newUser();
      const { upload: body, selfSigning } = crossSigningKeys(alice);
      await upload(alice, body);
      const dev = await device(alice, 'DEVA');
      const before = await keys.position();
      const signature = signed(dev.keys, alice, selfSigning);
      expect(await crossSigning.uploadSignatures(alice, { [alice]: { DEVA: signature } })).toEqual({ failures: {} });
      const after = await keys.position();
      expect(await keys.usersChanged(before, after)).toEqual([alice]);
      const seen = await queried(newUser(), alice);
      expect(seen.device_keys.DEVA.signatures).toEqual(signature.signatures);
    });

    it('names each refused object in failures and stores the others', async () => {
      const alice = newUser();
      const bob = newUser();
      const { upload: body, selfSigning } = crossSigningKeys(alice);
      await upload(alice, body);
      const good = await device(alice, 'GOOD');
      const other = await device(alice, 'OTHER');
      const changed = await device(alice, 'CHANGED');
      const plain = await device(alice, 'PLAIN');
      const forged = signed(other.keys, alice, testKey(), `ed25519:${selfSigning.publicKey}`);
      const altered = signed({ ...changed.keys, algorithms: ['m.other'] }, alice, selfSigning);
      const bobs = await device(bob, 'BOBDEV');
      const result = await crossSigning.uploadSignatures(alice, {
        [alice]: {
          GOOD: signed(good.keys, alice, selfSigning),
          OTHER: forged,
          CHANGED: altered,
          MISSING: signed({ ...good.keys, device_id: 'MISSING' }, alice, selfSigning),
          PLAIN: plain.keys,
          BROKEN: 'not an object',
          [selfSigning.publicKey]: signed(body.self_signing_key, alice, selfSigning),
        },
        [bob]: { BOBDEV: signed(bobs.keys, alice, selfSigning) },
      });
      expect(result.failures).toEqual({
        [alice]: {
          OTHER: { errcode: 'M_INVALID_SIGNATURE', error: expect.any(String) },
          CHANGED: { errcode: 'M_INVALID_PARAM', error: expect.any(String) },
          MISSING: { errcode: 'M_NOT_FOUND', error: expect.any(String) },
          PLAIN: { errcode: 'M_INVALID_SIGNATURE', error: expect.any(String) },
          BROKEN: { errcode: 'M_BAD_JSON', error: expect.any(String) },
          [selfSigning.publicKey]: { errcode: 'M_INVALID_PARAM', error: expect.any(String) },
        },
        [bob]: { BOBDEV: { errcode: 'M_NOT_FOUND', error: expect.any(String) } },
      });
      const seen = await queried(alice, alice);
      expect(Object.keys(seen.device_keys.GOOD.signatures[alice]).sort()).toEqual([`ed25519:${selfSigning.publicKey}`, 'ed25519:GOOD'].sort());
      expect(Object.keys(seen.device_keys.OTHER.signatures[alice])).toEqual(['ed25519:OTHER']);
      expect(Object.keys(seen.device_keys.CHANGED.signatures[alice])).toEqual(['ed25519:CHANGED']);
    });

    it('refuses device signatures without a self-signing key', async () => {
      const alice = newUser();
      const dev = await device(alice, 'DEV');
      const result = await crossSigning.uploadSignatures(alice, { [alice]: { DEV: signed(dev.keys, alice, testKey()) } });
      expect(result.failures[alice].DEV.errcode).toBe('M_NOT_FOUND');
    });

    it('stores devices’ signatures on the master key, shown to everyone', async () => {
      const alice = newUser();
      const { upload: body, master } = crossSigningKeys(alice);
      await upload(alice, body);
      const dev = await device(alice, 'MDEV');
      const byDevice = signed(body.master_key, alice, dev.key, 'ed25519:MDEV');
      expect(await crossSigning.uploadSignatures(alice, { [alice]: { [master.publicKey]: byDevice } })).toEqual({ failures: {} });
      expect((await crossSigning.crossSigningKeys(newUser(), [alice])).master_keys[alice].signatures).toEqual(byDevice.signatures);

      const byUnknown = signed(body.master_key, alice, testKey(), 'ed25519:NODEVICE');
      const forged = signed(body.master_key, alice, testKey(), 'ed25519:MDEV');
      const result = await crossSigning.uploadSignatures(alice, { [alice]: { [master.publicKey]: byUnknown } });
      expect(result.failures[alice][master.publicKey].errcode).toBe('M_NOT_FOUND');
      expect((await crossSigning.uploadSignatures(alice, { [alice]: { [master.publicKey]: forged } })).failures[alice][master.publicKey].errcode).toBe('M_INVALID_SIGNATURE');
      expect((await crossSigning.uploadSignatures(alice, { [alice]: { [master.publicKey]: body.master_key } })).failures[alice][master.publicKey].errcode).toBe('M_INVALID_SIGNATURE');
    });

    it('stores a user-signing key’s signature on another user’s master key, shown to the signer alone', async () => {
      const alice = newUser();
      const bob = newUser();
      const carol = newUser();
      const aliceKeys = crossSigningKeys(alice);
      const bobKeys = crossSigningKeys(bob);
      await upload(alice, aliceKeys.upload);
      await upload(bob, bobKeys.upload);
      const before = await keys.position();
      const signature = signed(bobKeys.upload.master_key, alice, aliceKeys.userSigning);
      expect(await crossSigning.uploadSignatures(alice, { [bob]: { [bobKeys.master.publicKey]: signature } })).toEqual({ failures: {} });
      expect(await keys.usersChanged(before, await keys.position())).toEqual([bob]);
      expect((await crossSigning.crossSigningKeys(alice, [bob])).master_keys[bob].signatures).toEqual(signature.signatures);
      expect((await crossSigning.crossSigningKeys(bob, [bob])).master_keys[bob].signatures).toBeUndefined();
      expect((await crossSigning.crossSigningKeys(carol, [bob])).master_keys[bob].signatures).toBeUndefined();
      expect((await crossSigning.publicKeys(bob)).master_key?.signatures).toBeUndefined();

      // Only master keys of other users, by the user-signing key.
      const bySelfSigning = signed(bobKeys.upload.master_key, alice, aliceKeys.selfSigning);
      const bobDevice = await device(bob, 'BOBD');
      const result = await crossSigning.uploadSignatures(alice, {
        [bob]: { [bobKeys.master.publicKey]: bySelfSigning, [bobKeys.selfSigning.publicKey]: signed(bobKeys.upload.self_signing_key, alice, aliceKeys.userSigning), BOBD: signed(bobDevice.keys, alice, aliceKeys.userSigning) },
        [carol]: { anything: signed(crossSigningKey(carol, 'master', testKey()), alice, aliceKeys.userSigning) },
      });
      expect(result.failures[bob][bobKeys.master.publicKey].errcode).toBe('M_INVALID_SIGNATURE');
      expect(result.failures[bob][bobKeys.selfSigning.publicKey].errcode).toBe('M_NOT_FOUND');
      expect(result.failures[bob].BOBD.errcode).toBe('M_NOT_FOUND');
      expect(result.failures[carol].anything.errcode).toBe('M_NOT_FOUND');
    });

    it('drops the signatures of a replaced key and those on device keys that changed', async () => {
      const alice = newUser();
      const first = crossSigningKeys(alice);
      await upload(alice, first.upload);
      const dev = await device(alice, 'REPL');
      await crossSigning.uploadSignatures(alice, { [alice]: { REPL: signed(dev.keys, alice, first.selfSigning) } });
      expect(Object.keys((await queried(alice, alice)).device_keys.REPL.signatures[alice])).toHaveLength(2);
      const second = crossSigningKeys(alice);
      await upload(alice, second.upload, () => Promise.resolve());
      expect(Object.keys((await queried(alice, alice)).device_keys.REPL.signatures[alice])).toEqual(['ed25519:REPL']);

      // The device goes and comes back with other keys: the old signature does not apply to them.
      await crossSigning.uploadSignatures(alice, { [alice]: { REPL: signed(dev.keys, alice, second.selfSigning) } });
      await database.db.pool.transaction((tx) => keys.devicesDeleted(tx, alice, ['REPL']));
      await device(alice, 'REPL');
      expect(Object.keys((await queried(alice, alice)).device_keys.REPL.signatures[alice])).toEqual(['ed25519:REPL']);
    });

    it('refuses a body that does not map users to objects, and too many objects', async () => {
      const alice = newUser();
      expect((await refusal(crossSigning.uploadSignatures(alice, { [alice]: 'x' }))).errcode).toBe('M_BAD_JSON');
      const many: Signable = {};
      for (let i = 0; i <= 1000; i++) many[`D${i}`] = {};
      expect((await refusal(crossSigning.uploadSignatures(alice, { [alice]: many }))).errcode).toBe('M_TOO_LARGE');
    });
  });
});
