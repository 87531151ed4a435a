/**
 * The keys API and send-to-device over real HTTP against the homeserver: device and one-time
 * key upload, queries and claims (a key handed out once, even to concurrent claims; the
 * fallback key when none is left), device list changes in /sync and /keys/changes, and
 * to-device messages delivered in order until acknowledged.
 */
import { assertMatchesSpec } from '@hs/testing';
import { call, passwordAuth, registerUser, useTestServer, type TestUser } from './accounts-harness';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- response bodies are checked against the spec, then read freely
type Body = Record<string, any>;

function deviceKeys(user: TestUser, deviceId = user.deviceId, curve = 'curve+key'): Body {
  return {
    user_id: user.userId,
    device_id: deviceId,
    algorithms: ['m.olm.v1.curve25519-aes-sha2', 'm.megolm.v1.aes-sha2'],
    keys: { [`curve25519:${deviceId}`]: curve, [`ed25519:${deviceId}`]: 'ed+key' },
    signatures: { [user.userId]: { [`ed25519:${deviceId}`]: 'self+signature' } },
  };
}

async function login(base: string, user: TestUser, deviceId?: string): Promise<TestUser> {
  const reply = await call<Body>(base, 'POST', 'login', {
    body: { type: 'm.login.password', identifier: { type: 'm.id.user', user: user.userId }, password: user.password, ...(deviceId ? { device_id: deviceId } : {}) },
  });
  expect(reply.status).toBe(200);
  return { ...user, token: reply.body.access_token, deviceId: reply.body.device_id };
}

describe('end-to-end encryption keys and to-device messages', () => {
  const s = useTestServer();
  let alice: TestUser;
  let bob: TestUser;
  let roomId: string;

  const sync = async (user: TestUser, since?: string, timeout = 0): Promise<Body> => {
    const reply = await call<Body>(s.url, 'GET', 'sync', { token: user.token, query: { ...(since ? { since } : {}), timeout: String(timeout) } });
    expect(reply.status).toBe(200);
    return reply.body;
  };

  beforeAll(async () => {
    alice = await registerUser(s.url, 'alice');
    bob = await registerUser(s.url, 'bob');
    const created = await call<Body>(s.url, 'POST', 'createRoom', { token: alice.token, body: { preset: 'public_chat' } });
    roomId = created.body.room_id;
    expect((await call(s.url, 'POST', `join/${encodeURIComponent(roomId)}`, { token: bob.token, body: {} })).status).toBe(200);
  });

  it('uploads device and one-time keys and counts them', async () => {
    const reply = await call<Body>(s.url, 'POST', 'keys/upload', {
      token: alice.token,
      body: { device_keys: deviceKeys(alice), one_time_keys: { 'signed_curve25519:AAAA': { key: 'k1' }, 'signed_curve25519:AAAB': { key: 'k2' }, 'my_algorithm:one': 'k3' } },
    });
    expect(reply.status).toBe(200);
    assertMatchesSpec(reply.body, { api: 'client-server', file: 'keys.yaml', path: '/keys/upload', method: 'post', status: 200 });
    expect(reply.body.one_time_key_counts).toEqual({ signed_curve25519: 2, my_algorithm: 1 });
    // The same keys again change nothing; a key id reused with another value is refused.
    const again = await call<Body>(s.url, 'POST', 'keys/upload', { token: alice.token, body: { device_keys: deviceKeys(alice), one_time_keys: { 'signed_curve25519:AAAA': { key: 'k1' } } } });
    expect(again.body.one_time_key_counts).toEqual({ signed_curve25519: 2, my_algorithm: 1 });
    const clash = await call<Body>(s.url, 'POST', 'keys/upload', { token: alice.token, body: { one_time_keys: { 'signed_curve25519:AAAA': { key: 'other' } } } });
    expect(clash.status).toBe(400);
    expect(clash.body.errcode).toBe('M_INVALID_PARAM');
    // New device keys replace those held (a client that lost its keys starts again).
    const replaced = await call<Body>(s.url, 'POST', 'keys/upload', { token: alice.token, body: { device_keys: deviceKeys(alice, alice.deviceId, 'another+curve') } });
    expect(replaced.status).toBe(200);
    const query = await call<Body>(s.url, 'POST', 'keys/query', { token: alice.token, body: { device_keys: { [alice.userId]: [alice.deviceId] } } });
    expect(query.body.device_keys[alice.userId][alice.deviceId].keys[`curve25519:${alice.deviceId}`]).toBe('another+curve');
    await call(s.url, 'POST', 'keys/upload', { token: alice.token, body: { device_keys: deviceKeys(alice) } });
  });

  it('refuses malformed keys and keys of another user or device', async () => {
    const missing = await call<Body>(s.url, 'POST', 'keys/upload', { token: bob.token, body: { device_keys: { user_id: bob.userId, device_id: bob.deviceId } } });
    expect(missing.status).toBe(400);
    expect(missing.body.errcode).toBe('M_BAD_JSON');
    const otherUser = await call<Body>(s.url, 'POST', 'keys/upload', { token: bob.token, body: { device_keys: deviceKeys(alice) } });
    expect(otherUser.status).toBe(400);
    const otherDevice = await call<Body>(s.url, 'POST', 'keys/upload', { token: bob.token, body: { device_keys: deviceKeys(bob, 'NOTMINE') } });
    expect(otherDevice.status).toBe(400);
    const badName = await call<Body>(s.url, 'POST', 'keys/upload', { token: bob.token, body: { one_time_keys: { nocolon: 'x' } } });
    expect(badName.body.errcode).toBe('M_BAD_JSON');
    // Ids PostgreSQL text cannot hold name nobody: answered, never a server error.
    const nul = await call<Body>(s.url, 'POST', 'keys/query', { token: bob.token, body: { device_keys: { [`@a\u0000b:${s.serverName}`]: [], [bob.userId]: ['x\u0000'] } } });
    expect(nul.status).toBe(200);
    const nulClaim = await call<Body>(s.url, 'POST', 'keys/claim', { token: bob.token, body: { one_time_keys: { [bob.userId]: { 'd\u0000': 'signed_curve25519' } } } });
    expect(nulClaim.body).toEqual({ one_time_keys: {}, failures: {} });
    const notObject = await call<Body>(s.url, 'POST', 'keys/query', { token: bob.token, body: { device_keys: ['x'] } });
    expect(notObject.status).toBe(400);
    expect(notObject.body.errcode).toBe('M_BAD_JSON');
  });

  it('answers queries for all or some devices, users without keys with an empty object', async () => {
    const all = await call<Body>(s.url, 'POST', 'keys/query', { token: bob.token, body: { device_keys: { [alice.userId]: [], [bob.userId]: [] } } });
    expect(all.status).toBe(200);
    assertMatchesSpec(all.body, { api: 'client-server', file: 'keys.yaml', path: '/keys/query', method: 'post', status: 200 });
    expect(all.body.device_keys[alice.userId][alice.deviceId]).toMatchObject({ ...deviceKeys(alice), unsigned: {} });
    expect(all.body.device_keys[bob.userId]).toEqual({});
    expect(all.body.failures).toEqual({});
    const some = await call<Body>(s.url, 'POST', 'keys/query', { token: bob.token, body: { device_keys: { [alice.userId]: ['NOSUCH'] } } });
    expect(some.body.device_keys[alice.userId]).toEqual({});
  });

  it('answers a query with the stored keys and the device name in unsigned, as JSON, whatever the name holds', async () => {
    const lena = await registerUser(s.url, 'lena');
    const name = 'Lena\'s "phone" \u2603 \\ \u2028';
    expect((await call(s.url, 'PUT', `devices/${lena.deviceId}`, { token: lena.token, body: { display_name: name } })).status).toBe(200);
    const extra = { ...deviceKeys(lena), 'org.example.field': { nested: ['x', 1] } };
    expect((await call(s.url, 'POST', 'keys/upload', { token: lena.token, body: { device_keys: { ...extra, unsigned: { dropped: true } } } })).status).toBe(200);
    const reply = await fetch(`${s.url}/_matrix/client/v3/keys/query`, {
      method: 'POST',
      headers: { authorization: `Bearer ${bob.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ device_keys: { [lena.userId]: [], [alice.userId]: [alice.deviceId] } }),
    });
    expect(reply.status).toBe(200);
    expect(reply.headers.get('content-type')).toMatch(/^application\/json/);
    const body = JSON.parse(await reply.text()) as Body;
    assertMatchesSpec(body, { api: 'client-server', file: 'keys.yaml', path: '/keys/query', method: 'post', status: 200 });
    expect(body.device_keys[lena.userId]).toEqual({ [lena.deviceId]: { ...extra, unsigned: { device_display_name: name } } });
    expect(Object.keys(body.device_keys[alice.userId])).toEqual([alice.deviceId]);
    expect(body.failures).toEqual({});
  });

  it('hands each one-time key out once, even to concurrent claims, then the fallback key', async () => {
    const carol = await registerUser(s.url, 'carol');
    const keys: Record<string, Body> = {};
    for (let i = 0; i < 10; i++) keys[`signed_curve25519:K${i}`] = { key: `key${i}`, signatures: { [carol.userId]: { [`ed25519:${carol.deviceId}`]: 'sig' } } };
    await call(s.url, 'POST', 'keys/upload', { token: carol.token, body: { device_keys: deviceKeys(carol), one_time_keys: keys, fallback_keys: { 'signed_curve25519:F1': { key: 'fallback', fallback: true, signatures: { [carol.userId]: { [`ed25519:${carol.deviceId}`]: 'sig' } } } } } });
    const claims = await Promise.all(
      Array.from({ length: 12 }, () => call<Body>(s.url, 'POST', 'keys/claim', { token: bob.token, body: { one_time_keys: { [carol.userId]: { [carol.deviceId]: 'signed_curve25519' } } } })),
    );
    for (const claim of claims) assertMatchesSpec(claim.body, { api: 'client-server', file: 'keys.yaml', path: '/keys/claim', method: 'post', status: 200 });
    const handed = claims.map((c) => Object.keys(c.body.one_time_keys[carol.userId][carol.deviceId])[0]);
    const oneTime = handed.filter((id) => id !== 'signed_curve25519:F1');
    expect(new Set(oneTime).size).toBe(10);
    expect(handed.filter((id) => id === 'signed_curve25519:F1')).toHaveLength(2);
    // Carol's next sync shows no one-time keys left and the fallback key used.
    const body = await sync(carol);
    expect(body.device_one_time_keys_count).toEqual({ signed_curve25519: 0 });
    expect(body.device_unused_fallback_key_types).toEqual([]);
    const none = await call<Body>(s.url, 'POST', 'keys/claim', { token: bob.token, body: { one_time_keys: { [carol.userId]: { [carol.deviceId]: 'other_algorithm' } } } });
    expect(none.body.one_time_keys).toEqual({});
  });

  it('claims the keys of several devices in one request: one-time keys, fallback keys, nothing for devices with neither', async () => {
    const erin = await registerUser(s.url, 'erin');
    const erin2 = await login(s.url, erin);
    const frank = await registerUser(s.url, 'frank');
    const signed = (user: TestUser, key: string, fallback = false): Body => ({ key, ...(fallback ? { fallback: true } : {}), signatures: { [user.userId]: { [`ed25519:${user.deviceId}`]: 'sig' } } });
    // Erin's first device has two one-time keys, her second only a fallback key, Frank's device nothing.
    await call(s.url, 'POST', 'keys/upload', { token: erin.token, body: { one_time_keys: { 'signed_curve25519:B': signed(erin, 'b'), 'signed_curve25519:A': signed(erin, 'a') } } });
    await call(s.url, 'POST', 'keys/upload', { token: erin2.token, body: { fallback_keys: { 'signed_curve25519:F': signed(erin2, 'f', true) } } });
    const body = { one_time_keys: { [erin.userId]: { [erin.deviceId]: 'signed_curve25519', [erin2.deviceId]: 'signed_curve25519', NOSUCH: 'signed_curve25519' }, [frank.userId]: { [frank.deviceId]: 'signed_curve25519' } } };
    const first = await call<Body>(s.url, 'POST', 'keys/claim', { token: bob.token, body });
    assertMatchesSpec(first.body, { api: 'client-server', file: 'keys.yaml', path: '/keys/claim', method: 'post', status: 200 });
    expect(first.body.one_time_keys).toEqual({
      [erin.userId]: { [erin.deviceId]: { 'signed_curve25519:A': signed(erin, 'a') }, [erin2.deviceId]: { 'signed_curve25519:F': signed(erin2, 'f', true) } },
    });
    const second = await call<Body>(s.url, 'POST', 'keys/claim', { token: bob.token, body });
    expect(second.body.one_time_keys).toEqual({
      [erin.userId]: { [erin.deviceId]: { 'signed_curve25519:B': signed(erin, 'b') }, [erin2.deviceId]: { 'signed_curve25519:F': signed(erin2, 'f', true) } },
    });
    const third = await call<Body>(s.url, 'POST', 'keys/claim', { token: bob.token, body });
    expect(third.body.one_time_keys).toEqual({ [erin.userId]: { [erin2.deviceId]: { 'signed_curve25519:F': signed(erin2, 'f', true) } } });
  });

  it('reports device list changes of room-mates in /sync and /keys/changes, and users who stopped sharing a room', async () => {
    const dave = await registerUser(s.url, 'dave');
    await call(s.url, 'POST', `join/${encodeURIComponent(roomId)}`, { token: dave.token, body: {} });
    const start = (await sync(bob)).next_batch as string;
    // Dave's keys are new: Bob (who shares the room) hears of it, and so does Dave himself.
    const waiting = sync(bob, start, 10_000);
    await call(s.url, 'POST', 'keys/upload', { token: dave.token, body: { device_keys: deviceKeys(dave) } });
    const woken = await waiting;
    expect(woken.device_lists.changed).toContain(dave.userId);
    const changes = await call<Body>(s.url, 'GET', 'keys/changes', { token: bob.token, query: { from: start, to: woken.next_batch } });
    expect(changes.status).toBe(200);
    assertMatchesSpec(changes.body, { api: 'client-server', file: 'keys.yaml', path: '/keys/changes', method: 'get', status: 200 });
    expect(changes.body.changed).toContain(dave.userId);
    // A user invited to one of Bob's rooms is new to Bob.
    const hank = await registerUser(s.url, 'hank');
    await call(s.url, 'POST', `rooms/${encodeURIComponent(roomId)}/invite`, { token: alice.token, body: { user_id: hank.userId } });
    const afterInvite = await sync(bob, woken.next_batch);
    expect(afterInvite.device_lists.changed).toContain(hank.userId);
    // A user sharing no room with Bob is not reported.
    const eve = await registerUser(s.url, 'eve');
    await call(s.url, 'POST', 'keys/upload', { token: eve.token, body: { device_keys: deviceKeys(eve) } });
    const afterEve = await sync(bob, afterInvite.next_batch);
    expect(afterEve.device_lists?.changed ?? []).not.toContain(eve.userId);
    // Dave leaves: Bob gets him in `left`.
    await call(s.url, 'POST', `rooms/${encodeURIComponent(roomId)}/leave`, { token: dave.token, body: {} });
    const afterLeave = await sync(bob, afterEve.next_batch);
    expect(afterLeave.device_lists.left).toEqual([dave.userId]);
    const leftChanges = await call<Body>(s.url, 'GET', 'keys/changes', { token: bob.token, query: { from: afterEve.next_batch, to: afterLeave.next_batch } });
    expect(leftChanges.body.left).toEqual([dave.userId]);
    // A new device of Bob's own is reported to Bob.
    const second = await login(s.url, bob);
    const own = await sync(bob, afterLeave.next_batch);
    expect(own.device_lists.changed).toContain(bob.userId);
    // Deleting it drops its keys at once.
    await call(s.url, 'POST', 'keys/upload', { token: second.token, body: { device_keys: deviceKeys(second) } });
    const before = await call<Body>(s.url, 'POST', 'keys/query', { token: alice.token, body: { device_keys: { [bob.userId]: [] } } });
    expect(Object.keys(before.body.device_keys[bob.userId])).toContain(second.deviceId);
    const first = await call<Body>(s.url, 'DELETE', `devices/${second.deviceId}`, { token: bob.token, body: {} });
    const deleted = await call(s.url, 'DELETE', `devices/${second.deviceId}`, { token: bob.token, body: { auth: passwordAuth(bob, first.body.session) } });
    expect(deleted.status).toBe(200);
    const after = await call<Body>(s.url, 'POST', 'keys/query', { token: alice.token, body: { device_keys: { [bob.userId]: [] } } });
    expect(Object.keys(after.body.device_keys[bob.userId])).not.toContain(second.deviceId);
  });

  it('delivers to-device messages in order, to one device or all (*), until the device acknowledges them', async () => {
    const frank = await registerUser(s.url, 'frank');
    const frank2 = await login(s.url, frank);
    const initial = await sync(frank);
    const waiting = sync(frank, initial.next_batch, 10_000);
    for (let i = 0; i < 3; i++) {
      const put = await call(s.url, 'PUT', `sendToDevice/m.test/txn${i}`, { token: alice.token, body: { messages: { [frank.userId]: { [frank.deviceId]: { n: i } } } } });
      expect(put.status).toBe(200);
    }
    // The same transaction id again sends nothing.
    await call(s.url, 'PUT', 'sendToDevice/m.test/txn0', { token: alice.token, body: { messages: { [frank.userId]: { [frank.deviceId]: { n: 0 } } } } });
    const first = await waiting;
    expect(first.to_device.events.length).toBeGreaterThan(0);
    // Not acknowledged yet: the same since gets them again, all three in order.
    const all = await sync(frank, initial.next_batch);
    expect(all.to_device.events).toEqual([0, 1, 2].map((n) => ({ sender: alice.userId, type: 'm.test', content: { n } })));
    expect((await sync(frank, initial.next_batch)).to_device.events).toHaveLength(3);
    const token = all.next_batch as string;
    // Acknowledged by the next since: gone.
    const acked = await sync(frank, token);
    expect(acked.to_device).toBeUndefined();
    const fromStart = await sync(frank, initial.next_batch);
    expect(fromStart.to_device).toBeUndefined();
    // `*`: every device of the user.
    await call(s.url, 'PUT', 'sendToDevice/m.star/t1', { token: alice.token, body: { messages: { [frank.userId]: { '*': { all: true } } } } });
    expect((await sync(frank, acked.next_batch)).to_device.events).toEqual([{ sender: alice.userId, type: 'm.star', content: { all: true } }]);
    expect((await sync(frank2)).to_device.events).toEqual([{ sender: alice.userId, type: 'm.star', content: { all: true } }]);
    const bad = await call<Body>(s.url, 'PUT', 'sendToDevice/m.test/bad', { token: alice.token, body: { messages: { [frank.userId]: { [frank.deviceId]: 'not an object' } } } });
    expect(bad.status).toBe(400);
    expect(bad.body.errcode).toBe('M_BAD_JSON');
  });

  it('a sync right after an acknowledged send has the message (read your writes)', async () => {
    const gina = await registerUser(s.url, 'gina');
    let token = (await sync(gina)).next_batch as string;
    for (let i = 0; i < 50; i++) {
      await call(s.url, 'PUT', `sendToDevice/m.ryw/t${i}`, { token: alice.token, body: { messages: { [gina.userId]: { [gina.deviceId]: { i } } } } });
      const body = await sync(gina, token);
      expect(body.to_device?.events).toEqual([{ sender: alice.userId, type: 'm.ryw', content: { i } }]);
      token = body.next_batch;
    }
  });

  it('long-polls woken by one send each get exactly their messages, and their next syncs acknowledge them', async () => {
    const users = await Promise.all(['hal', 'ida', 'jon', 'kim'].map((name) => registerUser(s.url, name)));
    const tokens = await Promise.all(users.map(async (u) => (await sync(u)).next_batch as string));
    // kim has an older message waiting that her since does not cover.
    await call(s.url, 'PUT', 'sendToDevice/m.fan/old', { token: alice.token, body: { messages: { [users[3].userId]: { [users[3].deviceId]: { old: true } } } } });
    const waiting = users.slice(0, 3).map((u, i) => sync(u, tokens[i], 10_000));
    await new Promise((resolve) => setTimeout(resolve, 200));
    const messages = Object.fromEntries(users.map((u, i) => [u.userId, { [u.deviceId]: { to: i } }]));
    expect((await call(s.url, 'PUT', 'sendToDevice/m.fan/one', { token: alice.token, body: { messages } })).status).toBe(200);
    const woken = [...(await Promise.all(waiting)), await sync(users[3], tokens[3], 10_000)];
    expect(woken.map((body) => body.to_device?.events)).toEqual([
      [{ sender: alice.userId, type: 'm.fan', content: { to: 0 } }],
      [{ sender: alice.userId, type: 'm.fan', content: { to: 1 } }],
      [{ sender: alice.userId, type: 'm.fan', content: { to: 2 } }],
      [
        { sender: alice.userId, type: 'm.fan', content: { old: true } },
        { sender: alice.userId, type: 'm.fan', content: { to: 3 } },
      ],
    ]);
    for (const body of woken) {
      assertMatchesSpec(body, { api: 'client-server', file: 'sync.yaml', path: '/sync', method: 'get', status: 200 });
      expect(body.device_one_time_keys_count).toEqual({ signed_curve25519: 0 });
    }
    // The next syncs, together, acknowledge them: nothing new, and the old since finds them gone.
    const next = await Promise.all(users.map((u, i) => sync(u, woken[i].next_batch)));
    expect(next.map((body) => body.to_device)).toEqual([undefined, undefined, undefined, undefined]);
    expect((await sync(users[0], tokens[0])).to_device).toBeUndefined();
    // A long-poll that times out with nothing new still reports the device's key counts, as they are when it answers.
    const quiet = sync(users[1], next[1].next_batch, 1500);
    await call(s.url, 'POST', 'keys/upload', { token: users[1].token, body: { one_time_keys: { 'signed_curve25519:Q': { key: 'q' } } } });
    const timedOut = await quiet;
    expect(timedOut.to_device).toBeUndefined();
    expect(timedOut.device_one_time_keys_count).toEqual({ signed_curve25519: 1 });
    expect(timedOut.device_unused_fallback_key_types).toEqual([]);
  });

  it('keeps one dehydrated device per user: its keys and messages, read in batches, replaced by the next one', async () => {
    const ivy = await registerUser(s.url, 'ivy');
    const path = '/_matrix/client/unstable/org.matrix.msc3814.v1/dehydrated_device';
    expect((await call<Body>(s.url, 'GET', path, { token: ivy.token })).body.errcode).toBe('M_NOT_FOUND');
    const put = await call<Body>(s.url, 'PUT', path, {
      token: ivy.token,
      body: {
        device_id: 'DEHYDRATED1',
        device_data: { algorithm: 'org.matrix.msc3814.v1.olm', device_pickle: 'encrypted' },
        initial_device_display_name: 'Dehydrated',
        device_keys: deviceKeys(ivy, 'DEHYDRATED1'),
        one_time_keys: { 'signed_curve25519:D1': { key: 'd1', signatures: {} } },
      },
    });
    expect(put.status).toBe(200);
    expect(put.body).toEqual({ device_id: 'DEHYDRATED1' });
    expect((await call<Body>(s.url, 'GET', path, { token: ivy.token })).body).toEqual({
      device_id: 'DEHYDRATED1',
      device_data: { algorithm: 'org.matrix.msc3814.v1.olm', device_pickle: 'encrypted' },
    });
    // Others see its keys, claim its one-time key and send it messages.
    const query = await call<Body>(s.url, 'POST', 'keys/query', { token: bob.token, body: { device_keys: { [ivy.userId]: ['DEHYDRATED1'] } } });
    expect(query.body.device_keys[ivy.userId].DEHYDRATED1.unsigned).toEqual({ device_display_name: 'Dehydrated' });
    const claim = await call<Body>(s.url, 'POST', 'keys/claim', { token: bob.token, body: { one_time_keys: { [ivy.userId]: { DEHYDRATED1: 'signed_curve25519' } } } });
    expect(Object.keys(claim.body.one_time_keys[ivy.userId].DEHYDRATED1)).toEqual(['signed_curve25519:D1']);
    for (let i = 0; i < 3; i++) {
      await call(s.url, 'PUT', `sendToDevice/m.room_key/dh${i}`, { token: bob.token, body: { messages: { [ivy.userId]: { DEHYDRATED1: { i } } } } });
    }
    const events = `${path}/DEHYDRATED1/events`;
    const first = await call<Body>(s.url, 'POST', events, { token: ivy.token, body: {} });
    expect(first.body.events).toEqual([0, 1, 2].map((i) => ({ sender: bob.userId, type: 'm.room_key', content: { i } })));
    const last = await call<Body>(s.url, 'POST', events, { token: ivy.token, body: { next_batch: first.body.next_batch } });
    expect(last.body).toEqual({ events: [], next_batch: first.body.next_batch });
    // Reading deletes nothing: an interrupted rehydration starts again.
    expect((await call<Body>(s.url, 'POST', events, { token: ivy.token, body: {} })).body.events).toHaveLength(3);
    expect((await call<Body>(s.url, 'POST', `${path}/${ivy.deviceId}/events`, { token: ivy.token, body: {} })).status).toBe(403);
    expect((await call<Body>(s.url, 'POST', events, { token: bob.token, body: {} })).status).toBe(403);
    // An ordinary device's id cannot be taken.
    const clash = await call<Body>(s.url, 'PUT', path, { token: ivy.token, body: { device_id: ivy.deviceId, device_data: { algorithm: 'x' }, device_keys: deviceKeys(ivy) } });
    expect(clash.status).toBe(400);
    // A new one replaces it: the old device, its keys and messages are gone.
    const again = await call<Body>(s.url, 'PUT', path, { token: ivy.token, body: { device_id: 'DEHYDRATED2', device_data: { algorithm: 'y' }, device_keys: deviceKeys(ivy, 'DEHYDRATED2') } });
    expect(again.status).toBe(200);
    const devices = (await call<Body>(s.url, 'GET', 'devices', { token: ivy.token })).body.devices as Body[];
    expect(devices.map((d) => d.device_id).sort()).toEqual(['DEHYDRATED2', ivy.deviceId].sort());
    const keysNow = await call<Body>(s.url, 'POST', 'keys/query', { token: bob.token, body: { device_keys: { [ivy.userId]: [] } } });
    expect(Object.keys(keysNow.body.device_keys[ivy.userId])).toEqual(['DEHYDRATED2']);
    const deleted = await call<Body>(s.url, 'DELETE', path, { token: ivy.token });
    expect(deleted.body).toEqual({ device_id: 'DEHYDRATED2' });
    expect((await call<Body>(s.url, 'GET', path, { token: ivy.token })).status).toBe(404);
    expect(((await call<Body>(s.url, 'GET', 'devices', { token: ivy.token })).body.devices as Body[]).map((d) => d.device_id)).toEqual([ivy.deviceId]);
  });
});
