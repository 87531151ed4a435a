import { openTestDatabase, type TestDatabase } from '@hs/persistence';
import { KeyBackupData, KeyBackupError, KeyBackupService, MAX_BACKUP_DATA_BYTES } from './key-backup.service';

const ALGORITHM = 'm.megolm_backup.v1.curve25519-aes-sha2';
const AUTH_DATA = { public_key: 'abcdefg', signatures: { '@alice:test': { 'ed25519:DEV': 'sig' } } };
const ROOM = '!room:test';

function key(firstMessageIndex: number, forwardedCount = 0, isVerified = false, mark = 'data'): KeyBackupData {
  return {
    first_message_index: firstMessageIndex,
    forwarded_count: forwardedCount,
    is_verified: isVerified,
    session_data: { ephemeral: 'e', ciphertext: mark, mac: 'm' },
  };
}

/** The error `promise` rejects with (failing when it resolves). */
async function refusal(promise: Promise<unknown>): Promise<KeyBackupError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof KeyBackupError) return error;
    throw error;
  }
  throw new Error('expected a KeyBackupError');
}

describe('KeyBackupService', () => {
  let database: TestDatabase;
  let backups: KeyBackupService;
  let users = 0;
  /** A user no other test touches. */
  const newUser = () => `@user${++users}:test`;
  const create = (userId: string) => backups.createVersion(userId, { algorithm: ALGORITHM, auth_data: AUTH_DATA });

  beforeAll(async () => {
    database = await openTestDatabase('hs_e2ee_backup_test', 4);
    backups = new KeyBackupService(database.db.pool, () => 1_700_000_000_000);
  });
  afterAll(async () => {
    await database?.close();
  });

  describe('versions', () => {
    it('numbers versions per user, increasing, and answers the newest as current', async () => {
      const alice = newUser();
      const bob = newUser();
      expect(await create(alice)).toBe('1');
      expect(await create(alice)).toBe('2');
      expect(await create(bob)).toBe('1');
      expect(await backups.getVersion(alice)).toEqual({ algorithm: ALGORITHM, auth_data: AUTH_DATA, count: 0, etag: '0', version: '2' });
      expect(await backups.getVersion(alice, '1')).toMatchObject({ version: '1', count: 0 });
      expect(await backups.getVersion(bob)).toMatchObject({ version: '1' });
    });

    it('answers M_NOT_FOUND without a current version, and for unknown or malformed versions', async () => {
      const alice = newUser();
      expect((await refusal(backups.getVersion(alice))).toJSON()).toEqual({ errcode: 'M_NOT_FOUND', error: 'No current backup version' });
      await create(alice);
      for (const version of ['2', '0', '01', 'bogus', '-1', '99999999999999999999']) {
        const error = await refusal(backups.getVersion(alice, version));
        expect({ version, errcode: error.errcode, httpStatus: error.httpStatus }).toEqual({ version, errcode: 'M_NOT_FOUND', httpStatus: 404 });
      }
    });

    it('creates more than 10 versions', async () => {
      const alice = newUser();
      for (let i = 1; i <= 12; i++) expect(await create(alice)).toBe(String(i));
      expect((await backups.getVersion(alice)).version).toBe('12');
    });

    it('updates auth_data when the algorithm and the body version match', async () => {
      const alice = newUser();
      const version = await create(alice);
      await backups.updateVersion(alice, version, { algorithm: ALGORITHM, auth_data: { public_key: 'new' }, version });
      expect(await backups.getVersion(alice, version)).toMatchObject({ auth_data: { public_key: 'new' }, algorithm: ALGORITHM });
      await backups.updateVersion(alice, version, { algorithm: ALGORITHM, auth_data: { public_key: 'newer' } });
      expect((await backups.getVersion(alice, version)).auth_data).toEqual({ public_key: 'newer' });

      const otherAlgorithm = await refusal(backups.updateVersion(alice, version, { algorithm: 'org.example.other', auth_data: {} }));
      expect(otherAlgorithm.toJSON()).toEqual({ errcode: 'M_INVALID_PARAM', error: 'Algorithm does not match' });
      const otherVersion = await refusal(backups.updateVersion(alice, version, { algorithm: ALGORITHM, auth_data: {}, version: '7' }));
      expect(otherVersion.errcode).toBe('M_INVALID_PARAM');
      expect((await refusal(backups.updateVersion(alice, '5', { algorithm: ALGORITHM, auth_data: {} }))).errcode).toBe('M_NOT_FOUND');
      expect((await backups.getVersion(alice, version)).auth_data).toEqual({ public_key: 'newer' });
    });

    it('deletes a version with its keys; the previous one becomes current; numbers are never reused', async () => {
      const alice = newUser();
      const first = await create(alice);
      const second = await create(alice);
      await backups.putSessionKey(alice, second, ROOM, 'session', key(1));
      await backups.deleteVersion(alice, second);
      expect((await backups.getVersion(alice)).version).toBe(first);
      expect((await refusal(backups.getVersion(alice, second))).errcode).toBe('M_NOT_FOUND');
      expect((await refusal(backups.getKeys(alice, second))).errcode).toBe('M_NOT_FOUND');
      expect((await refusal(backups.updateVersion(alice, second, { algorithm: ALGORITHM, auth_data: {} }))).errcode).toBe('M_NOT_FOUND');
      // Deleting a deleted version succeeds; one that never existed does not.
      await backups.deleteVersion(alice, second);
      expect((await refusal(backups.deleteVersion(alice, '3'))).errcode).toBe('M_NOT_FOUND');
      expect(await create(alice)).toBe('3');
      expect(await backups.getKeys(alice, '3')).toEqual({ rooms: {} });
    });

    it('keeps a deleted and recreated backup empty', async () => {
      const alice = newUser();
      const version = await create(alice);
      await backups.putSessionKey(alice, version, ROOM, 'session', key(3));
      await backups.deleteVersion(alice, version);
      expect((await refusal(backups.getVersion(alice))).errcode).toBe('M_NOT_FOUND');
      const next = await create(alice);
      expect(next).not.toBe(version);
      expect(await backups.getKeys(alice, next)).toEqual({ rooms: {} });
      expect(await backups.getVersion(alice)).toMatchObject({ version: next, count: 0 });
    });
  });

  describe('keys', () => {
    it('stores and reads keys at the three levels, with counts and changing etags', async () => {
      const alice = newUser();
      const version = await create(alice);
      const one = await backups.putSessionKey(alice, version, ROOM, 's1', key(1));
      expect(one).toEqual({ etag: expect.any(String), count: 1 });
      const room = await backups.putRoomKeys(alice, version, ROOM, { sessions: { s2: key(2), s3: key(3) } });
      expect(room.count).toBe(3);
      expect(room.etag).not.toBe(one.etag);
      const all = await backups.putKeys(alice, version, { rooms: { '!other:test': { sessions: { s1: key(4) } }, [ROOM]: { sessions: { s4: key(5) } } } });
      expect(all.count).toBe(5);
      expect(new Set([one.etag, room.etag, all.etag]).size).toBe(3);

      expect(await backups.getSessionKey(alice, version, ROOM, 's2')).toEqual(key(2));
      expect(await backups.getRoomKeys(alice, version, ROOM)).toEqual({ sessions: { s1: key(1), s2: key(2), s3: key(3), s4: key(5) } });
      expect(await backups.getKeys(alice, version)).toEqual({
        rooms: { [ROOM]: { sessions: { s1: key(1), s2: key(2), s3: key(3), s4: key(5) } }, '!other:test': { sessions: { s1: key(4) } } },
      });
      expect(await backups.getVersion(alice, version)).toMatchObject({ count: 5, etag: all.etag });
    });

    it('answers empty rooms and sessions, and M_NOT_FOUND for a missing session', async () => {
      const alice = newUser();
      const version = await create(alice);
      expect(await backups.getKeys(alice, version)).toEqual({ rooms: {} });
      expect(await backups.getRoomKeys(alice, version, '!notaroom')).toEqual({ sessions: {} });
      expect((await refusal(backups.getSessionKey(alice, version, '!notaroom', 'notasession'))).toJSON()).toEqual({
        errcode: 'M_NOT_FOUND',
        error: 'Key not found',
      });
      expect((await refusal(backups.getKeys(alice, 'bogusversion'))).errcode).toBe('M_NOT_FOUND');
    });

    it.each([
      ['a verified key replaces an unverified one', key(5, 3, false), key(9, 9, true), 'new'],
      ['an unverified key never replaces a verified one', key(9, 9, true), key(0, 0, false), 'old'],
      ['a lower first_message_index wins', key(2), key(1), 'new'],
      ['a higher first_message_index loses', key(2), key(3), 'old'],
      ['with the same index, a lower forwarded_count wins', key(2, 2), key(2, 1), 'new'],
      ['with the same index, a higher forwarded_count loses', key(2, 1), key(2, 2), 'old'],
      ['an equal key keeps the old one', key(2, 1, true, 'old'), key(2, 1, true, 'new'), 'old'],
    ])('%s', async (_rule, old, candidate, winner) => {
      const alice = newUser();
      const version = await create(alice);
      const marked = (data: KeyBackupData, mark: string) => ({ ...data, session_data: { mark } });
      const first = await backups.putSessionKey(alice, version, ROOM, 'session', marked(old, 'old'));
      const second = await backups.putSessionKey(alice, version, ROOM, 'session', marked(candidate, 'new'));
      const expected = winner === 'new' ? marked(candidate, 'new') : marked(old, 'old');
      expect(await backups.getSessionKey(alice, version, ROOM, 'session')).toEqual(expected);
      expect(second.count).toBe(1);
      // The etag changes only when the stored key did.
      expect(second.etag === first.etag).toBe(winner === 'old');
    });

    it('refuses keys for a version that is not the current one with M_WRONG_ROOM_KEYS_VERSION', async () => {
      const alice = newUser();
      const old = await create(alice);
      const current = await create(alice);
      const error = await refusal(backups.putSessionKey(alice, old, ROOM, 'session', key(1)));
      expect({ status: error.httpStatus, body: error.toJSON() }).toEqual({
        status: 403,
        body: { errcode: 'M_WRONG_ROOM_KEYS_VERSION', error: 'Wrong backup version.', current_version: current },
      });
      expect((await refusal(backups.putKeys(alice, '9', { rooms: {} }))).errcode).toBe('M_NOT_FOUND');
      expect((await refusal(backups.putKeys(alice, 'bogus', { rooms: {} }))).errcode).toBe('M_NOT_FOUND');
      // With every version deleted there is no current one: M_NOT_FOUND.
      await backups.deleteVersion(alice, current);
      await backups.deleteVersion(alice, old);
      expect((await refusal(backups.putRoomKeys(alice, current, ROOM, { sessions: {} }))).errcode).toBe('M_NOT_FOUND');
      expect((await refusal(backups.putRoomKeys(newUser(), '1', ROOM, { sessions: {} }))).errcode).toBe('M_NOT_FOUND');
    });

    it('deletes keys at the three levels, from any version not deleted', async () => {
      const alice = newUser();
      const version = await create(alice);
      await backups.putKeys(alice, version, {
        rooms: { [ROOM]: { sessions: { a: key(1), b: key(1), c: key(1) } }, '!two:test': { sessions: { a: key(1) } }, '!three:test': { sessions: { a: key(1) } } },
      });
      await create(alice);
      const before = await backups.getVersion(alice, version);
      const session = await backups.deleteKeys(alice, version, ROOM, 'a');
      expect(session.count).toBe(4);
      expect(session.etag).not.toBe(before.etag);
      const nothing = await backups.deleteKeys(alice, version, ROOM, 'a');
      expect(nothing).toEqual(session);
      expect((await backups.deleteKeys(alice, version, ROOM)).count).toBe(2);
      expect(await backups.getRoomKeys(alice, version, ROOM)).toEqual({ sessions: {} });
      expect((await backups.deleteKeys(alice, version)).count).toBe(0);
      expect(await backups.getKeys(alice, version)).toEqual({ rooms: {} });
      expect((await refusal(backups.deleteKeys(alice, '7'))).errcode).toBe('M_NOT_FOUND');
    });

    it('keeps one user’s backups from another', async () => {
      const alice = newUser();
      const bob = newUser();
      const version = await create(alice);
      await backups.putSessionKey(alice, version, ROOM, 'session', key(1));
      expect((await refusal(backups.getVersion(bob))).errcode).toBe('M_NOT_FOUND');
      expect((await refusal(backups.getVersion(bob, version))).errcode).toBe('M_NOT_FOUND');
      expect((await refusal(backups.getKeys(bob, version))).errcode).toBe('M_NOT_FOUND');
      expect((await refusal(backups.putSessionKey(bob, version, ROOM, 'session', key(0)))).errcode).toBe('M_NOT_FOUND');
      expect((await refusal(backups.deleteKeys(bob, version))).errcode).toBe('M_NOT_FOUND');
      expect((await refusal(backups.deleteVersion(bob, version))).errcode).toBe('M_NOT_FOUND');
      // Bob's own version 1 is a different backup.
      expect(await create(bob)).toBe(version);
      expect(await backups.getKeys(bob, version)).toEqual({ rooms: {} });
      expect(await backups.getSessionKey(alice, version, ROOM, 'session')).toEqual(key(1));
    });

    it('sees each acknowledged write in the next read', async () => {
      const alice = newUser();
      const version = await create(alice);
      for (let i = 0; i < 40; i++) {
        const put = await backups.putSessionKey(alice, version, ROOM, `s${i}`, key(i));
        expect(await backups.getSessionKey(alice, version, ROOM, `s${i}`)).toEqual(key(i));
        expect(await backups.getVersion(alice)).toMatchObject({ count: i + 1, etag: put.etag });
      }
    });

    it('counts every key of concurrent uploads', async () => {
      const alice = newUser();
      const version = await create(alice);
      await Promise.all(Array.from({ length: 20 }, (_, i) => backups.putSessionKey(alice, version, ROOM, `s${i}`, key(1))));
      expect(await backups.getVersion(alice)).toMatchObject({ count: 20, etag: '20' });
    });

    it('accepts opaque strings as auth_data and session_data', async () => {
      const alice = newUser();
      const version = await backups.createVersion(alice, { algorithm: 'm.megolm_backup.v1', auth_data: 'anopaquestring' });
      await backups.putSessionKey(alice, version, '!abcd', '1234', { ...key(3), session_data: 'anopaquestring' });
      expect((await backups.getVersion(alice)).auth_data).toBe('anopaquestring');
      expect((await backups.getSessionKey(alice, version, '!abcd', '1234')).session_data).toBe('anopaquestring');
      // U+0000 inside the opaque data is kept (it is stored as JSON text).
      await backups.putSessionKey(alice, version, ROOM, 'nul', { ...key(1), session_data: { x: 'a\u0000b' } });
      expect((await backups.getSessionKey(alice, version, ROOM, 'nul')).session_data).toEqual({ x: 'a\u0000b' });
    });
  });

  describe('refuses bad input', () => {
    let alice: string;
    let version: string;
    beforeAll(async () => {
      alice = newUser();
      version = await create(alice);
    });

    it.each([
      ['a missing algorithm', { auth_data: {} }, 'M_MISSING_PARAM'],
      ['an empty algorithm', { algorithm: '', auth_data: {} }, 'M_BAD_JSON'],
      ['a missing auth_data', { algorithm: ALGORITHM }, 'M_MISSING_PARAM'],
      ['an array as auth_data', { algorithm: ALGORITHM, auth_data: [] }, 'M_BAD_JSON'],
      ['null as auth_data', { algorithm: ALGORITHM, auth_data: null }, 'M_BAD_JSON'],
      ['a number as auth_data', { algorithm: ALGORITHM, auth_data: 3 }, 'M_BAD_JSON'],
      ['an oversized auth_data', { algorithm: ALGORITHM, auth_data: { x: 'x'.repeat(MAX_BACKUP_DATA_BYTES) } }, 'M_TOO_LARGE'],
    ])('creating a version with %s', async (_case, body, errcode) => {
      const error = await refusal(backups.createVersion(alice, body as never));
      expect(error.errcode).toBe(errcode);
    });

    it.each([
      ['a missing first_message_index', { forwarded_count: 0, is_verified: false, session_data: {} }, 'M_MISSING_PARAM'],
      ['a negative first_message_index', { ...key(1), first_message_index: -1 }, 'M_BAD_JSON'],
      ['a fractional forwarded_count', { ...key(1), forwarded_count: 0.5 }, 'M_BAD_JSON'],
      ['a string forwarded_count', { ...key(1), forwarded_count: '1' }, 'M_BAD_JSON'],
      ['a string is_verified', { ...key(1), is_verified: 'yes' }, 'M_BAD_JSON'],
      ['a missing session_data', { first_message_index: 1, forwarded_count: 0, is_verified: false }, 'M_MISSING_PARAM'],
      ['an oversized session_data', { ...key(1), session_data: { x: 'x'.repeat(MAX_BACKUP_DATA_BYTES) } }, 'M_TOO_LARGE'],
      ['an array as key data', [], 'M_BAD_JSON'],
    ])('storing a key with %s', async (_case, body, errcode) => {
      expect((await refusal(backups.putSessionKey(alice, version, ROOM, 'session', body))).errcode).toBe(errcode);
    });

    it.each([
      ['no rooms', {}, 'M_MISSING_PARAM'],
      ['rooms as an array', { rooms: [] }, 'M_BAD_JSON'],
      ['a room id without !', { rooms: { room: { sessions: {} } } }, 'M_INVALID_PARAM'],
      ['a room without sessions', { rooms: { [ROOM]: {} } }, 'M_MISSING_PARAM'],
      ['sessions as a string', { rooms: { [ROOM]: { sessions: 'x' } } }, 'M_BAD_JSON'],
      ['an empty session id', { rooms: { [ROOM]: { sessions: { '': key(1) } } } }, 'M_INVALID_PARAM'],
      ['a body that is not an object', 'text', 'M_BAD_JSON'],
    ])('storing keys with %s', async (_case, body, errcode) => {
      expect((await refusal(backups.putKeys(alice, version, body))).errcode).toBe(errcode);
    });

    it('refuses bad room and session ids, and stores nothing of a refused request', async () => {
      expect((await refusal(backups.getRoomKeys(alice, version, 'room'))).errcode).toBe('M_INVALID_PARAM');
      expect((await refusal(backups.getSessionKey(alice, version, ROOM, 'x'.repeat(256)))).errcode).toBe('M_INVALID_PARAM');
      expect((await refusal(backups.putSessionKey(alice, version, '!a\u0000b', 's', key(1)))).errcode).toBe('M_INVALID_PARAM');
      expect((await refusal(backups.deleteKeys(alice, version, ROOM, '\u0000'))).errcode).toBe('M_INVALID_PARAM');
      const mixed = { rooms: { [ROOM]: { sessions: { good: key(1), bad: { ...key(1), is_verified: 1 } } } } };
      expect((await refusal(backups.putKeys(alice, version, mixed))).errcode).toBe('M_BAD_JSON');
      expect(await backups.getKeys(alice, version)).toEqual({ rooms: {} });
    });
  });
});
