/**
 * End-to-end encryption keys across two instances of the homeserver over HTTPS on loopback:
 * key queries and one-time key claims for the other server's users, to-device messages as
 * m.direct_to_device EDUs, and device list updates (m.device_list_update) that show in the
 * other side's /sync.
 */
import { Federation, TestUser, type FederatedInstance } from './support/instances';

type Body = Record<string, unknown>;

function deviceKeys(userId: string, deviceId: string): Body {
  return {
    user_id: userId,
    device_id: deviceId,
    algorithms: ['m.olm.v1.curve25519-aes-sha2', 'm.megolm.v1.aes-sha2'],
    keys: { [`curve25519:${deviceId}`]: `curve-${deviceId}`, [`ed25519:${deviceId}`]: `ed-${deviceId}` },
    signatures: { [userId]: { [`ed25519:${deviceId}`]: 'self-signature' } },
  };
}

describe('end-to-end encryption keys across two instances', () => {
  const federation = new Federation();
  let a: FederatedInstance;
  let b: FederatedInstance;
  let alice: TestUser;
  let bob: TestUser;
  let bobDevice: string;
  let roomId: string;

  beforeAll(async () => {
    await federation.prepare(2);
    a = await federation.start(0);
    b = await federation.start(1);
    alice = await TestUser.register(a, 'alice');
    bob = await TestUser.register(b, 'bob');
    bobDevice = (await bob.ok('GET', '/_matrix/client/v3/account/whoami')).device_id as string;
    roomId = await alice.createRoom({ preset: 'public_chat' });
    await bob.join(roomId, [a.name]);
    await alice.syncUntil((sync) => (JSON.stringify(sync.rooms ?? {}).includes(bob.userId) ? true : undefined));
  }, 120_000);

  afterAll(async () => {
    await Promise.allSettled([a, b].filter(Boolean).map((instance) => instance.server.close()));
    federation.dispose();
  }, 120_000);

  it("queries the other server's device keys and claims its one-time keys, each once", async () => {
    await bob.ok('POST', '/_matrix/client/v3/keys/upload', {
      device_keys: deviceKeys(bob.userId, bobDevice),
      one_time_keys: { 'signed_curve25519:AAAA': { key: 'one', signatures: {} }, 'signed_curve25519:AAAB': { key: 'two', signatures: {} } },
    });
    const query = await alice.ok('POST', '/_matrix/client/v3/keys/query', { device_keys: { [bob.userId]: [] } });
    expect(query.failures).toEqual({});
    expect((query.device_keys as Record<string, Record<string, Body>>)[bob.userId][bobDevice]).toMatchObject(deviceKeys(bob.userId, bobDevice));
    const claimed = new Set<string>();
    for (let i = 0; i < 3; i++) {
      const claim = await alice.ok('POST', '/_matrix/client/v3/keys/claim', { one_time_keys: { [bob.userId]: { [bobDevice]: 'signed_curve25519' } } });
      expect(claim.failures).toEqual({});
      const keys = (claim.one_time_keys as Record<string, Record<string, Body>>)[bob.userId]?.[bobDevice];
      for (const id of Object.keys(keys ?? {})) claimed.add(id);
    }
    expect([...claimed].sort()).toEqual(['signed_curve25519:AAAA', 'signed_curve25519:AAAB']);
    // A server that cannot be reached is named in failures.
    const unreachable = await alice.ok('POST', '/_matrix/client/v3/keys/query', { device_keys: { '@nobody:unreachable.invalid': [] }, timeout: 2000 });
    expect(Object.keys(unreachable.failures as Body)).toEqual(['unreachable.invalid']);
  }, 60_000);

  it('sends to-device messages to the other server, which delivers them to the device', async () => {
    await alice.ok('PUT', `/_matrix/client/v3/sendToDevice/m.test.federated/txn1`, { messages: { [bob.userId]: { [bobDevice]: { hello: 'bob' } } } });
    const events = await bob.syncUntil((sync) => ((sync.to_device as { events?: Body[] } | undefined)?.events?.length ? (sync.to_device as { events: Body[] }).events : undefined), 30_000);
    expect(events).toEqual([{ sender: alice.userId, type: 'm.test.federated', content: { hello: 'bob' } }]);
  }, 60_000);

  it("tells the other server of a user's new device, whose users see it in /sync", async () => {
    const login = await fetch(`${b.server.url}/_matrix/client/v3/login`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ type: 'm.login.password', identifier: { type: 'm.id.user', user: bob.userId }, password: 'correct horse battery' }),
    });
    const session = (await login.json()) as { access_token: string; device_id: string };
    const upload = await fetch(`${b.server.url}/_matrix/client/v3/keys/upload`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${session.access_token}` },
      body: JSON.stringify({ device_keys: deviceKeys(bob.userId, session.device_id) }),
    });
    expect(upload.status).toBe(200);
    await alice.syncUntil((sync) => ((sync.device_lists as { changed?: string[] } | undefined)?.changed?.includes(bob.userId) ? true : undefined), 30_000);
    const query = await alice.ok('POST', '/_matrix/client/v3/keys/query', { device_keys: { [bob.userId]: [] } });
    expect(Object.keys((query.device_keys as Record<string, Body>)[bob.userId]).sort()).toEqual([bobDevice, session.device_id].sort());
  }, 60_000);

  it("a user of the other server, in a room made here, hears of a local user's new keys", async () => {
    const aliceDevice = (await alice.ok('GET', '/_matrix/client/v3/account/whoami')).device_id as string;
    await bob.syncUntil(() => true);
    await alice.ok('POST', '/_matrix/client/v3/keys/upload', { device_keys: deviceKeys(alice.userId, aliceDevice) });
    await bob.syncUntil((sync) => ((sync.device_lists as { changed?: string[] } | undefined)?.changed?.includes(alice.userId) ? true : undefined), 30_000);
  }, 60_000);
});
