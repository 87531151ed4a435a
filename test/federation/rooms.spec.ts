/**
 * Rooms across two instances of the homeserver over HTTPS on loopback: joins through
 * make_join/send_join, messages and state both ways through transactions, invites of remote
 * users, leaving and rejoining.
 */
import { readFileSync } from 'node:fs';
import { signNewEvent, type Pdu } from '@hs/protocol';
import { signedRawRequest } from '../support/federation-instances';
import { Federation, TestUser, type FederatedInstance } from './support/instances';

describe('rooms across two instances', () => {
  const federation = new Federation();
  let a: FederatedInstance;
  let b: FederatedInstance;
  let alice: TestUser;
  let bob: TestUser;

  beforeAll(async () => {
    await federation.prepare(2);
    a = await federation.start(0);
    b = await federation.start(1);
    alice = await TestUser.register(a, 'alice');
    bob = await TestUser.register(b, 'bob');
  }, 120_000);

  afterAll(async () => {
    await Promise.allSettled([a, b].filter(Boolean).map((instance) => instance.server.close()));
    federation.dispose();
  });

  it('a user of B joins a public room of A through A, and sees its state', async () => {
    const roomId = await alice.createRoom({ preset: 'public_chat', name: 'Across' });
    await alice.send(roomId, 'before bob');
    expect(await bob.join(roomId, [a.name])).toBe(roomId);
    const name = await bob.state(roomId, 'm.room.name');
    expect(name).toEqual({ status: 200, body: { name: 'Across' } });
    const member = await alice.state(roomId, 'm.room.member', bob.userId);
    expect(member.body.membership).toBe('join');
    shared = roomId;
  }, 60_000);

  let shared = '';

  it('messages go both ways through transactions and show in /sync on both sides', async () => {
    await alice.send(shared, 'hello bob');
    await bob.waitForMessage(shared, 'hello bob');
    await bob.send(shared, 'hello alice');
    await alice.waitForMessage(shared, 'hello alice');
  }, 60_000);

  it('state changes go both ways', async () => {
    await alice.ok('PUT', `/_matrix/client/v3/rooms/${encodeURIComponent(shared)}/state/m.room.topic/`, { topic: 'set on A' });
    await waitFor(async () => (await bob.state(shared, 'm.room.topic')).body.topic === 'set on A');
    await alice.ok('PUT', `/_matrix/client/v3/rooms/${encodeURIComponent(shared)}/state/m.room.power_levels/`, {
      users: { [alice.userId]: 100, [bob.userId]: 50 },
      state_default: 50,
    });
    await waitFor(async () => ((await bob.state(shared, 'm.room.power_levels')).body.users as Record<string, number> | undefined)?.[bob.userId] === 50);
    await bob.ok('PUT', `/_matrix/client/v3/rooms/${encodeURIComponent(shared)}/state/m.room.name/`, { name: 'Renamed on B' });
    await waitFor(async () => (await alice.state(shared, 'm.room.name')).body.name === 'Renamed on B');
  }, 60_000);

  it('a remote user is invited, accepts, and talks', async () => {
    const roomId = await alice.createRoom({ preset: 'private_chat', invite: [bob.userId] });
    await bob.waitForInvite(roomId);
    expect(await bob.join(roomId)).toBe(roomId);
    await bob.send(roomId, 'thanks for the invite');
    await alice.waitForMessage(roomId, 'thanks for the invite');
  }, 60_000);

  it('a remote invite is declined', async () => {
    const roomId = await alice.createRoom({ preset: 'private_chat', invite: [bob.userId] });
    await bob.waitForInvite(roomId);
    await bob.ok('POST', `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/leave`, {});
    await waitFor(async () => (await alice.state(roomId, 'm.room.member', bob.userId)).body.membership === 'leave');
  }, 60_000);

  it('a user of A invites a user of B to a room of B', async () => {
    const roomId = await bob.createRoom({ preset: 'private_chat', invite: [alice.userId] });
    await alice.waitForInvite(roomId);
    await alice.join(roomId);
    await alice.send(roomId, 'in a room of B');
    await bob.waitForMessage(roomId, 'in a room of B');
  }, 60_000);

  it('a user of B joins a room version 1 room of A (references with reference hashes) and they talk', async () => {
    const roomId = await alice.createRoom({ preset: 'public_chat', room_version: '1' });
    expect(await bob.join(roomId, [a.name])).toBe(roomId);
    await bob.send(roomId, 'hello in version 1');
    await alice.waitForMessage(roomId, 'hello in version 1');
    await alice.send(roomId, 'and back');
    await bob.waitForMessage(roomId, 'and back');
  }, 60_000);

  it('a client of B looks up an alias of A through A\'s directory', async () => {
    const roomId = await alice.createRoom({ preset: 'public_chat', room_alias_name: 'looked-up' });
    const alias = `#looked-up:${a.name}`;
    const found = await bob.call('GET', `/_matrix/client/v3/directory/room/${encodeURIComponent(alias)}`);
    expect(found).toEqual({ status: 200, body: { room_id: roomId, servers: [a.name] } });
    const unknown = await bob.call('GET', `/_matrix/client/v3/directory/room/${encodeURIComponent(`#nothing-here:${a.name}`)}`);
    expect(unknown.status).toBe(404);
  }, 60_000);

  it('A answers make_join of an unsupported version with the room version, honours its server ACL, and takes v1 invites', async () => {
    const ca = readFileSync(federation.caFile, 'utf8');
    const fromB = { origin: b.name, key: b.server.server.keys.ourKeys.signingKey, destination: a.name };
    const q = encodeURIComponent;
    const roomId = await alice.createRoom({ preset: 'public_chat', room_version: '2' });
    const carol = `@carol:${b.name}`;
    const incompatible = await signedRawRequest(a.port, ca, fromB, { path: `/_matrix/federation/v1/make_join/${q(roomId)}/${q(carol)}?ver=10&ver=11` });
    expect(incompatible).toEqual({ status: 400, body: { errcode: 'M_INCOMPATIBLE_ROOM_VERSION', error: expect.any(String), room_version: '2' } });
    const allowed = await signedRawRequest(a.port, ca, fromB, { path: `/_matrix/federation/v1/make_join/${q(roomId)}/${q(carol)}?ver=2` });
    expect(allowed.status).toBe(200);
    await alice.ok('PUT', `/_matrix/client/v3/rooms/${q(roomId)}/state/m.room.server_acl/`, { allow: ['*'], deny: [b.name.replace(/:\d+$/, '')] });
    const denied = await signedRawRequest(a.port, ca, fromB, { path: `/_matrix/federation/v1/make_join/${q(roomId)}/${q(carol)}?ver=2` });
    expect(denied).toEqual({ status: 403, body: { errcode: 'M_FORBIDDEN', error: expect.any(String) } });

    // A v1 invite of alice to a room of B that A does not hold: the body is the event, the answer [200, {event}].
    const elsewhere = `!v1-invite:${b.name}`;
    const invite = signNewEvent(
      {
        room_id: elsewhere,
        sender: carol,
        type: 'm.room.member',
        state_key: alice.userId,
        content: { membership: 'invite' },
        origin: b.name,
        origin_server_ts: Date.now(),
        depth: 3,
        prev_events: [],
        auth_events: [],
        hashes: { sha256: '' },
        signatures: {},
      } as unknown as Pdu,
      '1',
      b.name,
      fromB.key,
    );
    const answered = await signedRawRequest(a.port, ca, fromB, {
      method: 'PUT',
      path: `/_matrix/federation/v1/invite/${q(elsewhere)}/${q(invite.event.event_id)}`,
      body: invite.pdu,
    });
    expect(answered.status).toBe(200);
    const [code, body] = answered.body as unknown as [number, { event: Pdu }];
    expect(code).toBe(200);
    expect(Object.keys(body.event.signatures ?? {}).sort()).toEqual([a.name, b.name].sort());
    await alice.waitForInvite(elsewhere);
  }, 60_000);

  it('one side leaves and rejoins', async () => {
    await bob.ok('POST', `/_matrix/client/v3/rooms/${encodeURIComponent(shared)}/leave`, {});
    await waitFor(async () => (await alice.state(shared, 'm.room.member', bob.userId)).body.membership === 'leave');
    await alice.send(shared, 'while bob was away');
    await bob.join(shared, [a.name]);
    await waitFor(async () => (await alice.state(shared, 'm.room.member', bob.userId)).body.membership === 'join');
    await alice.send(shared, 'welcome back');
    await bob.waitForMessage(shared, 'welcome back');
  }, 60_000);
});

async function waitFor(check: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`not true within ${timeoutMs} ms: ${check.toString()}`);
}
