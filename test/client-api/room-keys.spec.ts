/**
 * Server-side key backups (`/room_keys/*`) over real HTTP against the homeserver, every
 * response body checked against key_backup.yaml. Runs on a temporary PostgreSQL database when
 * TEST_DATABASE_URL is set, else on the embedded one.
 */
import { assertMatchesSpec, loadResponseSchema, type SpecResponse } from '@hs/testing';
import { startInProcess, type InProcessServer } from '../support/in-process-server';
import { call, registerUser, type Reply, type TestUser } from './accounts-harness';

const ALGORITHM = 'm.megolm_backup.v1.curve25519-aes-sha2';
const AUTH_DATA = { public_key: 'abcdefg', signatures: { '@alice:localhost': { 'ed25519:DEVICE': 'signature' } } };
const ROOM = '!room:localhost';

type Body = Record<string, unknown>;
type SpecPath = '/room_keys/version' | '/room_keys/version/{version}' | '/room_keys/keys' | '/room_keys/keys/{roomId}' | '/room_keys/keys/{roomId}/{sessionId}';
type Method = 'GET' | 'PUT' | 'POST' | 'DELETE';

function keyData(firstMessageIndex: number, forwardedCount = 0, isVerified = false, mark = 'ciphertext'): Body {
  return {
    first_message_index: firstMessageIndex,
    forwarded_count: forwardedCount,
    is_verified: isVerified,
    session_data: { ephemeral: 'base64+ephemeral+key', ciphertext: mark, mac: 'base64+mac' },
  };
}

/** True when the spec lists that response (e.g. not 404 for PUT of one session's key). */
function specDescribes(response: SpecResponse): boolean {
  try {
    loadResponseSchema(response);
    return true;
  } catch (error) {
    if (error instanceof Error && error.message.includes(`has no ${response.status} response`)) return false;
    throw error;
  }
}

describe('server-side key backups', () => {
  let hs: InProcessServer;
  beforeAll(async () => {
    hs = await startInProcess({ postgresFromEnv: true, env: { HS_LOGGING__LEVEL: 'silent' } });
  });
  afterAll(async () => {
    await hs?.close();
  });

  /**
   * Calls the endpoint of `specPath` (its `{…}` parts filled from `params`, `version` also
   * sent as the query parameter of the /room_keys/keys endpoints) and checks the reply against
   * the spec's schema of its status, when the spec lists that status.
   */
  async function api(
    user: TestUser,
    method: Method,
    specPath: SpecPath,
    params: { version?: string; roomId?: string; sessionId?: string } = {},
    body?: unknown,
  ): Promise<Reply<Body>> {
    const path = specPath.replace(/\{(\w+)\}/g, (_all, name: 'version' | 'roomId' | 'sessionId') => encodeURIComponent(params[name] ?? ''));
    const query = specPath.startsWith('/room_keys/keys') && params.version !== undefined ? { version: params.version } : undefined;
    const reply = await call<Body>(hs.url, method, path.slice(1), { token: user.token, body, query });
    const response: SpecResponse = { api: 'client-server', file: 'key_backup.yaml', path: specPath, method: method.toLowerCase() as SpecResponse['method'], status: reply.status };
    if (specDescribes(response)) assertMatchesSpec(reply.body, response);
    return reply;
  }

  const createVersion = async (user: TestUser, body: Body = { algorithm: ALGORITHM, auth_data: AUTH_DATA }): Promise<string> => {
    const reply = await api(user, 'POST', '/room_keys/version', {}, body);
    expect(reply.status).toBe(200);
    return reply.body.version as string;
  };

  const expectError = (reply: Reply<Body>, status: number, errcode: string) => {
    expect({ status: reply.status, errcode: reply.body.errcode, error: typeof reply.body.error }).toEqual({ status, errcode, error: 'string' });
  };

  it('creates, reads, updates and deletes backup versions', async () => {
    const alice = await registerUser(hs.url, 'alice');
    expect((await api(alice, 'GET', '/room_keys/version')).body).toEqual({ errcode: 'M_NOT_FOUND', error: 'No current backup version' });

    const first = await createVersion(alice);
    const second = await createVersion(alice);
    expect(Number(second)).toBeGreaterThan(Number(first));
    const current = await api(alice, 'GET', '/room_keys/version');
    expect(current.status).toBe(200);
    expect(current.body).toEqual({ algorithm: ALGORITHM, auth_data: AUTH_DATA, count: 0, etag: expect.any(String), version: second });
    expect((await api(alice, 'GET', '/room_keys/version/{version}', { version: first })).body).toMatchObject({ version: first, count: 0 });

    const newAuthData = { public_key: 'hijklmn', signatures: {} };
    const update = await api(alice, 'PUT', '/room_keys/version/{version}', { version: second }, { algorithm: ALGORITHM, auth_data: newAuthData, version: second });
    expect(update.status).toBe(200);
    expect(update.body).toEqual({});
    expect((await api(alice, 'GET', '/room_keys/version/{version}', { version: second })).body.auth_data).toEqual(newAuthData);

    const otherAlgorithm = await api(alice, 'PUT', '/room_keys/version/{version}', { version: second }, { algorithm: 'org.example.other', auth_data: {} });
    expectError(otherAlgorithm, 400, 'M_INVALID_PARAM');
    const otherVersion = await api(alice, 'PUT', '/room_keys/version/{version}', { version: second }, { algorithm: ALGORITHM, auth_data: {}, version: first });
    expectError(otherVersion, 400, 'M_INVALID_PARAM');
    expectError(await api(alice, 'PUT', '/room_keys/version/{version}', { version: '999' }, { algorithm: ALGORITHM, auth_data: {} }), 404, 'M_NOT_FOUND');
    expect((await api(alice, 'GET', '/room_keys/version/{version}', { version: second })).body.auth_data).toEqual(newAuthData);

    const deleted = await api(alice, 'DELETE', '/room_keys/version/{version}', { version: second });
    expect(deleted).toMatchObject({ status: 200, body: {} });
    expect((await api(alice, 'DELETE', '/room_keys/version/{version}', { version: second })).status).toBe(200);
    expectError(await api(alice, 'DELETE', '/room_keys/version/{version}', { version: '999' }), 404, 'M_NOT_FOUND');
    expectError(await api(alice, 'GET', '/room_keys/version/{version}', { version: second }), 404, 'M_NOT_FOUND');
    expect((await api(alice, 'GET', '/room_keys/version')).body.version).toBe(first);
    // The deleted number is not handed out again.
    expect(Number(await createVersion(alice))).toBeGreaterThan(Number(second));
  });

  it('creates more than 10 backup versions', async () => {
    const alice = await registerUser(hs.url, 'alice');
    const versions: string[] = [];
    for (let i = 0; i < 11; i++) versions.push(await createVersion(alice));
    expect(new Set(versions).size).toBe(11);
    expect((await api(alice, 'GET', '/room_keys/version')).body.version).toBe(versions[10]);
  });

  it('answers an empty backup', async () => {
    const alice = await registerUser(hs.url, 'alice');
    const version = await createVersion(alice);
    expectError(await api(alice, 'GET', '/room_keys/keys/{roomId}/{sessionId}', { version, roomId: '!notaroom', sessionId: 'notasession' }), 404, 'M_NOT_FOUND');
    expect((await api(alice, 'GET', '/room_keys/keys/{roomId}', { version, roomId: '!notaroom' })).body).toEqual({ sessions: {} });
    expect((await api(alice, 'GET', '/room_keys/keys', { version })).body).toEqual({ rooms: {} });
    expectError(await api(alice, 'GET', '/room_keys/keys', { version: 'bogusversion' }), 404, 'M_NOT_FOUND');
  });

  it('stores, reads and deletes keys of a session, a room and the whole backup', async () => {
    const alice = await registerUser(hs.url, 'alice');
    const version = await createVersion(alice);
    const other = '!other:localhost';

    const session = await api(alice, 'PUT', '/room_keys/keys/{roomId}/{sessionId}', { version, roomId: ROOM, sessionId: 's1' }, keyData(1));
    expect(session.status).toBe(200);
    expect(session.body).toEqual({ etag: expect.any(String), count: 1 });
    const room = await api(alice, 'PUT', '/room_keys/keys/{roomId}', { version, roomId: ROOM }, { sessions: { s2: keyData(2), s3: keyData(3) } });
    expect(room.body).toMatchObject({ count: 3 });
    const all = await api(alice, 'PUT', '/room_keys/keys', { version }, { rooms: { [other]: { sessions: { s1: keyData(4) } } } });
    expect(all.body).toMatchObject({ count: 4 });
    expect(new Set([session.body.etag, room.body.etag, all.body.etag]).size).toBe(3);

    const info = await api(alice, 'GET', '/room_keys/version/{version}', { version });
    expect(info.body).toMatchObject({ count: 4, etag: all.body.etag });
    expect((await api(alice, 'GET', '/room_keys/keys/{roomId}/{sessionId}', { version, roomId: ROOM, sessionId: 's2' })).body).toEqual(keyData(2));
    expect((await api(alice, 'GET', '/room_keys/keys/{roomId}', { version, roomId: ROOM })).body).toEqual({ sessions: { s1: keyData(1), s2: keyData(2), s3: keyData(3) } });
    expect((await api(alice, 'GET', '/room_keys/keys', { version })).body).toEqual({
      rooms: { [ROOM]: { sessions: { s1: keyData(1), s2: keyData(2), s3: keyData(3) } }, [other]: { sessions: { s1: keyData(4) } } },
    });

    const deletedSession = await api(alice, 'DELETE', '/room_keys/keys/{roomId}/{sessionId}', { version, roomId: ROOM, sessionId: 's1' });
    expect(deletedSession.body).toMatchObject({ count: 3 });
    expect(deletedSession.body.etag).not.toBe(all.body.etag);
    expectError(await api(alice, 'GET', '/room_keys/keys/{roomId}/{sessionId}', { version, roomId: ROOM, sessionId: 's1' }), 404, 'M_NOT_FOUND');
    expect((await api(alice, 'DELETE', '/room_keys/keys/{roomId}', { version, roomId: ROOM })).body).toMatchObject({ count: 1 });
    expect((await api(alice, 'GET', '/room_keys/keys/{roomId}', { version, roomId: ROOM })).body).toEqual({ sessions: {} });
    expect((await api(alice, 'DELETE', '/room_keys/keys', { version })).body).toMatchObject({ count: 0 });
    expect((await api(alice, 'GET', '/room_keys/keys', { version })).body).toEqual({ rooms: {} });
    expectError(await api(alice, 'DELETE', '/room_keys/keys', { version: '999' }), 404, 'M_NOT_FOUND');
  });

  it('replaces a key with a better one only (SyTest "Can update keys with better versions", "Will not update keys with worse versions")', async () => {
    const alice = await registerUser(hs.url, 'alice');
    // SyTest's bodies: opaque strings where the spec has objects.
    const opaque = (firstMessageIndex: number, mark: string) => ({ first_message_index: firstMessageIndex, forwarded_count: 0, is_verified: false, session_data: mark });
    const put = (version: string, body: Body) => call<Body>(hs.url, 'PUT', 'room_keys/keys/!abcd/1234', { token: alice.token, query: { version }, body });
    const get = (version: string) => call<Body>(hs.url, 'GET', 'room_keys/keys/!abcd/1234', { token: alice.token, query: { version } });
    const create = () => createVersion(alice, { algorithm: 'm.megolm_backup.v1', auth_data: 'anopaquestring' });

    const better = await create();
    expect((await put(better, opaque(2, 'first'))).status).toBe(200);
    expect((await put(better, opaque(1, 'better'))).status).toBe(200);
    expect((await get(better)).body).toEqual(opaque(1, 'better'));

    const worse = await create();
    expect((await put(worse, opaque(2, 'first'))).status).toBe(200);
    expect((await put(worse, opaque(3, 'worse'))).status).toBe(200);
    expect((await get(worse)).body).toEqual(opaque(2, 'first'));

    // The spec's order: verified first, then the lower first_message_index, then the lower forwarded_count.
    const version = await create();
    const at = { version, roomId: ROOM, sessionId: 'session' };
    await api(alice, 'PUT', '/room_keys/keys/{roomId}/{sessionId}', at, keyData(5, 5, false, 'unverified'));
    await api(alice, 'PUT', '/room_keys/keys/{roomId}/{sessionId}', at, keyData(9, 9, true, 'verified'));
    await api(alice, 'PUT', '/room_keys/keys/{roomId}/{sessionId}', at, keyData(0, 0, false, 'unverified again'));
    await api(alice, 'PUT', '/room_keys/keys/{roomId}/{sessionId}', at, keyData(9, 3, true, 'fewer forwards'));
    await api(alice, 'PUT', '/room_keys/keys/{roomId}/{sessionId}', at, keyData(9, 4, true, 'more forwards'));
    expect((await api(alice, 'GET', '/room_keys/keys/{roomId}/{sessionId}', at)).body).toEqual(keyData(9, 3, true, 'fewer forwards'));
  });

  it('refuses keys for an old version with M_WRONG_ROOM_KEYS_VERSION and the current version', async () => {
    const alice = await registerUser(hs.url, 'alice');
    const old = await createVersion(alice);
    const current = await createVersion(alice);
    for (const [path, body] of [
      ['/room_keys/keys', { rooms: { [ROOM]: { sessions: { s: keyData(1) } } } }],
      ['/room_keys/keys/{roomId}', { sessions: { s: keyData(1) } }],
      ['/room_keys/keys/{roomId}/{sessionId}', keyData(1)],
    ] as const) {
      const reply = await api(alice, 'PUT', path, { version: old, roomId: ROOM, sessionId: 's' }, body);
      expect({ path, status: reply.status, body: reply.body }).toEqual({
        path,
        status: 403,
        body: { errcode: 'M_WRONG_ROOM_KEYS_VERSION', error: expect.any(String), current_version: current },
      });
    }
    expect((await api(alice, 'GET', '/room_keys/keys', { version: old })).body).toEqual({ rooms: {} });
    expectError(await api(alice, 'PUT', '/room_keys/keys', { version: '999' }, { rooms: {} }), 404, 'M_NOT_FOUND');
  });

  it('starts a deleted and recreated backup empty', async () => {
    const alice = await registerUser(hs.url, 'alice');
    const version = await createVersion(alice);
    await api(alice, 'PUT', '/room_keys/keys/{roomId}/{sessionId}', { version, roomId: ROOM, sessionId: 's' }, keyData(3));
    expect((await api(alice, 'DELETE', '/room_keys/version/{version}', { version })).status).toBe(200);
    const next = await createVersion(alice);
    expect((await api(alice, 'GET', '/room_keys/keys', { version: next })).body).toEqual({ rooms: {} });
    expect((await api(alice, 'GET', '/room_keys/version')).body).toMatchObject({ version: next, count: 0 });
  });

  it('keeps backups to their owner', async () => {
    const alice = await registerUser(hs.url, 'alice');
    const bob = await registerUser(hs.url, 'bob');
    const version = await createVersion(alice);
    const at = { version, roomId: ROOM, sessionId: 's' };
    await api(alice, 'PUT', '/room_keys/keys/{roomId}/{sessionId}', at, keyData(1));

    expectError(await api(bob, 'GET', '/room_keys/version'), 404, 'M_NOT_FOUND');
    expectError(await api(bob, 'GET', '/room_keys/version/{version}', at), 404, 'M_NOT_FOUND');
    expectError(await api(bob, 'PUT', '/room_keys/version/{version}', at, { algorithm: ALGORITHM, auth_data: {} }), 404, 'M_NOT_FOUND');
    expectError(await api(bob, 'GET', '/room_keys/keys', at), 404, 'M_NOT_FOUND');
    expectError(await api(bob, 'GET', '/room_keys/keys/{roomId}/{sessionId}', at), 404, 'M_NOT_FOUND');
    expectError(await api(bob, 'PUT', '/room_keys/keys/{roomId}/{sessionId}', at, keyData(0)), 404, 'M_NOT_FOUND');
    expectError(await api(bob, 'DELETE', '/room_keys/keys', at), 404, 'M_NOT_FOUND');
    expectError(await api(bob, 'DELETE', '/room_keys/version/{version}', at), 404, 'M_NOT_FOUND');

    expect((await api(alice, 'GET', '/room_keys/keys/{roomId}/{sessionId}', at)).body).toEqual(keyData(1));
    expect((await api(alice, 'GET', '/room_keys/version')).body).toMatchObject({ version, count: 1 });
    expect((await call(hs.url, 'GET', 'room_keys/version')).status).toBe(401);
  });

  it('answers bad requests with Matrix errors', async () => {
    const alice = await registerUser(hs.url, 'alice');
    const version = await createVersion(alice);
    const session = `room_keys/keys/${encodeURIComponent(ROOM)}/s`;
    const cases: Array<[string, Promise<Reply<Body>>, number, string]> = [
      ['version body not JSON', call(hs.url, 'POST', 'room_keys/version', { token: alice.token, raw: '{' }), 400, 'M_NOT_JSON'],
      ['version body an array', call(hs.url, 'POST', 'room_keys/version', { token: alice.token, body: [] }), 400, 'M_BAD_JSON'],
      ['no algorithm', call(hs.url, 'POST', 'room_keys/version', { token: alice.token, body: { auth_data: {} } }), 400, 'M_MISSING_PARAM'],
      ['algorithm a number', call(hs.url, 'POST', 'room_keys/version', { token: alice.token, body: { algorithm: 1, auth_data: {} } }), 400, 'M_BAD_JSON'],
      ['no auth_data', call(hs.url, 'POST', 'room_keys/version', { token: alice.token, body: { algorithm: ALGORITHM } }), 400, 'M_MISSING_PARAM'],
      ['auth_data an array', call(hs.url, 'POST', 'room_keys/version', { token: alice.token, body: { algorithm: ALGORITHM, auth_data: [] } }), 400, 'M_BAD_JSON'],
      [
        'auth_data too large',
        call(hs.url, 'POST', 'room_keys/version', { token: alice.token, body: { algorithm: ALGORITHM, auth_data: { x: 'x'.repeat(70_000) } } }),
        413,
        'M_TOO_LARGE',
      ],
      ['no version parameter', call(hs.url, 'GET', 'room_keys/keys', { token: alice.token }), 400, 'M_MISSING_PARAM'],
      ['no version parameter on PUT', call(hs.url, 'PUT', session, { token: alice.token, body: keyData(1) }), 400, 'M_MISSING_PARAM'],
      ['key data not JSON', call(hs.url, 'PUT', session, { token: alice.token, query: { version }, raw: 'nope' }), 400, 'M_NOT_JSON'],
      ['key data an array', call(hs.url, 'PUT', session, { token: alice.token, query: { version }, body: [] }), 400, 'M_BAD_JSON'],
      ['negative first_message_index', call(hs.url, 'PUT', session, { token: alice.token, query: { version }, body: { ...keyData(1), first_message_index: -1 } }), 400, 'M_BAD_JSON'],
      ['is_verified a string', call(hs.url, 'PUT', session, { token: alice.token, query: { version }, body: { ...keyData(1), is_verified: 'no' } }), 400, 'M_BAD_JSON'],
      ['no session_data', call(hs.url, 'PUT', session, { token: alice.token, query: { version }, body: { first_message_index: 1, forwarded_count: 0, is_verified: false } }), 400, 'M_MISSING_PARAM'],
      [
        'session_data too large',
        call(hs.url, 'PUT', session, { token: alice.token, query: { version }, body: { ...keyData(1), session_data: { x: 'x'.repeat(70_000) } } }),
        413,
        'M_TOO_LARGE',
      ],
      ['room id without !', call(hs.url, 'PUT', 'room_keys/keys/room/s', { token: alice.token, query: { version }, body: keyData(1) }), 400, 'M_INVALID_PARAM'],
      ['rooms missing', call(hs.url, 'PUT', 'room_keys/keys', { token: alice.token, query: { version }, body: {} }), 400, 'M_MISSING_PARAM'],
      ['sessions an array', call(hs.url, 'PUT', `room_keys/keys/${encodeURIComponent(ROOM)}`, { token: alice.token, query: { version }, body: { sessions: [] } }), 400, 'M_BAD_JSON'],
    ];
    for (const [what, promise, status, errcode] of cases) {
      const reply = await promise;
      expect({ what, status: reply.status, errcode: reply.body.errcode, error: typeof reply.body.error }).toEqual({ what, status, errcode, error: 'string' });
    }
    expect((await api(alice, 'GET', '/room_keys/keys', { version })).body).toEqual({ rooms: {} });
  });

  it('reads every acknowledged write at once', async () => {
    const alice = await registerUser(hs.url, 'alice');
    const version = await createVersion(alice);
    for (let i = 0; i < 30; i++) {
      const at = { version, roomId: ROOM, sessionId: `s${i}` };
      const put = await api(alice, 'PUT', '/room_keys/keys/{roomId}/{sessionId}', at, keyData(i));
      expect(put.status).toBe(200);
      expect((await api(alice, 'GET', '/room_keys/keys/{roomId}/{sessionId}', at)).body).toEqual(keyData(i));
      expect((await api(alice, 'GET', '/room_keys/version')).body).toMatchObject({ count: i + 1, etag: put.body.etag });
    }
  });
});
