/**
 * Rooms across two instances of the homeserver over HTTPS on loopback: joins through
 * make_join/send_join, messages and state both ways through transactions, invites of remote
 * users, leaving and rejoining.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { WriteModelReader } from '@hs/room';
import { eventTemplate, signingKeyFromSeed, signNewEvent, type JsonObject, type Pdu, type SigningKey, type StateKey } from '@hs/protocol';
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
    a = await federation.start(0, { HS_REGISTRATION__ALLOW_GUEST_ACCESS: 'true' });
    b = await federation.start(1);
    alice = await TestUser.register(a, 'alice');
    bob = await TestUser.register(b, 'bob');
  }, 120_000);

  afterAll(async () => {
    await Promise.allSettled([a, b].filter(Boolean).map((instance) => instance.server.close()));
    federation.dispose();
  }, 120_000);

  it('a user of B joins a public room of A through A, and sees its state', async () => {
    const roomId = await alice.createRoom({ preset: 'public_chat', name: 'Across' });
    await alice.send(roomId, 'before bob');
    const sinceBefore = (await bob.ok('GET', '/_matrix/client/v3/sync?timeout=0')).next_batch as string;
    expect(await bob.join(roomId, [a.name])).toBe(roomId);
    const name = await bob.state(roomId, 'm.room.name');
    expect(name).toEqual({ status: 200, body: { name: 'Across' } });
    const member = await alice.state(roomId, 'm.room.member', bob.userId);
    expect(member.body.membership).toBe('join');
    // /sync, incremental from before the join and initial, starts the room's timeline on its
    // whole state: what the join brought from A.
    type Joined = { state: { events: { type: string; state_key: string; content: Record<string, unknown> }[] }; timeline: { events: { type: string; state_key?: string }[] } };
    for (const query of [`since=${encodeURIComponent(sinceBefore)}&timeout=0`, 'timeout=0']) {
      const sync = await bob.ok('GET', `/_matrix/client/v3/sync?${query}`);
      const room = (sync.rooms as { join: Record<string, Joined> }).join[roomId];
      const seen = [...room.state.events, ...room.timeline.events];
      for (const type of ['m.room.create', 'm.room.power_levels', 'm.room.join_rules', 'm.room.history_visibility']) {
        expect({ query, type, found: seen.some((e) => e.type === type) }).toEqual({ query, type, found: true });
      }
      expect(room.state.events.find((e) => e.type === 'm.room.name')?.content).toEqual({ name: 'Across' });
      expect(seen.find((e) => e.type === 'm.room.member' && e.state_key === alice.userId)).toBeDefined();
      expect(room.timeline.events.at(-1)).toMatchObject({ type: 'm.room.member', state_key: bob.userId });
    }
    shared = roomId;
  }, 60_000);

  let shared = '';

  it('messages go both ways through transactions and show in /sync on both sides', async () => {
    await alice.send(shared, 'hello bob');
    await bob.waitForMessage(shared, 'hello bob');
    await bob.send(shared, 'hello alice');
    await alice.waitForMessage(shared, 'hello alice');
  }, 60_000);

  it('typing notifications and read receipts go both ways as EDUs', async () => {
    const ephemeral = (user: TestUser, match: (event: { type: string; content: Record<string, unknown> }) => boolean) =>
      user.syncUntil((sync) => {
        const rooms = (sync.rooms as { join?: Record<string, { ephemeral?: { events?: { type: string; content: Record<string, unknown> }[] } }> } | undefined)?.join;
        return rooms?.[shared]?.ephemeral?.events?.find(match);
      });
    await bob.ok('PUT', `/_matrix/client/v3/rooms/${encodeURIComponent(shared)}/typing/${encodeURIComponent(bob.userId)}`, { typing: true, timeout: 20_000 });
    await ephemeral(alice, (e) => e.type === 'm.typing' && (e.content.user_ids as string[]).includes(bob.userId));
    const eventId = await alice.send(shared, 'read me');
    await bob.waitForMessage(shared, 'read me');
    await bob.ok('POST', `/_matrix/client/v3/rooms/${encodeURIComponent(shared)}/receipt/m.read/${encodeURIComponent(eventId)}`, {});
    await ephemeral(alice, (e) => e.type === 'm.receipt' && JSON.stringify(e.content[eventId] ?? {}).includes(bob.userId));
    await alice.ok('PUT', `/_matrix/client/v3/rooms/${encodeURIComponent(shared)}/typing/${encodeURIComponent(alice.userId)}`, { typing: true, timeout: 20_000 });
    await ephemeral(bob, (e) => e.type === 'm.typing' && (e.content.user_ids as string[]).includes(alice.userId));
  }, 60_000);

  it('a client of B lists the published room directory of A, filtered and not', async () => {
    const tag = `listed${Date.now()}`;
    const roomId = await alice.createRoom({ preset: 'public_chat', visibility: 'public', name: `${tag} room`, topic: 'on A' });
    type Page = { chunk: { room_id: string; name?: string; topic?: string; num_joined_members: number }[] };
    const got = (await bob.ok('GET', `/_matrix/client/v3/publicRooms?server=${encodeURIComponent(a.name)}&limit=500`)) as unknown as Page;
    expect(got.chunk.find((room) => room.room_id === roomId)).toMatchObject({ name: `${tag} room`, topic: 'on A', num_joined_members: 1 });
    const filtered = (await bob.ok('POST', `/_matrix/client/v3/publicRooms?server=${encodeURIComponent(a.name)}`, { filter: { generic_search_term: tag } })) as unknown as Page;
    expect(filtered.chunk.map((room) => room.room_id)).toEqual([roomId]);
    // A server that cannot be reached: a bad gateway, not a 500.
    const unreachable = await bob.call('GET', '/_matrix/client/v3/publicRooms?server=localhost:1');
    expect(unreachable.status).toBe(502);
    expect(unreachable.body.errcode).toBe('M_UNKNOWN');
  }, 60_000);

  it('presence goes both ways, and members of a new room see each other at once', async () => {
    type Presence = { type: string; sender: string; content: Record<string, unknown> };
    const presenceOf = (user: TestUser, sender: string, match: (content: Record<string, unknown>) => boolean) =>
      user.syncUntil((sync) => (sync.presence as { events?: Presence[] } | undefined)?.events?.find((e) => e.type === 'm.presence' && e.sender === sender && match(e.content)));
    await alice.ok('PUT', `/_matrix/client/v3/presence/${encodeURIComponent(alice.userId)}/status`, { presence: 'unavailable', status_msg: 'away on A' });
    await presenceOf(bob, alice.userId, (c) => c.presence === 'unavailable' && c.status_msg === 'away on A');
    await bob.ok('PUT', `/_matrix/client/v3/presence/${encodeURIComponent(bob.userId)}/status`, { presence: 'online', status_msg: 'here on B' });
    const seen = await presenceOf(alice, bob.userId, (c) => c.presence === 'online' && c.status_msg === 'here on B');
    expect(seen.content.currently_active).toBe(true);
    expect(await alice.ok('GET', `/_matrix/client/v3/presence/${encodeURIComponent(bob.userId)}/status`)).toMatchObject({ presence: 'online', status_msg: 'here on B' });

    // Two users who share no room yet: each server learns the other's presence from the join.
    const carol = await TestUser.register(a, 'carol-presence');
    const dave = await TestUser.register(b, 'dave-presence');
    await carol.ok('PUT', `/_matrix/client/v3/presence/${encodeURIComponent(carol.userId)}/status`, { presence: 'online', status_msg: 'carol on A' });
    await dave.ok('PUT', `/_matrix/client/v3/presence/${encodeURIComponent(dave.userId)}/status`, { presence: 'online', status_msg: 'dave on B' });
    const roomId = await carol.createRoom({ preset: 'private_chat', invite: [dave.userId] });
    await dave.waitForInvite(roomId);
    expect(await dave.join(roomId)).toBe(roomId);
    await presenceOf(carol, dave.userId, (c) => c.status_msg === 'dave on B');
    await presenceOf(dave, carol.userId, (c) => c.status_msg === 'carol on A');
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
    const roomId = await alice.createRoom({ preset: 'private_chat', name: 'By invitation', invite: [bob.userId] });
    // The invite shows with the stripped state A sent with it.
    const inviteState = await bob.syncUntil((sync) => {
      const invites = (sync.rooms as { invite?: Record<string, { invite_state?: { events?: { type: string; content: Record<string, unknown> }[] } }> } | undefined)?.invite;
      return invites?.[roomId]?.invite_state?.events;
    });
    expect(inviteState.find((e) => e.type === 'm.room.name')?.content).toEqual({ name: 'By invitation' });
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

  it('a user of B knocks on a room of A, is let in and joins', async () => {
    const roomId = await alice.createRoom({
      preset: 'private_chat',
      name: 'Knock first',
      initial_state: [{ type: 'm.room.join_rules', state_key: '', content: { join_rule: 'knock' } }],
    });
    await bob.ok('POST', `/_matrix/client/v3/knock/${encodeURIComponent(roomId)}?via=${encodeURIComponent(a.name)}`, { reason: 'let me in' });
    await waitFor(async () => (await alice.state(roomId, 'm.room.member', bob.userId)).body.membership === 'knock');
    // Bob's client shows the knock with the stripped state A answered.
    const knockState = await bob.syncUntil((sync) => {
      const knocks = (sync.rooms as { knock?: Record<string, { knock_state?: { events?: { type: string; content: Record<string, unknown> }[] } }> } | undefined)?.knock;
      return knocks?.[roomId]?.knock_state?.events;
    });
    expect(knockState.find((e) => e.type === 'm.room.name')?.content).toEqual({ name: 'Knock first' });
    await alice.ok('POST', `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/invite`, { user_id: bob.userId });
    await bob.waitForInvite(roomId);
    expect(await bob.join(roomId)).toBe(roomId);
    await bob.send(roomId, 'knocked and joined');
    await alice.waitForMessage(roomId, 'knocked and joined');
  }, 60_000);

  it('a user of A invites a user of B to a room of B', async () => {
    const roomId = await bob.createRoom({ preset: 'private_chat', invite: [alice.userId] });
    await alice.waitForInvite(roomId);
    await alice.join(roomId);
    await alice.send(roomId, 'in a room of B');
    await bob.waitForMessage(roomId, 'in a room of B');
  }, 60_000);

  it('forged events are refused and never reach clients: bad signature, another server\'s user, failed auth, and a bad hash (kept redacted)', async () => {
    const sendAsB = (pdus: Pdu[]) =>
      b.server.server.keys.client.request(a.name, { method: 'PUT', path: `/_matrix/federation/v1/send/forged-${Date.now()}`, body: { origin: b.name, origin_server_ts: Date.now(), pdus } });
    const ownKeyId = b.server.server.keys.ourKeys.signingKey.keyId;
    const badSignature = await craftEvent(b, shared, {
      sender: bob.userId,
      type: 'm.room.message',
      content: { body: 'forged signature' },
      key: signingKeyFromSeed(randomBytes(32), ownKeyId),
    });
    const otherServersUser = await craftEvent(b, shared, { sender: `@mallory:${a.name}`, type: 'm.room.message', content: { body: 'not my user' } });
    const notJoined = await craftEvent(b, shared, { sender: `@carol:${b.name}`, type: 'm.room.message', content: { body: 'not in the room' } });
    const tampered = await craftEvent(b, shared, { sender: bob.userId, type: 'm.room.message', content: { body: 'original' } });
    const tamperedPdu = { ...tampered.pdu, content: { body: 'tampered after signing' } } as Pdu;
    const answer = await sendAsB([badSignature.pdu, otherServersUser.pdu, notJoined.pdu, tamperedPdu]);
    const results = answer.body.pdus as Record<string, { error?: string }>;
    expect(results[badSignature.eventId].error).toMatch(/signature/);
    // Not signed by the sender's server: refused by the signature check before the origin check.
    expect(results[otherServersUser.eventId].error).toMatch(/missing_signature|does not belong/);
    // An event the auth rules reject is held as rejected and answered {} (as Synapse and Dendrite answer).
    expect(results[notJoined.eventId]).toEqual({});
    expect(results[tampered.eventId]).toEqual({});
    for (const refused of [badSignature, otherServersUser, notJoined]) {
      expect((await alice.call('GET', `/_matrix/client/v3/rooms/${encodeURIComponent(shared)}/event/${encodeURIComponent(refused.eventId)}`)).status).toBe(404);
    }
    // The event whose content hash failed is kept in redacted form: its content is gone.
    const kept = await alice.ok('GET', `/_matrix/client/v3/rooms/${encodeURIComponent(shared)}/event/${encodeURIComponent(tampered.eventId)}`);
    expect(kept.content).toEqual({});
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

  it('a late joiner pages back through the history before its join: fetched from A by backfill, in order, and never as new events in /sync', async () => {
    const roomId = await alice.createRoom({ preset: 'public_chat', name: 'History' });
    for (let i = 0; i < 30; i++) await alice.send(roomId, `history ${i}`);
    expect(await bob.join(roomId, [a.name])).toBe(roomId);
    const sinceJoin = (await bob.ok('GET', '/_matrix/client/v3/sync?timeout=0')).next_batch as string;
    type Event = { type: string; event_id: string; content: { body?: string } };
    const seen: Event[] = [];
    let from: string | undefined;
    for (let page = 0; page < 6; page++) {
      const query = `dir=b&limit=20${from ? `&from=${encodeURIComponent(from)}` : ''}`;
      const answer = await bob.ok('GET', `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/messages?${query}`);
      seen.push(...(answer.chunk as Event[]));
      from = answer.end as string | undefined;
      if (!from) break;
    }
    const bodies = seen.filter((e) => e.type === 'm.room.message').map((e) => e.content.body);
    expect(bodies).toEqual(Array.from({ length: 30 }, (_, i) => `history ${29 - i}`));
    expect(seen.at(-1)?.type).toBe('m.room.create');
    expect(new Set(seen.map((e) => e.event_id)).size).toBe(seen.length);
    // The history is no news: an incremental /sync after the backfill shows none of it.
    const sync = await bob.ok('GET', `/_matrix/client/v3/sync?timeout=0&since=${encodeURIComponent(sinceJoin)}`);
    const timeline = (sync.rooms as { join?: Record<string, { timeline: { events: Event[] } }> } | undefined)?.join?.[roomId]?.timeline.events ?? [];
    expect(timeline.filter((e) => e.type === 'm.room.message')).toEqual([]);
    // The room's current state on B did not move back: its name is still the one it had.
    expect(await bob.state(roomId, 'm.room.name')).toEqual({ status: 200, body: { name: 'History' } });
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

  it("a guest of A leaves a room when a user of B turns guest access off", async () => {
    const roomId = await alice.createRoom({ preset: 'public_chat', power_level_content_override: { users: { [alice.userId]: 100, [bob.userId]: 50 } } });
    await alice.ok('PUT', `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/state/m.room.guest_access/`, { guest_access: 'can_join' });
    await bob.join(roomId, [a.name]);
    const guest = await TestUser.registerGuest(a);
    await guest.join(roomId);
    // B's view of the room has the power levels and the guest access before B changes them.
    await waitFor(async () => (await bob.state(roomId, 'm.room.member', guest.userId)).body.membership === 'join');
    await bob.ok('PUT', `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/state/m.room.guest_access/`, { guest_access: 'forbidden' });
    await waitFor(async () => (await alice.state(roomId, 'm.room.member', guest.userId)).body.membership === 'leave');
    // The guest's own leave reaches B too.
    await waitFor(async () => (await bob.state(roomId, 'm.room.member', guest.userId)).body.membership === 'leave');
    expect((await alice.state(roomId, 'm.room.member', bob.userId)).body.membership).toBe('join');
  }, 60_000);

  it("a guest of A joins a room of B that allows guests, and is refused (its join taken back) by one that does not", async () => {
    const guest = await TestUser.registerGuest(a);
    const setUp = async (guestAccess: 'can_join' | 'forbidden') => {
      const roomId = await bob.createRoom({ preset: 'private_chat' });
      await bob.ok('PUT', `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/state/m.room.guest_access/`, { guest_access: guestAccess });
      await bob.ok('POST', `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/invite`, { user_id: guest.userId });
      return roomId;
    };
    const open = await setUp('can_join');
    expect(await guest.join(open, [b.name])).toBe(open);
    await waitFor(async () => (await bob.state(open, 'm.room.member', guest.userId)).body.membership === 'join');

    const closed = await setUp('forbidden');
    const refused = await guest.call('POST', `/_matrix/client/v3/join/${encodeURIComponent(closed)}?server_name=${encodeURIComponent(b.name)}`, {});
    expect(refused).toMatchObject({ status: 403, body: { errcode: 'M_FORBIDDEN' } });
    await waitFor(async () => (await bob.state(closed, 'm.room.member', guest.userId)).body.membership === 'leave');
  }, 60_000);

  it("a server the room's server ACL denies can no longer send into it", async () => {
    const roomId = await alice.createRoom({ preset: 'public_chat' });
    await bob.join(roomId, [a.name]);
    await bob.send(roomId, 'before the ACL');
    await alice.waitForMessage(roomId, 'before the ACL');
    await alice.ok('PUT', `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/state/m.room.server_acl/`, { allow: ['*'], deny: ['localhost'] });
    await alice.send(roomId, 'after the ACL');
    const refused = await craftEvent(b, roomId, { sender: bob.userId, type: 'm.room.message', content: { body: 'denied' } });
    const answer = await b.server.server.keys.client.request(a.name, {
      method: 'PUT',
      path: `/_matrix/federation/v1/send/acl-${Date.now()}`,
      body: { origin: b.name, origin_server_ts: Date.now(), pdus: [refused.pdu] },
    });
    expect((answer.body.pdus as Record<string, { error?: string }>)[refused.eventId].error).toMatch(/server ACL/);
    const state = await b.server.server.keys.client.request(a.name, { method: 'GET', path: `/_matrix/federation/v1/state_ids/${encodeURIComponent(roomId)}?event_id=${encodeURIComponent(refused.eventId)}` }).catch((error: unknown) => error);
    expect(state).toMatchObject({ status: 403 });
  }, 60_000);
});

/** An event of `instance`'s server on its current view of the room, signed with `key` (its own key unless forged). */
async function craftEvent(
  instance: FederatedInstance,
  roomId: string,
  input: { sender: string; type: string; stateKey?: string; content: JsonObject; key?: SigningKey },
): Promise<{ pdu: Pdu; eventId: string }> {
  const reader = instance.server.server.clientApp.get(WriteModelReader);
  const snapshot = await reader.snapshot(roomId);
  if (!snapshot) throw new Error(`${instance.name} does not hold ${roomId}`);
  const state = new Map<StateKey, string>([...snapshot.state].map(([k, e]) => [k, e.event_id]));
  const template = eventTemplate({
    roomVersion: snapshot.rules,
    roomId,
    sender: input.sender,
    type: input.type,
    stateKey: input.stateKey,
    content: input.content,
    prevEvents: snapshot.extremities,
    state,
    originServerTs: Date.now(),
  });
  const built = signNewEvent(template, snapshot.rules, instance.name, input.key ?? instance.server.server.keys.ourKeys.signingKey);
  return { pdu: built.pdu, eventId: built.event.event_id };
}

async function waitFor(check: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`not true within ${timeoutMs} ms: ${check.toString()}`);
}
