/**
 * GET /_matrix/client/v1/room_summary/{roomIdOrAlias} over real HTTP: the summary of a public
 * room by id and by alias, with and without an access token; a private room is M_NOT_FOUND
 * to outsiders and summarized for its invitee with their membership; a restricted room for
 * members of the room it allows; bad input gets Matrix errors.
 */
import { assertMatchesSpec, call, registerUser, type TestUser } from '@hs/testing';
import { startInProcess, type InProcessServer } from '../support/in-process-server';

type Json = Record<string, unknown>;
const SPEC = { api: 'client-server', file: 'room_summary.yaml', path: '/room_summary/{roomIdOrAlias}', method: 'get' } as const;

describe('room summary', () => {
  let hs: InProcessServer;
  let alice: TestUser;
  let bob: TestUser;
  beforeAll(async () => {
    hs = await startInProcess({ postgresFromEnv: true });
    alice = await registerUser(hs.url, 'alice');
    bob = await registerUser(hs.url, 'bob');
  });
  afterAll(async () => {
    await hs?.close();
  });

  const summary = (target: string, user?: TestUser, query?: Record<string, string>) =>
    call<Json>(hs.url, 'GET', `/_matrix/client/v1/room_summary/${encodeURIComponent(target)}`, { ...(user ? { token: user.token } : {}), ...(query ? { query } : {}) });
  const as = (user: TestUser, method: string, path: string, body?: unknown) => call<Json>(hs.url, method, path, { token: user.token, ...(body !== undefined ? { body } : {}) });

  it('summarizes a public room by id and by alias, for anyone, right after its state changed', async () => {
    const created = await as(alice, 'POST', 'createRoom', {
      preset: 'public_chat',
      name: 'Kumquat club',
      topic: 'citrus only',
      room_alias_name: 'summary-kumquats',
      initial_state: [{ type: 'm.room.encryption', state_key: '', content: { algorithm: 'm.megolm.v1.aes-sha2' } }],
    });
    expect(created.status).toBe(200);
    const roomId = created.body.room_id as string;
    expect((await as(alice, 'PUT', `rooms/${encodeURIComponent(roomId)}/state/m.room.topic`, { topic: 'citrus, mostly' })).status).toBe(200);

    const byId = await summary(roomId, bob);
    expect(byId.status).toBe(200);
    assertMatchesSpec(byId.body, { ...SPEC, status: 200 });
    expect(byId.body).toEqual({
      room_id: roomId,
      name: 'Kumquat club',
      topic: 'citrus, mostly',
      canonical_alias: `#summary-kumquats:${hs.serverName}`,
      num_joined_members: 1,
      world_readable: false,
      guest_can_join: false,
      join_rule: 'public',
      encryption: 'm.megolm.v1.aes-sha2',
      room_version: expect.any(String),
    });

    const byAlias = await summary(`#summary-kumquats:${hs.serverName}`, alice);
    expect(byAlias.status).toBe(200);
    expect(byAlias.body).toEqual({ ...byId.body, membership: 'join' });

    const anonymous = await summary(roomId);
    expect(anonymous.status).toBe(200);
    expect(anonymous.body).toEqual(byId.body);
  });

  it('hides a private room from outsiders, and shows it to its invitee with the membership', async () => {
    const roomId = (await as(alice, 'POST', 'createRoom', { preset: 'private_chat', name: 'Back room' })).body.room_id as string;
    for (const reply of [await summary(roomId, bob), await summary(roomId)]) {
      expect(reply.status).toBe(404);
      expect(reply.body.errcode).toBe('M_NOT_FOUND');
      assertMatchesSpec(reply.body, { ...SPEC, status: 404 });
    }
    expect((await as(alice, 'POST', `rooms/${encodeURIComponent(roomId)}/invite`, { user_id: bob.userId })).status).toBe(200);
    const invited = await summary(roomId, bob);
    expect(invited.status).toBe(200);
    expect(invited.body).toMatchObject({ room_id: roomId, name: 'Back room', join_rule: 'invite', membership: 'invite', num_joined_members: 1 });
    expect((await summary(roomId)).status).toBe(404);
  });

  it('shows a restricted room to members of the room it allows, with the allowed rooms', async () => {
    const space = (await as(alice, 'POST', 'createRoom', { preset: 'public_chat', creation_content: { type: 'm.space' } })).body.room_id as string;
    const restricted = await as(alice, 'POST', 'createRoom', {
      room_version: '10',
      initial_state: [{ type: 'm.room.join_rules', state_key: '', content: { join_rule: 'restricted', allow: [{ type: 'm.room_membership', room_id: space }] } }],
    });
    expect(restricted.status).toBe(200);
    const roomId = restricted.body.room_id as string;
    expect((await summary(roomId, bob)).status).toBe(404);
    expect((await as(bob, 'POST', `join/${encodeURIComponent(space)}`, {})).status).toBe(200);
    const allowed = await summary(roomId, bob);
    expect(allowed.status).toBe(200);
    expect(allowed.body).toMatchObject({ room_id: roomId, join_rule: 'restricted', allowed_room_ids: [space], room_version: '10' });
    assertMatchesSpec(allowed.body, { ...SPEC, status: 200 });
    expect((await summary(roomId)).status).toBe(404);
  });

  it('answers bad input with Matrix errors', async () => {
    const unknown = await summary(`!nowhere:${hs.serverName}`, bob);
    expect({ status: unknown.status, errcode: unknown.body.errcode }).toEqual({ status: 404, errcode: 'M_NOT_FOUND' });
    const noAlias = await summary(`#nothing-here:${hs.serverName}`, bob);
    expect({ status: noAlias.status, errcode: noAlias.body.errcode }).toEqual({ status: 404, errcode: 'M_NOT_FOUND' });
    const notARoom = await summary('kumquats', bob);
    expect({ status: notARoom.status, errcode: notARoom.body.errcode }).toEqual({ status: 400, errcode: 'M_INVALID_PARAM' });
    const badVia = await summary(`!nowhere:${hs.serverName}`, bob, { via: 'not a server' });
    expect({ status: badVia.status, errcode: badVia.body.errcode }).toEqual({ status: 400, errcode: 'M_INVALID_PARAM' });
    const badToken = await call<Json>(hs.url, 'GET', `/_matrix/client/v1/room_summary/${encodeURIComponent(`!nowhere:${hs.serverName}`)}`, { token: 'not-a-token' });
    expect({ status: badToken.status, errcode: badToken.body.errcode }).toEqual({ status: 401, errcode: 'M_UNKNOWN_TOKEN' });
  });
});
