/**
 * The admin API (Synapse's paths and shapes under /_synapse/admin) and the audit log over real
 * HTTP, on one server: users, rooms (list, details, members, state, messages, block, delete
 * with purge), registration tokens, reports (client endpoints and admin ones), the audit
 * entries each action leaves, and 403 M_FORBIDDEN for everyone but server admins.
 */
import { UserService } from '@hs/accounts';
import { assertMatchesSpec, call, registerUser, type Reply, type TestUser } from '@hs/testing';
import { startInProcess, type InProcessServer } from '../support/in-process-server';

type Json = Record<string, unknown>;
const V1 = '/_synapse/admin/v1';
const V2 = '/_synapse/admin/v2';
const AUDIT = '/_hs/admin/v1/audit';

function expectError(reply: Reply<Json>, status: number, errcode: string): void {
  expect({ status: reply.status, errcode: reply.body.errcode, error: typeof reply.body.error }).toEqual({ status, errcode, error: 'string' });
}

describe('admin API and audit log', () => {
  let hs: InProcessServer;
  let admin: TestUser;
  let alice: TestUser;
  let bob: TestUser;

  /** Logs a user in with a password. */
  async function login(user: string, password: string): Promise<TestUser> {
    const reply = await call<{ user_id: string; device_id: string; access_token: string }>(hs.url, 'POST', 'login', {
      body: { type: 'm.login.password', identifier: { type: 'm.id.user', user }, password },
    });
    expect(reply.status).toBe(200);
    return { userId: reply.body.user_id, deviceId: reply.body.device_id, token: reply.body.access_token, password, username: user };
  }

  beforeAll(async () => {
    // Registration needs a registration token, which only admins make: accounts are made by
    // the admin API (the first admin directly in the accounts layer).
    hs = await startInProcess({ postgresFromEnv: true, env: { HS_REGISTRATION__REQUIRES_TOKEN: 'true' } });
    await hs.server.clientApp.get(UserService).register({ localpart: 'admin', password: 'admin password', admin: true });
    admin = await login('admin', 'admin password');
    for (const name of ['alice', 'bob']) {
      const made = await call<Json>(hs.url, 'PUT', `${V2}/users/${encodeURIComponent(`@${name}:${hs.serverName}`)}`, { token: admin.token, body: { password: `${name} password` } });
      expect(made.status).toBe(201);
    }
    alice = await login('alice', 'alice password');
    bob = await login('bob', 'bob password');
  });
  afterAll(async () => {
    await hs?.close();
  });

  const as = (user: TestUser, method: string, path: string, body?: unknown, query?: Record<string, string>) =>
    call<Json>(hs.url, method, path, { token: user.token, ...(body !== undefined ? { body } : {}), ...(query ? { query } : {}) });

  /** The audit entries of an action on a target (read right after the action: no waiting). */
  async function auditOf(action: string, target: string): Promise<Json[]> {
    const reply = await as(admin, 'GET', AUDIT, undefined, { action, target });
    expect(reply.status).toBe(200);
    return reply.body.entries as Json[];
  }

  async function createRoom(owner: TestUser, name: string, extra: Json = {}): Promise<string> {
    const reply = await as(owner, 'POST', 'createRoom', { name, preset: 'public_chat', ...extra });
    expect(reply.status).toBe(200);
    return reply.body.room_id as string;
  }

  async function send(user: TestUser, roomId: string, body: string): Promise<string> {
    const reply = await as(user, 'PUT', `rooms/${encodeURIComponent(roomId)}/send/m.room.message/${Math.random()}`, { msgtype: 'm.text', body });
    expect(reply.status).toBe(200);
    return reply.body.event_id as string;
  }

  it('answers everyone but server admins 403 M_FORBIDDEN, and serves the server version to anyone', async () => {
    const room = encodeURIComponent(`!nowhere:${hs.serverName}`);
    const user = encodeURIComponent(alice.userId);
    const endpoints: [string, string][] = [
      ['GET', `${V2}/users`],
      ['GET', `${V2}/users/${user}`],
      ['PUT', `${V2}/users/${user}`],
      ['POST', `${V1}/deactivate/${user}`],
      ['POST', `${V1}/reset_password/${user}`],
      ['GET', `${V1}/whois/${user}`],
      ['GET', `${V1}/users/${user}/joined_rooms`],
      ['GET', `${V1}/rooms`],
      ['GET', `${V1}/rooms/${room}`],
      ['GET', `${V1}/rooms/${room}/members`],
      ['GET', `${V1}/rooms/${room}/state`],
      ['GET', `${V1}/rooms/${room}/messages`],
      ['GET', `${V1}/rooms/${room}/block`],
      ['PUT', `${V1}/rooms/${room}/block`],
      ['DELETE', `${V2}/rooms/${room}`],
      ['GET', `${V2}/rooms/${room}/delete_status`],
      ['GET', `${V1}/registration_tokens`],
      ['POST', `${V1}/registration_tokens/new`],
      ['GET', `${V1}/event_reports`],
      ['DELETE', `${V1}/event_reports/1`],
      ['GET', AUDIT],
    ];
    for (const [method, path] of endpoints) {
      expectError(await as(alice, method, path, method === 'GET' || method === 'DELETE' ? undefined : {}), 403, 'M_FORBIDDEN');
    }
    expectError(await call<Json>(hs.url, 'GET', `${V2}/users`), 401, 'M_MISSING_TOKEN');
    const version = await call<Json>(hs.url, 'GET', `${V1}/server_version`);
    expect(version.status).toBe(200);
    expect(typeof version.body.server_version).toBe('string');
  });

  it('creates, lists, modifies, resets and deactivates accounts, each action in the audit log', async () => {
    const carolId = `@carol-${Date.now()}:${hs.serverName}`;
    const path = `${V2}/users/${encodeURIComponent(carolId)}`;
    const created = await as(admin, 'PUT', path, { password: 'carol password 1', displayname: 'Carol Marigold' });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ name: carolId, displayname: 'Carol Marigold', admin: false, deactivated: false, is_guest: false, threepids: [], user_type: null });
    const requestId = created.headers.get('x-request-id');
    expect(await auditOf('user.created', carolId)).toEqual([
      expect.objectContaining({ actor: admin.userId, action: 'user.created', target: carolId, request_id: requestId, ts: expect.any(Number) }),
    ]);

    // Listed at once, with the filters and paging of Synapse.
    const listed = await as(admin, 'GET', `${V2}/users`, undefined, { name: 'marigold' });
    expect(listed.body).toEqual({
      users: [expect.objectContaining({ name: carolId, displayname: 'Carol Marigold', admin: false, deactivated: false, creation_ts: expect.any(Number) })],
      total: 1,
    });
    const admins = await as(admin, 'GET', `${V2}/users`, undefined, { admins: 'true' });
    expect((admins.body.users as Json[]).map((u) => u.name)).toEqual([admin.userId]);
    const firstPage = await as(admin, 'GET', `${V2}/users`, undefined, { limit: '2' });
    expect(firstPage.body).toMatchObject({ total: 4, next_token: '2' });
    const secondPage = await as(admin, 'GET', `${V2}/users`, undefined, { limit: '2', from: '2' });
    const names = [...(firstPage.body.users as Json[]), ...(secondPage.body.users as Json[])].map((u) => u.name);
    expect(names).toEqual([...names].sort());
    expect(secondPage.body.next_token).toBeUndefined();
    expectError(await as(admin, 'GET', `${V2}/users`, undefined, { order_by: 'nonsense' }), 400, 'M_INVALID_PARAM');
    expectError(await as(admin, 'GET', `${V2}/users`, undefined, { name: 'a\u0000b' }), 400, 'M_INVALID_PARAM');
    expect((await as(admin, 'GET', `${V2}/users`, undefined, { limit: '0' })).body).toEqual({ users: [], total: 4 });

    // Modify: display name, admin flag (promotion), password.
    const modified = await as(admin, 'PUT', path, { displayname: 'Carol M.', admin: true });
    expect(modified.status).toBe(200);
    expect(modified.body).toMatchObject({ displayname: 'Carol M.', admin: true });
    expect(await auditOf('user.admin_changed', carolId)).toEqual([expect.objectContaining({ before: { admin: false }, after: { admin: true } })]);
    expect(await auditOf('user.modified', carolId)).toEqual([expect.objectContaining({ before: { displayname: 'Carol Marigold' }, after: { displayname: 'Carol M.' } })]);
    expect((await as(admin, 'GET', path)).body).toMatchObject({ name: carolId, admin: true, displayname: 'Carol M.' });

    const reset = await as(admin, 'POST', `${V1}/reset_password/${encodeURIComponent(carolId)}`, { new_password: 'carol password 2', logout_devices: true });
    expect(reset).toEqual({ status: 200, body: {} });
    const login = await call<Json>(hs.url, 'POST', 'login', { body: { type: 'm.login.password', identifier: { type: 'm.id.user', user: carolId }, password: 'carol password 2' } });
    expect(login.status).toBe(200);
    expect(await auditOf('user.password_reset', carolId)).toHaveLength(1);

    const whois = await as(admin, 'GET', `${V1}/whois/${encodeURIComponent(carolId)}`);
    expect(whois.body).toEqual({ user_id: carolId, devices: { [login.body.device_id as string]: { sessions: [expect.any(Object)] } } });

    const roomId = await createRoom(alice, 'carol room');
    await as({ ...alice, token: login.body.access_token as string }, 'POST', `join/${encodeURIComponent(roomId)}`, {});
    expect((await as(admin, 'GET', `${V1}/users/${encodeURIComponent(carolId)}/joined_rooms`)).body).toEqual({ joined_rooms: [roomId], total: 1 });

    const deactivated = await as(admin, 'POST', `${V1}/deactivate/${encodeURIComponent(carolId)}`, { erase: false });
    expect(deactivated).toEqual({ status: 200, body: { id_server_unbind_result: 'success' } });
    expect((await call<Json>(hs.url, 'GET', 'account/whoami', { token: login.body.access_token as string })).status).toBe(401);
    expect((await as(admin, 'GET', `${V1}/users/${encodeURIComponent(carolId)}/joined_rooms`)).body).toEqual({ joined_rooms: [], total: 0 });
    expect((await as(admin, 'GET', `${V2}/users`, undefined, { name: 'carol' })).body).toEqual({ users: [], total: 0 });
    expect((await as(admin, 'GET', `${V2}/users`, undefined, { name: 'carol', deactivated: 'true' })).body).toMatchObject({ total: 1 });
    expect(await auditOf('user.deactivated', carolId)).toEqual([expect.objectContaining({ before: { deactivated: false }, after: { deactivated: true } })]);

    expectError(await as(admin, 'GET', `${V2}/users/${encodeURIComponent(`@nobody:${hs.serverName}`)}`), 404, 'M_NOT_FOUND');
    expectError(await as(admin, 'GET', `${V2}/users/not-a-user`), 400, 'M_INVALID_PARAM');
    expectError(await as(admin, 'PUT', `${V2}/users/${encodeURIComponent('@x:other.example')}`, {}), 400, 'M_INVALID_PARAM');
    expectError(await as(admin, 'POST', `${V1}/reset_password/${encodeURIComponent(alice.userId)}`, { new_password: 42 }), 400, 'M_BAD_JSON');
  });

  it('lists rooms with order and search, and shows details, members, state and messages to admins who are not members', async () => {
    const zebra = await createRoom(alice, 'Zebra crossing');
    const aardvark = await createRoom(alice, 'Aardvark den', { room_alias_name: `aardvark${Date.now()}` });
    await as(bob, 'POST', `join/${encodeURIComponent(aardvark)}`, {});
    await send(alice, aardvark, 'hello from alice');
    await as(alice, 'PUT', `rooms/${encodeURIComponent(aardvark)}/state/m.room.history_visibility/`, { history_visibility: 'joined' });

    const search = await as(admin, 'GET', `${V1}/rooms`, undefined, { search_term: 'aardvark' });
    expect(search.body).toMatchObject({ offset: 0, total_rooms: 1 });
    expect((search.body.rooms as Json[])[0]).toEqual({
      room_id: aardvark,
      name: 'Aardvark den',
      canonical_alias: expect.stringMatching(/^#aardvark/),
      joined_members: 2,
      joined_local_members: 2,
      version: expect.any(String),
      creator: alice.userId,
      encryption: null,
      federatable: true,
      public: false,
      join_rules: 'public',
      guest_access: null,
      history_visibility: 'joined',
      state_events: expect.any(Number),
      room_type: null,
    });
    const byName = await as(admin, 'GET', `${V1}/rooms`, undefined, { order_by: 'name', dir: 'b', limit: '100' });
    const named = (byName.body.rooms as Json[]).map((room) => room.room_id);
    expect(named.indexOf(zebra)).toBeLessThan(named.indexOf(aardvark));
    const page = await as(admin, 'GET', `${V1}/rooms`, undefined, { limit: '1' });
    expect(page.body).toMatchObject({ next_batch: 1, total_rooms: byName.body.total_rooms });

    const details = await as(admin, 'GET', `${V1}/rooms/${encodeURIComponent(aardvark)}`);
    expect(details.body).toMatchObject({ room_id: aardvark, name: 'Aardvark den', joined_members: 2, topic: null, avatar: null, blocked: false });
    expect((await as(admin, 'GET', `${V1}/rooms/${encodeURIComponent(aardvark)}/members`)).body).toEqual({ members: [alice.userId, bob.userId].sort(), total: 2 });
    const state = await as(admin, 'GET', `${V1}/rooms/${encodeURIComponent(aardvark)}/state`);
    expect((state.body.state as Json[]).map((event) => event.type)).toEqual(expect.arrayContaining(['m.room.create', 'm.room.name', 'm.room.member']));
    // Not a member, history visibility "joined": the admin API still shows the messages.
    expectError(await as(admin, 'GET', `rooms/${encodeURIComponent(aardvark)}/messages`, undefined, { dir: 'b' }), 403, 'M_FORBIDDEN');
    const messages = await as(admin, 'GET', `${V1}/rooms/${encodeURIComponent(aardvark)}/messages`, undefined, { dir: 'b', limit: '5' });
    expect(messages.status).toBe(200);
    assertMatchesSpec(messages.body, { api: 'client-server', file: 'message_pagination.yaml', path: '/rooms/{roomId}/messages', method: 'get', status: 200 });
    expect((messages.body.chunk as Json[]).some((event) => (event.content as Json).body === 'hello from alice')).toBe(true);

    expectError(await as(admin, 'GET', `${V1}/rooms/${encodeURIComponent(`!unknown:${hs.serverName}`)}`), 404, 'M_NOT_FOUND');
    expectError(await as(admin, 'GET', `${V1}/rooms/not-a-room`), 400, 'M_INVALID_PARAM');
    expectError(await as(admin, 'GET', `${V1}/rooms`, undefined, { limit: '-1' }), 400, 'M_INVALID_PARAM');
    expectError(await as(admin, 'GET', `${V1}/rooms`, undefined, { search_term: 'a\u0000b' }), 400, 'M_INVALID_PARAM');
    expect((await as(admin, 'GET', `${V1}/rooms`, undefined, { limit: '0' })).body).toMatchObject({ rooms: [], total_rooms: byName.body.total_rooms });
  });

  it('blocks rooms against joins, and shuts a room down: members leave, aliases go, purge makes read models forget it', async () => {
    const roomId = await createRoom(alice, 'Doomed room', { room_alias_name: `doomed${Date.now()}` });
    const room = encodeURIComponent(roomId);
    expect((await as(admin, 'PUT', `${V1}/rooms/${room}/block`, { block: true })).body).toEqual({ block: true });
    expect((await as(admin, 'GET', `${V1}/rooms/${room}/block`)).body).toEqual({ block: true, user_id: admin.userId });
    expectError(await as(bob, 'POST', `join/${room}`, {}), 403, 'M_FORBIDDEN');
    expect((await as(admin, 'PUT', `${V1}/rooms/${room}/block`, { block: false })).body).toEqual({ block: false });
    expect((await as(admin, 'GET', `${V1}/rooms/${room}/block`)).body).toEqual({ block: false });
    expect((await as(bob, 'POST', `join/${room}`, {})).status).toBe(200);
    expect(await auditOf('room.blocked', roomId)).toHaveLength(1);
    expect(await auditOf('room.unblocked', roomId)).toEqual([expect.objectContaining({ before: { block: true }, after: { block: false } })]);
    expectError(await as(admin, 'PUT', `${V1}/rooms/${room}/block`, { block: 'yes' }), 400, 'M_BAD_JSON');

    const deleted = await as(admin, 'DELETE', `${V2}/rooms/${room}`, { block: true, purge: true });
    expect(deleted.status).toBe(200);
    const deleteId = deleted.body.delete_id as string;
    let status: Reply<Json> = await as(admin, 'GET', `${V2}/rooms/delete_status/${deleteId}`);
    for (let i = 0; i < 100 && status.body.status !== 'complete' && status.body.status !== 'failed'; i++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      status = await as(admin, 'GET', `${V2}/rooms/delete_status/${deleteId}`);
    }
    expect(status.body).toEqual({
      status: 'complete',
      shutdown_room: { kicked_users: [alice.userId, bob.userId].sort(), failed_to_kick_users: [], local_aliases: [expect.stringMatching(/^#doomed/)], new_room_id: null },
    });
    expect((await as(admin, 'GET', `${V2}/rooms/${room}/delete_status`)).body).toEqual({ results: [{ delete_id: deleteId, ...status.body }] });
    expect(await auditOf('room.shut_down', roomId)).toEqual([expect.objectContaining({ details: { delete_id: deleteId, block: true, purge: true } })]);

    // Purged: unknown to the admin API and to the members' read models; blocked against rejoining.
    expectError(await as(admin, 'GET', `${V1}/rooms/${room}`), 404, 'M_NOT_FOUND');
    expectError(await as(admin, 'GET', `${V1}/rooms/${room}/messages`), 404, 'M_NOT_FOUND');
    expect((await as(admin, 'GET', `${V1}/rooms`, undefined, { search_term: 'Doomed' })).body).toMatchObject({ rooms: [], total_rooms: 0 });
    const joined = await as(bob, 'GET', 'joined_rooms');
    expect(joined.body.joined_rooms).not.toContain(roomId);
    expectError(await as(bob, 'GET', `rooms/${room}/messages`, undefined, { dir: 'b' }), 403, 'M_FORBIDDEN');
    expectError(await as(bob, 'POST', `join/${room}`, {}), 403, 'M_FORBIDDEN');
    expectError(await as(admin, 'GET', `${V2}/rooms/delete_status/${'0'.repeat(8)}-0000-0000-0000-${'0'.repeat(12)}`), 404, 'M_NOT_FOUND');
  });

  it('manages registration tokens, which registration asks for', async () => {
    const created = await as(admin, 'POST', `${V1}/registration_tokens/new`, { token: 'admin-made-token', uses_allowed: 2 });
    expect(created).toEqual({ status: 200, body: { token: 'admin-made-token', uses_allowed: 2, pending: 0, completed: 0, expiry_time: null } });
    const first = await call<Json>(hs.url, 'POST', 'register', { body: { username: 'dave', password: 'dave password' } });
    expect(first.body.flows).toEqual([{ stages: ['m.login.registration_token'] }]);
    await expect(registerUser(hs.url, 'dummy')).rejects.toThrow(/Unrecognised login type: m.login.dummy/);
    const registered = await call<Json>(hs.url, 'POST', 'register', {
      body: { username: 'dave', password: 'dave password', auth: { type: 'm.login.registration_token', token: 'admin-made-token', session: first.body.session } },
    });
    expect(registered.status).toBe(200);
    expect((await as(admin, 'GET', `${V1}/registration_tokens/admin-made-token`)).body).toMatchObject({ pending: 0, completed: 1 });
    const random = await as(admin, 'POST', `${V1}/registration_tokens/new`, { length: 20 });
    expect(random.body.token).toMatch(/^[A-Za-z0-9_-]{20}$/);
    expectError(await as(admin, 'POST', `${V1}/registration_tokens/new`, { token: 'admin-made-token' }), 400, 'M_INVALID_PARAM');
    expectError(await as(admin, 'POST', `${V1}/registration_tokens/new`, { uses_allowed: -1 }), 400, 'M_BAD_JSON');

    const validity = await call<Json>(hs.url, 'GET', '/_matrix/client/v1/register/m.login.registration_token/validity', { query: { token: 'admin-made-token' } });
    expect(validity.body).toEqual({ valid: true });
    const updated = await as(admin, 'PUT', `${V1}/registration_tokens/admin-made-token`, { uses_allowed: 1 });
    expect(updated.body).toEqual({ token: 'admin-made-token', uses_allowed: 1, pending: 0, completed: 1, expiry_time: null });
    expect((await call<Json>(hs.url, 'GET', '/_matrix/client/v1/register/m.login.registration_token/validity', { query: { token: 'admin-made-token' } })).body).toEqual({ valid: false });
    expect((await as(admin, 'GET', `${V1}/registration_tokens`, undefined, { valid: 'false' })).body).toEqual({ registration_tokens: [updated.body] });
    expect((await as(admin, 'GET', `${V1}/registration_tokens/admin-made-token`)).body).toEqual(updated.body);
    expect(await as(admin, 'DELETE', `${V1}/registration_tokens/admin-made-token`)).toEqual({ status: 200, body: {} });
    expectError(await as(admin, 'GET', `${V1}/registration_tokens/admin-made-token`), 404, 'M_NOT_FOUND');

    const audit = await as(admin, 'GET', AUDIT, undefined, { target: 'admin-made-token' });
    expect((audit.body.entries as Json[]).map((entry) => [entry.action, entry.before ?? null, entry.after ?? null])).toEqual([
      ['registration_token.created', null, { uses_allowed: 2, expiry_time: null }],
      ['registration_token.updated', { uses_allowed: 2, expiry_time: null }, { uses_allowed: 1, expiry_time: null }],
      ['registration_token.deleted', { uses_allowed: 1, expiry_time: null }, null],
    ]);
  });

  it('takes reports of events, rooms and users, which admins list, read and delete', async () => {
    const roomId = await createRoom(alice, 'Reported room');
    const room = encodeURIComponent(roomId);
    await as(bob, 'POST', `join/${room}`, {});
    const eventId = await send(alice, roomId, 'something offensive');
    expect(await as(bob, 'POST', `rooms/${room}/report/${encodeURIComponent(eventId)}`, { reason: 'rude', score: -100 })).toEqual({ status: 200, body: {} });
    expect(await as(bob, 'POST', `rooms/${room}/report`, { reason: 'whole room' })).toEqual({ status: 200, body: {} });
    expect(await as(bob, 'POST', `users/${encodeURIComponent(alice.userId)}/report`, { reason: 'this user' })).toEqual({ status: 200, body: {} });
    // Not joined, unknown event, unknown room, unknown user, missing reason.
    expectError(await as(admin, 'POST', `rooms/${room}/report/${encodeURIComponent(eventId)}`, { reason: 'x' }), 404, 'M_NOT_FOUND');
    expectError(await as(bob, 'POST', `rooms/${room}/report/${encodeURIComponent('$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA')}`, { reason: 'x' }), 404, 'M_NOT_FOUND');
    expectError(await as(bob, 'POST', `rooms/${encodeURIComponent(`!nope:${hs.serverName}`)}/report`, { reason: 'x' }), 404, 'M_NOT_FOUND');
    expectError(await as(bob, 'POST', `users/${encodeURIComponent(`@nobody:${hs.serverName}`)}/report`, { reason: 'x' }), 404, 'M_NOT_FOUND');
    expectError(await as(bob, 'POST', `rooms/${room}/report`, {}), 400, 'M_MISSING_PARAM');

    const list = await as(admin, 'GET', `${V1}/event_reports`, undefined, { room_id: roomId });
    expect(list.body).toMatchObject({ total: 2 });
    const [roomReport, eventReport] = list.body.event_reports as Json[];
    expect(eventReport).toEqual({
      id: expect.any(Number),
      received_ts: expect.any(Number),
      room_id: roomId,
      name: 'Reported room',
      canonical_alias: null,
      event_id: eventId,
      user_id: bob.userId,
      reason: 'rude',
      score: -100,
      sender: alice.userId,
      target_user_id: null,
    });
    expect(roomReport).toMatchObject({ event_id: null, reason: 'whole room' });
    const details = await as(admin, 'GET', `${V1}/event_reports/${eventReport.id}`);
    expect(details.body).toMatchObject({ ...eventReport, event_json: expect.objectContaining({ type: 'm.room.message', sender: alice.userId }) });
    expect((await as(admin, 'GET', `${V1}/event_reports`, undefined, { user_id: bob.userId, limit: '1' })).body).toMatchObject({ total: 3, next_token: 1 });

    expect(await as(admin, 'DELETE', `${V1}/event_reports/${eventReport.id}`)).toEqual({ status: 200, body: {} });
    expectError(await as(admin, 'GET', `${V1}/event_reports/${eventReport.id}`), 404, 'M_NOT_FOUND');
    expectError(await as(admin, 'DELETE', `${V1}/event_reports/${eventReport.id}`), 404, 'M_NOT_FOUND');
    expectError(await as(admin, 'GET', `${V1}/event_reports/abc`), 400, 'M_INVALID_PARAM');
    expect(await auditOf('event_report.deleted', String(eventReport.id))).toEqual([expect.objectContaining({ actor: admin.userId, before: expect.objectContaining({ reason: 'rude' }) })]);
  });

  it('records kicks, bans and redactions of others, and filters and pages the audit log', async () => {
    const start = Date.now();
    const roomId = await createRoom(alice, 'Moderated room');
    const room = encodeURIComponent(roomId);
    await as(bob, 'POST', `join/${room}`, {});
    const bobsMessage = await send(bob, roomId, 'spam');
    const ownMessage = await send(alice, roomId, 'mine');
    await as(alice, 'PUT', `rooms/${room}/redact/${encodeURIComponent(bobsMessage)}/r1`, { reason: 'spam' });
    await as(alice, 'PUT', `rooms/${room}/redact/${encodeURIComponent(ownMessage)}/r2`, {});
    await as(alice, 'POST', `rooms/${room}/kick`, { user_id: bob.userId, reason: 'go' });
    await as(alice, 'POST', `rooms/${room}/ban`, { user_id: bob.userId });
    const unban = await as(alice, 'POST', `rooms/${room}/unban`, { user_id: bob.userId });
    expect(unban.status).toBe(200);

    const byAlice = await as(admin, 'GET', AUDIT, undefined, { actor: alice.userId, from_ts: String(start) });
    expect((byAlice.body.entries as Json[]).map((entry) => [entry.action, entry.target])).toEqual([
      ['room.redaction', bobsMessage],
      ['room.kick', bob.userId],
      ['room.ban', bob.userId],
      ['room.unban', bob.userId],
    ]);
    expect((byAlice.body.entries as Json[])[1]).toMatchObject({ details: { room_id: roomId, reason: 'go', event_id: expect.any(String) }, request_id: expect.any(String) });

    const newestFirst = await as(admin, 'GET', AUDIT, undefined, { actor: alice.userId, dir: 'b', limit: '2' });
    expect((newestFirst.body.entries as Json[]).map((entry) => entry.action)).toEqual(['room.unban', 'room.ban']);
    const rest = await as(admin, 'GET', AUDIT, undefined, { actor: alice.userId, dir: 'b', limit: '2', from: String(newestFirst.body.next_token) });
    expect((rest.body.entries as Json[]).map((entry) => entry.action)).toEqual(['room.kick', 'room.redaction']);
    expect((await as(admin, 'GET', AUDIT, undefined, { actor: alice.userId, to_ts: String(start) })).body.entries).toEqual([]);
    expectError(await as(admin, 'GET', AUDIT, undefined, { limit: '0' }), 400, 'M_INVALID_PARAM');
  });
  it('rebuilds a projection online: the live copy serves meanwhile, the new generation answers the same, and the audit log has both ends', async () => {
    const room = await as(alice, 'POST', 'createRoom', { preset: 'public_chat', name: 'rebuilt' });
    const roomId = room.body.room_id as string;
    for (let i = 0; i < 20; i++) expect((await as(alice, 'PUT', `rooms/${encodeURIComponent(roomId)}/send/m.room.message/rb${i}`, { msgtype: 'm.text', body: `before ${i}` })).status).toBe(200);
    const messages = async () => ((await as(alice, 'GET', `rooms/${encodeURIComponent(roomId)}/messages`, undefined, { dir: 'b', limit: '100' })).body.chunk as Json[]).map((e) => e.event_id);
    const before = await messages();

    const list = await as(admin, 'GET', '/_hs/admin/v1/projections');
    expect(list.status).toBe(200);
    const sync = (list.body.projections as Json[]).find((p) => p.name === 'sync');
    expect(sync).toMatchObject({ name: 'sync', generation: expect.any(Number), checkpoint: expect.any(String), lag: expect.any(String) });

    const started = await as(admin, 'POST', '/_hs/admin/v1/projections/sync/rebuild', {});
    expect(started.status).toBe(202);
    expect(started.body).toMatchObject({ projection: 'sync', state: 'running' });
    // The live generation serves while the new one fills: a send is read back at once.
    const during = await as(alice, 'PUT', `rooms/${encodeURIComponent(roomId)}/send/m.room.message/rb-during`, { msgtype: 'm.text', body: 'during' });
    const read = await as(alice, 'GET', `rooms/${encodeURIComponent(roomId)}/event/${encodeURIComponent(during.body.event_id as string)}`);
    expect(read.status).toBe(200);

    let rebuilt: Json | undefined;
    for (let i = 0; i < 200 && rebuilt?.state !== 'finished' && rebuilt?.state !== 'failed'; i++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      rebuilt = ((await as(admin, 'GET', '/_hs/admin/v1/projections')).body.projections as Json[]).find((p) => p.name === 'sync');
      rebuilt = rebuilt?.rebuild as Json | undefined;
    }
    expect(rebuilt).toMatchObject({ state: 'finished', generation: (sync?.generation as number) + 1 });
    // /metrics shows the rebuild: done, and how far it got.
    const metrics = await (await fetch(`${hs.url}/metrics`)).text();
    expect(metrics).toContain('projection_rebuild_running{projection="sync"} 0');
    expect(metrics).toContain(`projection_rebuild_position{projection="sync"} ${String(rebuilt?.position)}`);
    expect(await messages()).toEqual([during.body.event_id, ...before]);
    // The runner goes on with the new generation (it learns of the swap at its next batch).
    const next = await as(alice, 'PUT', `rooms/${encodeURIComponent(roomId)}/send/m.room.message/rb-after`, { msgtype: 'm.text', body: 'after' });
    expect(await messages()).toEqual([next.body.event_id, during.body.event_id, ...before]);
    const after = ((await as(admin, 'GET', '/_hs/admin/v1/projections')).body.projections as Json[]).find((p) => p.name === 'sync');
    expect(after?.generation).toBe((sync?.generation as number) + 1);

    expect((await auditOf('projection.rebuild_started', 'sync'))[0]).toMatchObject({ actor: admin.userId });
    expect((await auditOf('projection.rebuild_finished', 'sync'))[0]).toMatchObject({ actor: admin.userId });
    expectError(await as(admin, 'POST', '/_hs/admin/v1/projections/nonsense/rebuild', {}), 404, 'M_NOT_FOUND');
    expectError(await as(alice, 'POST', '/_hs/admin/v1/projections/sync/rebuild', {}), 403, 'M_FORBIDDEN');
    expectError(await as(alice, 'GET', '/_hs/admin/v1/projections'), 403, 'M_FORBIDDEN');
  });
  it('answers a room\'s state and members at an event or a time, as they were then', async () => {
    const room = await as(alice, 'POST', 'createRoom', { preset: 'public_chat', name: 'first name' });
    const roomId = room.body.room_id as string;
    const early = await as(alice, 'PUT', `rooms/${encodeURIComponent(roomId)}/send/m.room.message/pit1`, { msgtype: 'm.text', body: 'early' });
    const earlyEvent = await as(alice, 'GET', `rooms/${encodeURIComponent(roomId)}/event/${encodeURIComponent(early.body.event_id as string)}`);
    const earlyTs = earlyEvent.body.origin_server_ts as number;
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect((await as(bob, 'POST', `rooms/${encodeURIComponent(roomId)}/join`, {})).status).toBe(200);
    expect((await as(alice, 'PUT', `rooms/${encodeURIComponent(roomId)}/state/m.room.name/`, { name: 'second name' })).status).toBe(200);

    const path = `/_hs/admin/v1/rooms/${encodeURIComponent(roomId)}/state_at`;
    const name = (reply: Reply<Json>) => ((reply.body.state as Json[]).find((e) => e.type === 'm.room.name')?.content as Json | undefined)?.name;
    const atEvent = await as(admin, 'GET', path, undefined, { event_id: early.body.event_id as string });
    expect(atEvent.status).toBe(200);
    expect(atEvent.body).toMatchObject({ room_id: roomId, event_id: early.body.event_id, members: { join: [alice.userId] } });
    expect(name(atEvent)).toBe('first name');
    const atTime = await as(admin, 'GET', path, undefined, { ts: String(earlyTs) });
    expect(atTime.body).toMatchObject({ event_id: early.body.event_id, members: { join: [alice.userId] } });
    const now = await as(admin, 'GET', path, undefined, { ts: String(Date.now() + 60_000) });
    expect(name(now)).toBe('second name');
    expect([...((now.body.members as Record<string, string[]>).join ?? [])].sort()).toEqual([alice.userId, bob.userId].sort());

    expectError(await as(admin, 'GET', path, undefined, { ts: '1' }), 404, 'M_NOT_FOUND');
    expectError(await as(admin, 'GET', path, undefined, { event_id: '$nope' }), 404, 'M_NOT_FOUND');
    expectError(await as(admin, 'GET', path, undefined, { event_id: '$a\u0000b' }), 404, 'M_NOT_FOUND');
    expectError(await as(admin, 'GET', path), 400, 'M_INVALID_PARAM');
    expectError(await as(alice, 'GET', path, undefined, { ts: '1' }), 403, 'M_FORBIDDEN');
  });
});
