/**
 * Cross-signing over real HTTP against the homeserver, with real ed25519 keys: uploading
 * cross-signing keys (the first keys freely, replacements after the account's password),
 * refusals of keys that are not the caller's, not of the right usage or not signed by the
 * master key, signatures on device keys and master keys, what /keys/query shows to whom, and
 * the device list changes room-mates see in /sync.
 */
import { assertMatchesSpec } from '@hs/testing';
import { crossSigningKey, crossSigningKeys, deviceKeys, signed, testKey } from '../../libs/e2ee/test/signing-keys';
import { call, passwordAuth, registerUser, useTestServer, type TestUser } from './accounts-harness';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- response bodies are checked against the spec, then read freely
type Body = Record<string, any>;

const UPLOAD_SPEC = { api: 'client-server', file: 'cross_signing.yaml', path: '/keys/device_signing/upload', method: 'post' } as const;
const SIGNATURES_SPEC = { api: 'client-server', file: 'cross_signing.yaml', path: '/keys/signatures/upload', method: 'post', status: 200 } as const;
const QUERY_SPEC = { api: 'client-server', file: 'keys.yaml', path: '/keys/query', method: 'post', status: 200 } as const;

describe('cross-signing', () => {
  const s = useTestServer();
  let alice: TestUser;
  let bob: TestUser;
  let roomId: string;

  const uploadKeys = (user: TestUser, body: Body) => call<Body>(s.url, 'POST', 'keys/device_signing/upload', { token: user.token, body });
  const uploadSignatures = (user: TestUser, body: Body) => call<Body>(s.url, 'POST', 'keys/signatures/upload', { token: user.token, body });
  const query = async (user: TestUser, userIds: string[]): Promise<Body> => {
    const reply = await call<Body>(s.url, 'POST', 'keys/query', { token: user.token, body: { device_keys: Object.fromEntries(userIds.map((id) => [id, []])) } });
    expect(reply.status).toBe(200);
    assertMatchesSpec(reply.body, QUERY_SPEC);
    return reply.body;
  };
  const sync = async (user: TestUser, since?: string, timeout = 0): Promise<Body> => {
    const reply = await call<Body>(s.url, 'GET', 'sync', { token: user.token, query: { ...(since ? { since } : {}), timeout: String(timeout) } });
    expect(reply.status).toBe(200);
    return reply.body;
  };
  const expectRefused = (reply: { status: number; body: Body }, status: number, errcode: string) => {
    expect({ status: reply.status, errcode: reply.body.errcode }).toEqual({ status, errcode });
  };

  beforeAll(async () => {
    alice = await registerUser(s.url, 'xalice');
    bob = await registerUser(s.url, 'xbob');
    const created = await call<Body>(s.url, 'POST', 'createRoom', { token: alice.token, body: { preset: 'public_chat' } });
    roomId = created.body.room_id;
    expect((await call(s.url, 'POST', `join/${encodeURIComponent(roomId)}`, { token: bob.token, body: {} })).status).toBe(200);
  });

  it('uploads the first keys without authentication; a room-mate’s /sync reports the change', async () => {
    const start = (await sync(bob)).next_batch as string;
    const waiting = sync(bob, start, 10_000);
    const keys = crossSigningKeys(alice.userId);
    const reply = await uploadKeys(alice, keys.upload);
    expect(reply.status).toBe(200);
    assertMatchesSpec(reply.body, { ...UPLOAD_SPEC, status: 200 });
    expect((await waiting).device_lists.changed).toContain(alice.userId);

    const own = await query(alice, [alice.userId, bob.userId]);
    expect(own.master_keys).toEqual({ [alice.userId]: keys.upload.master_key });
    expect(own.self_signing_keys).toEqual({ [alice.userId]: keys.upload.self_signing_key });
    expect(own.user_signing_keys).toEqual({ [alice.userId]: keys.upload.user_signing_key });
    const theirs = await query(bob, [alice.userId]);
    expect(theirs.master_keys).toEqual({ [alice.userId]: keys.upload.master_key });
    expect(theirs.self_signing_keys).toEqual({ [alice.userId]: keys.upload.self_signing_key });
    expect(theirs.user_signing_keys).toEqual({});
  });

  it('replaces keys only after the account’s password; the same keys again need none', async () => {
    const carol = await registerUser(s.url, 'xcarol');
    const first = crossSigningKeys(carol.userId);
    expect((await uploadKeys(carol, first.upload)).status).toBe(200);
    expect((await uploadKeys(carol, first.upload)).status).toBe(200);

    const second = crossSigningKeys(carol.userId);
    const challenge = await uploadKeys(carol, second.upload);
    expect(challenge.status).toBe(401);
    expect(challenge.body.flows).toEqual([{ stages: ['m.login.password'] }]);
    expect((await query(carol, [carol.userId])).master_keys[carol.userId]).toEqual(first.upload.master_key);
    const wrong = await uploadKeys(carol, { ...second.upload, auth: passwordAuth(carol, challenge.body.session, 'not the password') });
    expect(wrong.status).toBe(401);
    const done = await uploadKeys(carol, { ...second.upload, auth: passwordAuth(carol, challenge.body.session) });
    expect(done.status).toBe(200);
    expect((await query(bob, [carol.userId])).master_keys[carol.userId]).toEqual(second.upload.master_key);
    // The unstable path of older clients (and SyTest) answers alike.
    const unstable = await call<Body>(s.url, 'POST', '/_matrix/client/unstable/keys/device_signing/upload', { token: carol.token, body: crossSigningKeys(carol.userId).upload });
    expect(unstable.status).toBe(401);
  });

  it('refuses keys without a master key, not signed by it, of another user or of the wrong usage', async () => {
    const dave = await registerUser(s.url, 'xdave');
    const keys = crossSigningKeys(dave.userId);
    expectRefused(await uploadKeys(dave, { self_signing_key: keys.upload.self_signing_key }), 400, 'M_MISSING_PARAM');
    const unsigned = crossSigningKey(dave.userId, 'self_signing', keys.selfSigning);
    expectRefused(await uploadKeys(dave, { master_key: keys.upload.master_key, self_signing_key: unsigned }), 400, 'M_INVALID_SIGNATURE');
    const forged = signed(unsigned, dave.userId, testKey(), `ed25519:${keys.master.publicKey}`);
    expectRefused(await uploadKeys(dave, { master_key: keys.upload.master_key, self_signing_key: forged }), 400, 'M_INVALID_SIGNATURE');
    expectRefused(await uploadKeys(dave, { master_key: crossSigningKey(alice.userId, 'master', testKey()) }), 400, 'M_INVALID_PARAM');
    expectRefused(await uploadKeys(dave, { master_key: crossSigningKey(dave.userId, 'user_signing', testKey()) }), 400, 'M_INVALID_PARAM');
    expectRefused(await uploadKeys(dave, { master_key: 'not a key' }), 400, 'M_BAD_JSON');
    expect((await query(dave, [dave.userId])).master_keys).toEqual({});
  });

  it('stores signatures on device keys and master keys, and shows each to whom it concerns', async () => {
    const erin = await registerUser(s.url, 'xerin');
    const frank = await registerUser(s.url, 'xfrank');
    await call(s.url, 'POST', `join/${encodeURIComponent(roomId)}`, { token: erin.token, body: {} });
    const erinKeys = crossSigningKeys(erin.userId);
    const frankKeys = crossSigningKeys(frank.userId);
    expect((await uploadKeys(erin, erinKeys.upload)).status).toBe(200);
    expect((await uploadKeys(frank, frankKeys.upload)).status).toBe(200);
    const deviceKey = testKey();
    const erinDevice = deviceKeys(erin.userId, erin.deviceId, deviceKey);
    expect((await call(s.url, 'POST', 'keys/upload', { token: erin.token, body: { device_keys: erinDevice } })).status).toBe(200);

    // Erin's self-signing key signs her device; a room-mate hears of it and sees the signature.
    const start = (await sync(bob)).next_batch as string;
    const bySelfSigning = signed(erinDevice, erin.userId, erinKeys.selfSigning);
    const byDevice = signed(erinKeys.upload.master_key, erin.userId, deviceKey, `ed25519:${erin.deviceId}`);
    const stored = await uploadSignatures(erin, { [erin.userId]: { [erin.deviceId]: bySelfSigning, [erinKeys.master.publicKey]: byDevice } });
    expect(stored.status).toBe(200);
    assertMatchesSpec(stored.body, SIGNATURES_SPEC);
    expect(stored.body.failures).toEqual({});
    expect((await sync(bob, start)).device_lists.changed).toContain(erin.userId);
    const seen = await query(bob, [erin.userId]);
    expect(seen.device_keys[erin.userId][erin.deviceId].signatures).toEqual(bySelfSigning.signatures);
    expect(seen.master_keys[erin.userId].signatures).toEqual(byDevice.signatures);

    // Erin's user-signing key signs Frank's master key: shown to Erin alone.
    const onFrank = signed(frankKeys.upload.master_key, erin.userId, erinKeys.userSigning);
    expect((await uploadSignatures(erin, { [frank.userId]: { [frankKeys.master.publicKey]: onFrank } })).body.failures).toEqual({});
    expect((await query(erin, [frank.userId])).master_keys[frank.userId].signatures).toEqual(onFrank.signatures);
    expect((await query(frank, [frank.userId])).master_keys[frank.userId].signatures).toBeUndefined();
    expect((await query(bob, [frank.userId])).master_keys[frank.userId].signatures).toBeUndefined();

    // Refused objects are named in failures.
    const forged = signed(erinDevice, erin.userId, testKey(), `ed25519:${erinKeys.selfSigning.publicKey}`);
    const refused = await call<Body>(s.url, 'POST', '/_matrix/client/unstable/keys/signatures/upload', {
      token: erin.token,
      body: { [erin.userId]: { [erin.deviceId]: forged, NODEVICE: signed({ ...erinDevice, device_id: 'NODEVICE' }, erin.userId, erinKeys.selfSigning) } },
    });
    expect(refused.status).toBe(200);
    assertMatchesSpec(refused.body, SIGNATURES_SPEC);
    expect(refused.body.failures[erin.userId][erin.deviceId].errcode).toBe('M_INVALID_SIGNATURE');
    expect(refused.body.failures[erin.userId].NODEVICE.errcode).toBe('M_NOT_FOUND');
    expectRefused(await uploadSignatures(erin, { [erin.userId]: 'not an object' }), 400, 'M_BAD_JSON');
  });

  it('does not tell room-mates of a new user-signing key', async () => {
    const gina = await registerUser(s.url, 'xgina');
    await call(s.url, 'POST', `join/${encodeURIComponent(roomId)}`, { token: gina.token, body: {} });
    const keys = crossSigningKeys(gina.userId);
    expect((await uploadKeys(gina, { master_key: keys.upload.master_key, self_signing_key: keys.upload.self_signing_key })).status).toBe(200);
    const start = (await sync(bob)).next_batch as string;
    const challenge = await uploadKeys(gina, { user_signing_key: keys.upload.user_signing_key });
    expect(challenge.status).toBe(401);
    expect((await uploadKeys(gina, { user_signing_key: keys.upload.user_signing_key, auth: passwordAuth(gina, challenge.body.session) })).status).toBe(200);
    expect((await sync(bob, start)).device_lists?.changed ?? []).not.toContain(gina.userId);
    expect((await query(gina, [gina.userId])).user_signing_keys).toEqual({ [gina.userId]: keys.upload.user_signing_key });
  });
});
