/**
 * Guest access over real HTTP (client-server API, "Guest Access"), on a server that allows
 * guests: registration with kind=guest, the endpoints a guest may and may not use, joins only
 * into rooms whose m.room.guest_access is can_join, guests made to leave when a room stops
 * allowing them (seen by the very next read), and the upgrade to a full account with the
 * guest's access token. A server that does not allow guests refuses them (accounts-registration.spec).
 */
import { assertMatchesSpec, call, registerUser, type SpecResponse, type TestUser } from '@hs/testing';
import { startInProcess, type InProcessServer } from '../../support/in-process-server';

const spec = (file: string, path: string, method: SpecResponse['method'], status = 200): SpecResponse => ({ api: 'client-server', file, path, method, status });
const enc = encodeURIComponent;

interface Guest {
  userId: string;
  token: string;
  localpart: string;
}

describe('guest access', () => {
  let hs: InProcessServer;
  let alice: TestUser;

  beforeAll(async () => {
    hs = await startInProcess({ postgresFromEnv: true, env: { HS_REGISTRATION__ALLOW_GUEST_ACCESS: 'true' } });
    alice = await registerUser(hs.url, 'alice');
  }, 120_000);
  afterAll(async () => {
    await hs?.close();
  }, 60_000);

  async function registerGuest(): Promise<Guest> {
    const response = await call<{ user_id: string; access_token: string; device_id: string }>(hs.url, 'POST', 'register', { query: { kind: 'guest' }, body: {} });
    expect(response.status).toBe(200);
    assertMatchesSpec(response.body, spec('registration.yaml', '/register', 'post'));
    const localpart = /^@([^:]+):/.exec(response.body.user_id)?.[1] ?? '';
    return { userId: response.body.user_id, token: response.body.access_token, localpart };
  }

  async function createRoom(body: Record<string, unknown>): Promise<string> {
    const response = await call<{ room_id: string }>(hs.url, 'POST', 'createRoom', { token: alice.token, body });
    expect(response.status).toBe(200);
    return response.body.room_id;
  }

  async function setGuestAccess(roomId: string, value: 'can_join' | 'forbidden'): Promise<void> {
    const response = await call(hs.url, 'PUT', `rooms/${enc(roomId)}/state/m.room.guest_access/`, { token: alice.token, body: { guest_access: value } });
    expect(response.status).toBe(200);
  }

  async function membership(roomId: string, userId: string): Promise<unknown> {
    const response = await call<{ membership?: string }>(hs.url, 'GET', `rooms/${enc(roomId)}/state/m.room.member/${enc(userId)}`, { token: alice.token });
    if (response.status === 404) return undefined;
    expect(response.status).toBe(200);
    return response.body.membership;
  }

  it('registers a guest: a numeric localpart, no password, whoami says is_guest', async () => {
    const guest = await registerGuest();
    expect(guest.localpart).toMatch(/^\d+$/);
    const whoami = await call(hs.url, 'GET', 'account/whoami', { token: guest.token });
    expect(whoami).toEqual({ status: 200, body: expect.objectContaining({ user_id: guest.userId, is_guest: true }) });
    const login = await call(hs.url, 'POST', 'login', { body: { type: 'm.login.password', identifier: { type: 'm.id.user', user: guest.userId }, password: '' } });
    expect(login.status).toBe(403);
  });

  it('answers 403 M_GUEST_ACCESS_FORBIDDEN on endpoints guests may not use', async () => {
    const guest = await registerGuest();
    const roomId = await createRoom({ preset: 'public_chat' });
    await setGuestAccess(roomId, 'can_join');
    expect((await call(hs.url, 'POST', `rooms/${enc(roomId)}/join`, { token: guest.token, body: {} })).status).toBe(200);
    const refused = [
      await call(hs.url, 'POST', 'createRoom', { token: guest.token, body: {} }),
      await call(hs.url, 'PUT', `rooms/${enc(roomId)}/state/m.room.topic/`, { token: guest.token, body: { topic: 'x' } }),
      await call(hs.url, 'PUT', `rooms/${enc(roomId)}/send/m.reaction/t1`, { token: guest.token, body: {} }),
      await call(hs.url, 'PUT', `user/${enc(guest.userId)}/account_data/m.direct`, { token: guest.token, body: {} }),
      await call(hs.url, 'PUT', `profile/${enc(guest.userId)}/avatar_url`, { token: guest.token, body: { avatar_url: 'mxc://a/b' } }),
      await call(hs.url, 'GET', 'events', { token: guest.token, query: { timeout: '0' } }),
      await call(hs.url, 'POST', `rooms/${enc(roomId)}/invite`, { token: guest.token, body: { user_id: alice.userId } }),
    ];
    for (const response of refused) expect(response).toEqual({ status: 403, body: expect.objectContaining({ errcode: 'M_GUEST_ACCESS_FORBIDDEN' }) });
    // Nothing was stored by the refused writes.
    const topic = await call(hs.url, 'GET', `rooms/${enc(roomId)}/state/m.room.topic/`, { token: alice.token });
    expect(topic.status).toBe(404);
  });

  it('joins only rooms that allow guests, then sends messages and reads the room', async () => {
    const guest = await registerGuest();
    const roomId = await createRoom({ preset: 'public_chat', name: 'guests welcome' });
    const closed = await call(hs.url, 'POST', `rooms/${enc(roomId)}/join`, { token: guest.token, body: {} });
    expect(closed).toEqual({ status: 403, body: expect.objectContaining({ errcode: 'M_FORBIDDEN' }) });
    expect(await membership(roomId, guest.userId)).toBeUndefined();

    await setGuestAccess(roomId, 'can_join');
    const joined = await call(hs.url, 'POST', `join/${enc(roomId)}`, { token: guest.token, body: {} });
    expect(joined).toEqual({ status: 200, body: { room_id: roomId } });
    // The event stream of the room, read right after the join, knows the guest is in it.
    const stream = await call(hs.url, 'GET', 'events', { token: guest.token, query: { room_id: roomId, timeout: '0' } });
    expect(stream.status).toBe(200);
    const sent = await call<{ event_id: string }>(hs.url, 'PUT', `rooms/${enc(roomId)}/send/m.room.message/g1`, { token: guest.token, body: { msgtype: 'm.text', body: 'sup' } });
    expect(sent.status).toBe(200);

    const messages = await call<{ chunk: { event_id: string; sender: string; content: { body?: string } }[] }>(hs.url, 'GET', `rooms/${enc(roomId)}/messages`, {
      token: alice.token,
      query: { dir: 'b', limit: '1' },
    });
    expect(messages.body.chunk[0]).toMatchObject({ event_id: sent.body.event_id, sender: guest.userId, content: { body: 'sup' } });
    // The guest reads the room: state, members, messages, /sync.
    for (const path of ['state', 'members', 'joined_members', 'state/m.room.name/']) {
      expect((await call(hs.url, 'GET', `rooms/${enc(roomId)}/${path}`, { token: guest.token })).status).toBe(200);
    }
    const sync = await call<{ rooms?: { join?: Record<string, unknown> } }>(hs.url, 'GET', 'sync', { token: guest.token, query: { timeout: '0' } });
    expect(sync.status).toBe(200);
    expect(Object.keys(sync.body.rooms?.join ?? {})).toContain(roomId);
    // A guest sets its display name, which its membership carries.
    expect((await call(hs.url, 'PUT', `profile/${enc(guest.userId)}/displayname`, { token: guest.token, body: { displayname: 'creeper' } })).status).toBe(200);
    const member = await call<{ displayname?: string }>(hs.url, 'GET', `rooms/${enc(roomId)}/state/m.room.member/${enc(guest.userId)}`, { token: guest.token });
    expect(member.body.displayname).toBe('creeper');
  });

  it('makes guests leave when the room stops allowing them, before the change is answered', async () => {
    const [guest, other] = [await registerGuest(), await registerGuest()];
    const roomId = await createRoom({ preset: 'public_chat' });
    await setGuestAccess(roomId, 'can_join');
    for (const g of [guest, other]) expect((await call(hs.url, 'POST', `rooms/${enc(roomId)}/join`, { token: g.token, body: {} })).status).toBe(200);
    const bob = await registerUser(hs.url, 'bob');
    expect((await call(hs.url, 'POST', `rooms/${enc(roomId)}/join`, { token: bob.token, body: {} })).status).toBe(200);

    await setGuestAccess(roomId, 'forbidden');
    expect(await membership(roomId, guest.userId)).toBe('leave');
    expect(await membership(roomId, other.userId)).toBe('leave');
    // Full members stay.
    expect(await membership(roomId, bob.userId)).toBe('join');
    const again = await call(hs.url, 'POST', `rooms/${enc(roomId)}/join`, { token: guest.token, body: {} });
    expect(again.status).toBe(403);
  });

  it('upgrades a guest to a full account with its access token (after user-interactive auth)', async () => {
    const guest = await registerGuest();
    const body = { username: guest.localpart, password: 'SIR_Arthur_David', guest_access_token: guest.token };
    const first = await call<{ session: string }>(hs.url, 'POST', 'register', { body });
    expect(first.status).toBe(401);
    const done = await call<{ user_id: string; access_token: string }>(hs.url, 'POST', 'register', { body: { ...body, auth: { type: 'm.login.dummy', session: first.body.session } } });
    expect(done.status).toBe(200);
    expect(done.body.user_id).toBe(guest.userId);
    for (const token of [done.body.access_token, guest.token]) {
      const whoami = await call(hs.url, 'GET', 'account/whoami', { token });
      expect(whoami.body).toMatchObject({ user_id: guest.userId, is_guest: false });
    }
    expect((await call(hs.url, 'POST', 'createRoom', { token: done.body.access_token, body: {} })).status).toBe(200);
    const login = await call(hs.url, 'POST', 'login', { body: { type: 'm.login.password', identifier: { type: 'm.id.user', user: guest.localpart }, password: 'SIR_Arthur_David' } });
    expect(login.status).toBe(200);
  });

  it('refuses to upgrade another account than the guest\'s own, or with a token that is not a guest\'s', async () => {
    const [first, second] = [await registerGuest(), await registerGuest()];
    const other = await call(hs.url, 'POST', 'register', {
      body: { username: first.localpart, password: 'pw-long-enough', guest_access_token: second.token, auth: { type: 'm.login.dummy' } },
    });
    expect(other).toEqual({ status: 403, body: expect.objectContaining({ errcode: 'M_FORBIDDEN' }) });
    const notGuest = await call(hs.url, 'POST', 'register', {
      body: { username: alice.userId.slice(1).split(':')[0], password: 'pw-long-enough', guest_access_token: alice.token, auth: { type: 'm.login.dummy' } },
    });
    expect(notGuest).toEqual({ status: 403, body: expect.objectContaining({ errcode: 'M_FORBIDDEN' }) });
    const whoami = await call(hs.url, 'GET', 'account/whoami', { token: first.token });
    expect(whoami.body).toMatchObject({ is_guest: true });
  });
});
