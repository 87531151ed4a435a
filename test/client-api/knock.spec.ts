/**
 * Knocking over HTTP (client-server API, "Knocking on rooms"): POST /knock/{roomIdOrAlias}
 * under v3 and r0, the knock in the knocker's /sync (`rooms.knock` with stripped state) and
 * in the members' timeline, its answers (invite, kick) and its withdrawal (leave), and the
 * refusals: join rule not knock, room version without knocking, banned, joined or invited
 * users, unknown rooms, bad parameters.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { assertMatchesSpec, type SpecResponse } from '@hs/testing';
import { call, registerUser, useTestServer, type TestUser } from './accounts-harness';

const enc = encodeURIComponent;
const spec = (status: number): SpecResponse => ({ api: 'client-server', file: 'knocking.yaml', path: '/knock/{roomIdOrAlias}', method: 'post', status });

interface StrippedEvent {
  type: string;
  state_key: string;
  sender: string;
  content: Record<string, unknown>;
}
interface ClientEvent extends StrippedEvent {
  event_id: string;
}
interface SyncBody {
  next_batch: string;
  rooms?: {
    join?: Record<string, { timeline: { events: ClientEvent[] } }>;
    invite?: Record<string, { invite_state: { events: StrippedEvent[] } }>;
    knock?: Record<string, { knock_state: { events: StrippedEvent[] } }>;
    leave?: Record<string, { timeline: { events: ClientEvent[] } }>;
  };
}

describe('POST /knock/{roomIdOrAlias}', () => {
  const s = useTestServer();
  let alice: TestUser;

  beforeAll(async () => {
    alice = await registerUser(s.url, 'alice');
  });

  /** A room of Alice's whose join rule is `joinRule`. */
  async function createRoom(joinRule: string, extra: Record<string, unknown> = {}): Promise<string> {
    const created = await call<{ room_id: string }>(s.url, 'POST', 'createRoom', {
      token: alice.token,
      body: { preset: 'private_chat', initial_state: [{ type: 'm.room.join_rules', state_key: '', content: { join_rule: joinRule } }], ...extra },
    });
    if (created.status !== 200) throw new Error(`createRoom: ${created.status} ${JSON.stringify(created.body)}`);
    return created.body.room_id;
  }

  /** Syncs (long-polling after an initial sync, or from `from`) until `found` holds for a response. */
  async function syncUntil(user: TestUser, found: (body: SyncBody) => boolean, from?: string): Promise<SyncBody> {
    let since = from;
    for (let i = 0; i < 50; i++) {
      const reply = await call<SyncBody>(s.url, 'GET', 'sync', { token: user.token, query: since ? { since, timeout: '5000' } : { timeout: '0' } });
      if (reply.status !== 200) throw new Error(`sync: ${reply.status} ${JSON.stringify(reply.body)}`);
      if (found(reply.body)) return reply.body;
      since = reply.body.next_batch;
    }
    throw new Error('sync never delivered what was expected');
  }

  /**
   * The user's membership as Alice reads it from the room state (a read model), once it has
   * become `expected` or after a bounded number of reads.
   */
  async function membership(roomId: string, userId: string, expected: string): Promise<unknown> {
    let current: unknown;
    for (let i = 0; i < 100; i++) {
      const reply = await call<{ membership?: unknown }>(s.url, 'GET', `rooms/${enc(roomId)}/state/m.room.member/${enc(userId)}`, { token: alice.token });
      current = reply.status === 200 ? reply.body.membership : `${reply.status}`;
      if (current === expected) break;
      await sleep(50);
    }
    return current;
  }

  it('knocks on a knock room: room_id answered, the knock in the knocker\'s sync with stripped state and in the members\' timeline', async () => {
    const bob = await registerUser(s.url, 'bob');
    await call(s.url, 'PUT', `profile/${enc(bob.userId)}/displayname`, { token: bob.token, body: { displayname: 'Bob K' } });
    const roomId = await createRoom('knock', { name: 'Knock knock' });
    const reply = await call(s.url, 'POST', `knock/${enc(roomId)}`, { token: bob.token, body: { reason: 'let me in' } });
    expect(reply).toEqual({ status: 200, body: { room_id: roomId } });
    assertMatchesSpec(reply.body, spec(200));

    const bobSync = await syncUntil(bob, (body) => body.rooms?.knock?.[roomId] !== undefined);
    const knockState = bobSync.rooms?.knock?.[roomId]?.knock_state.events ?? [];
    expect(knockState).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ type: 'm.room.member', state_key: bob.userId, content: { membership: 'knock', displayname: 'Bob K', reason: 'let me in' } }),
        expect.objectContaining({ type: 'm.room.join_rules', content: { join_rule: 'knock' } }),
        expect.objectContaining({ type: 'm.room.name', content: { name: 'Knock knock' } }),
        expect.objectContaining({ type: 'm.room.create' }),
      ]),
    );
    // Stripped state carries only type, state_key, sender and content.
    for (const event of knockState) expect(Object.keys(event).sort()).toEqual(['content', 'sender', 'state_key', 'type']);
    expect(bobSync.rooms?.join?.[roomId]).toBeUndefined();

    const aliceSync = await syncUntil(alice, (body) =>
      (body.rooms?.join?.[roomId]?.timeline.events ?? []).some((e) => e.type === 'm.room.member' && e.state_key === bob.userId),
    );
    const knock = aliceSync.rooms?.join?.[roomId]?.timeline.events.find((e) => e.type === 'm.room.member' && e.state_key === bob.userId);
    expect(knock).toMatchObject({ sender: bob.userId, content: { membership: 'knock', reason: 'let me in' } });
    expect(await membership(roomId, bob.userId, 'knock')).toBe('knock');
    const knocking = await call<{ chunk: ClientEvent[] }>(s.url, 'GET', `rooms/${enc(roomId)}/members`, { token: alice.token, query: { membership: 'knock' } });
    expect(knocking.status).toBe(200);
    expect(knocking.body.chunk.map((e) => e.state_key)).toEqual([bob.userId]);
  }, 60_000);

  it('is served under r0, by local alias, with via and server_name accepted, on a knock_restricted room', async () => {
    const carol = await registerUser(s.url, 'carol');
    const aliasName = `knock${Date.now().toString(36)}`;
    const roomId = await createRoom('knock_restricted', { room_alias_name: aliasName });
    const alias = `#${aliasName}:${s.serverName}`;
    const reply = await call(s.url, 'POST', `/_matrix/client/r0/knock/${enc(alias)}?via=${enc(s.serverName)}&via=elsewhere.example&server_name=${enc(s.serverName)}`, {
      token: carol.token,
      body: {},
    });
    expect(reply).toEqual({ status: 200, body: { room_id: roomId } });
    expect(await membership(roomId, carol.userId, 'knock')).toBe('knock');
  });

  it('an invite answers a knock: the room moves to the invite section, and the user joins', async () => {
    const dave = await registerUser(s.url, 'dave');
    const roomId = await createRoom('knock');
    expect((await call(s.url, 'POST', `knock/${enc(roomId)}`, { token: dave.token, body: {} })).status).toBe(200);
    await syncUntil(dave, (body) => body.rooms?.knock?.[roomId] !== undefined);
    expect((await call(s.url, 'POST', `rooms/${enc(roomId)}/invite`, { token: alice.token, body: { user_id: dave.userId } })).status).toBe(200);
    const invited = await syncUntil(dave, (body) => body.rooms?.invite?.[roomId] !== undefined);
    expect(invited.rooms?.knock?.[roomId]).toBeUndefined();
    expect((await call(s.url, 'POST', `join/${enc(roomId)}`, { token: dave.token, body: {} })).status).toBe(200);
    expect(await membership(roomId, dave.userId, 'join')).toBe('join');
  }, 60_000);

  it('a kick rejects a knock and leaving withdraws one; a knock can follow either', async () => {
    const erin = await registerUser(s.url, 'erin');
    const frank = await registerUser(s.url, 'frank');
    const roomId = await createRoom('knock');
    expect((await call(s.url, 'POST', `knock/${enc(roomId)}`, { token: erin.token, body: {} })).status).toBe(200);
    const knocked = await syncUntil(erin, (body) => body.rooms?.knock?.[roomId] !== undefined);
    expect((await call(s.url, 'POST', `rooms/${enc(roomId)}/kick`, { token: alice.token, body: { user_id: erin.userId, reason: 'no' } })).status).toBe(200);
    expect(await membership(roomId, erin.userId, 'leave')).toBe('leave');
    const rejected = await syncUntil(erin, (body) => body.rooms?.leave?.[roomId] !== undefined, knocked.next_batch);
    const kick = rejected.rooms?.leave?.[roomId]?.timeline.events.find((e) => e.type === 'm.room.member' && e.state_key === erin.userId);
    expect(kick).toMatchObject({ sender: alice.userId, content: { membership: 'leave', reason: 'no' } });
    expect(rejected.rooms?.knock?.[roomId]).toBeUndefined();

    expect((await call(s.url, 'POST', `knock/${enc(roomId)}`, { token: frank.token, body: {} })).status).toBe(200);
    expect(await call(s.url, 'POST', `rooms/${enc(roomId)}/leave`, { token: frank.token, body: { reason: 'never mind' } })).toEqual({ status: 200, body: {} });
    expect(await membership(roomId, frank.userId, 'leave')).toBe('leave');

    expect((await call(s.url, 'POST', `knock/${enc(roomId)}`, { token: erin.token, body: {} })).status).toBe(200);
    expect(await membership(roomId, erin.userId, 'knock')).toBe('knock');
  }, 60_000);

  it('403 M_FORBIDDEN when the join rule is not knock or the room version has no knocking', async () => {
    const grace = await registerUser(s.url, 'grace');
    const publicRoom = (await call<{ room_id: string }>(s.url, 'POST', 'createRoom', { token: alice.token, body: { preset: 'public_chat' } })).body.room_id;
    const rooms = [publicRoom, await createRoom('invite'), await createRoom('restricted'), await createRoom('knock', { room_version: '6' })];
    for (const roomId of rooms) {
      const reply = await call(s.url, 'POST', `knock/${enc(roomId)}`, { token: grace.token, body: {} });
      expect(reply).toEqual({ status: 403, body: { errcode: 'M_FORBIDDEN', error: expect.any(String) } });
      assertMatchesSpec(reply.body, spec(403));
    }
  });

  it('403 M_FORBIDDEN for banned, joined and invited users', async () => {
    const heidi = await registerUser(s.url, 'heidi');
    const ivan = await registerUser(s.url, 'ivan');
    const roomId = await createRoom('knock');
    await call(s.url, 'POST', `rooms/${enc(roomId)}/ban`, { token: alice.token, body: { user_id: heidi.userId } });
    await call(s.url, 'POST', `rooms/${enc(roomId)}/invite`, { token: alice.token, body: { user_id: ivan.userId } });
    for (const user of [heidi, alice, ivan]) {
      const reply = await call(s.url, 'POST', `knock/${enc(roomId)}`, { token: user.token, body: {} });
      expect(reply).toEqual({ status: 403, body: { errcode: 'M_FORBIDDEN', error: expect.any(String) } });
    }
    expect(await membership(roomId, heidi.userId, 'ban')).toBe('ban');
    expect(await membership(roomId, ivan.userId, 'invite')).toBe('invite');
  });

  it('404 M_NOT_FOUND for unknown rooms and aliases', async () => {
    for (const target of [`!unknown:${s.serverName}`, `#unknown:${s.serverName}`, '#remote:elsewhere.example']) {
      const reply = await call(s.url, 'POST', `knock/${enc(target)}`, { token: alice.token, body: {} });
      expect(reply).toEqual({ status: 404, body: { errcode: 'M_NOT_FOUND', error: expect.any(String) } });
      assertMatchesSpec(reply.body, spec(404));
    }
  });

  it('400 for bad parameters and bodies, 401 without a token', async () => {
    const roomId = await createRoom('knock');
    const path = `knock/${enc(roomId)}`;
    expect(await call(s.url, 'POST', `knock/${enc('not-a-room')}`, { token: alice.token, body: {} })).toEqual({
      status: 400,
      body: { errcode: 'M_INVALID_PARAM', error: expect.any(String) },
    });
    expect(await call(s.url, 'POST', `${path}?via=${enc('bad server!')}`, { token: alice.token, body: {} })).toEqual({
      status: 400,
      body: { errcode: 'M_INVALID_PARAM', error: expect.any(String) },
    });
    expect(await call(s.url, 'POST', `${path}?server_name=`, { token: alice.token, body: {} })).toEqual({
      status: 400,
      body: { errcode: 'M_INVALID_PARAM', error: expect.any(String) },
    });
    expect(await call(s.url, 'POST', path, { token: alice.token, body: { reason: 7 } })).toEqual({
      status: 400,
      body: { errcode: 'M_BAD_JSON', error: expect.any(String) },
    });
    expect(await call(s.url, 'POST', path, { token: alice.token, body: [1] })).toEqual({ status: 400, body: { errcode: 'M_BAD_JSON', error: expect.any(String) } });
    expect(await call(s.url, 'POST', path, { token: alice.token, raw: '{not json' })).toEqual({ status: 400, body: { errcode: 'M_NOT_JSON', error: expect.any(String) } });
    expect(await call(s.url, 'POST', path, { body: {} })).toEqual({ status: 401, body: { errcode: 'M_MISSING_TOKEN', error: expect.any(String) } });
  });
});
