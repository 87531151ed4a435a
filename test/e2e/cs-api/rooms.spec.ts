/**
 * The room write endpoints over real HTTP (the homeserver in this process on a free port):
 * createRoom, join, invite, leave, forget, kick, ban, unban, send, state, redact, aliases,
 * directory visibility and upgrade; good requests (bodies checked against the spec) and bad
 * ones (the Matrix error each gets, never a 500).
 */
import { assertMatchesSpec, call, registerUser, type SpecResponse, type TestUser } from '@hs/testing';
import { startInProcess, type InProcessServer } from '../../support/in-process-server';

const spec = (file: string, path: string, method: SpecResponse['method'], status = 200): SpecResponse => ({ api: 'client-server', file, path, method, status });
const enc = encodeURIComponent;

describe('room endpoints', () => {
  let hs: InProcessServer;
  let alice: TestUser;
  let bob: TestUser;
  let carol: TestUser;

  beforeAll(async () => {
    hs = await startInProcess({ postgresFromEnv: true });
    [alice, bob, carol] = [await registerUser(hs.url, 'alice'), await registerUser(hs.url, 'bob'), await registerUser(hs.url, 'carol')];
  }, 120_000);
  afterAll(async () => {
    await hs?.close();
  }, 60_000);

  async function createRoom(user: TestUser, body: Record<string, unknown> = {}): Promise<string> {
    const response = await call<{ room_id: string }>(hs.url, 'POST', 'createRoom', { token: user.token, body });
    expect(response.status).toBe(200);
    return response.body.room_id;
  }

  describe('POST /createRoom', () => {
    it('creates a room and answers its id', async () => {
      const response = await call(hs.url, 'POST', 'createRoom', { token: alice.token, body: { name: 'Test', preset: 'public_chat' } });
      expect(response.status).toBe(200);
      assertMatchesSpec(response.body, spec('create_room.yaml', '/createRoom', 'post'));
      expect(response.body.room_id).toMatch(/^!/);
    });

    it('is also served under r0', async () => {
      const response = await call(hs.url, 'POST', '/_matrix/client/r0/createRoom', { token: alice.token, body: {} });
      expect(response.status).toBe(200);
      expect(response.body.room_id).toMatch(/^!/);
    });

    it('needs an access token', async () => {
      const response = await call(hs.url, 'POST', 'createRoom', { body: {} });
      expect(response).toEqual({ status: 401, body: expect.objectContaining({ errcode: 'M_MISSING_TOKEN' }) });
    });

    it('refuses wrong-typed fields with M_BAD_JSON and a non-object body', async () => {
      for (const body of [{ name: 5 }, { invite: 'x' }, { preset: 'nonsense' }]) {
        const response = await call(hs.url, 'POST', 'createRoom', { token: alice.token, body });
        expect(response.status).toBe(400);
        expect(response.body.errcode).toBe('M_BAD_JSON');
      }
      const array = await call(hs.url, 'POST', 'createRoom', { token: alice.token, body: [1] });
      expect(array).toEqual({ status: 400, body: expect.objectContaining({ errcode: 'M_BAD_JSON' }) });
      const notJson = await call(hs.url, 'POST', 'createRoom', { token: alice.token, raw: '{"name":' });
      expect(notJson).toEqual({ status: 400, body: expect.objectContaining({ errcode: 'M_NOT_JSON' }) });
    });

    it('refuses an unknown room version and a taken alias', async () => {
      const version = await call(hs.url, 'POST', 'createRoom', { token: alice.token, body: { room_version: '999' } });
      expect(version).toEqual({ status: 400, body: expect.objectContaining({ errcode: 'M_UNSUPPORTED_ROOM_VERSION' }) });
      const name = `taken${Date.now()}`;
      await createRoom(alice, { room_alias_name: name });
      const taken = await call(hs.url, 'POST', 'createRoom', { token: bob.token, body: { room_alias_name: name } });
      expect(taken).toEqual({ status: 400, body: expect.objectContaining({ errcode: 'M_ROOM_IN_USE' }) });
    });
  });

  describe('membership', () => {
    it('POST /join and /rooms/{roomId}/join keep the reason and custom keys of the body in the member event', async () => {
      const alias = `custom${Date.now()}`;
      const roomId = await createRoom(alice, { preset: 'public_chat', room_alias_name: alias });
      for (const [user, path] of [[bob, `join/${enc(`#${alias}:${hs.serverName}`)}`], [carol, `rooms/${enc(roomId)}/join`]] as const) {
        const join = await call<{ room_id: string }>(hs.url, 'POST', path, { token: user.token, body: { foo: 'bar', reason: 'saying hi', membership: 'leave' } });
        expect(join).toEqual({ status: 200, body: { room_id: roomId } });
        const member = await call(hs.url, 'GET', `rooms/${enc(roomId)}/state/m.room.member/${enc(user.userId)}`, { token: user.token });
        expect(member.body).toMatchObject({ membership: 'join', foo: 'bar', reason: 'saying hi' });
        await call(hs.url, 'POST', `rooms/${enc(roomId)}/leave`, { token: user.token, body: {} });
      }
    });

    it('invite, join by id, leave, forget', async () => {
      const roomId = await createRoom(alice);
      const invite = await call(hs.url, 'POST', `rooms/${enc(roomId)}/invite`, { token: alice.token, body: { user_id: bob.userId } });
      expect(invite.status).toBe(200);
      assertMatchesSpec(invite.body, spec('inviting.yaml', '/rooms/{roomId}/invite ', 'post'));
      const join = await call(hs.url, 'POST', `rooms/${enc(roomId)}/join`, { token: bob.token, body: {} });
      expect(join).toEqual({ status: 200, body: { room_id: roomId } });
      assertMatchesSpec(join.body, spec('joining.yaml', '/rooms/{roomId}/join', 'post'));
      const forgetEarly = await call(hs.url, 'POST', `rooms/${enc(roomId)}/forget`, { token: bob.token, body: {} });
      expect(forgetEarly.status).toBe(400);
      const leave = await call(hs.url, 'POST', `rooms/${enc(roomId)}/leave`, { token: bob.token, body: { reason: 'bye' } });
      expect(leave).toEqual({ status: 200, body: {} });
      assertMatchesSpec(leave.body, spec('leaving.yaml', '/rooms/{roomId}/leave', 'post'));
      const forget = await call(hs.url, 'POST', `rooms/${enc(roomId)}/forget`, { token: bob.token });
      expect(forget).toEqual({ status: 200, body: {} });
      assertMatchesSpec(forget.body, spec('leaving.yaml', '/rooms/{roomId}/forget', 'post'));
    });

    it('refuses invites by third-party identifier with 403 M_SERVER_NOT_TRUSTED (no identity server is trusted), appending nothing', async () => {
      const roomId = await createRoom(alice);
      const before = await call<{ chunk: unknown[] }>(hs.url, 'GET', `rooms/${enc(roomId)}/messages`, { token: alice.token, query: { dir: 'b', limit: '50' } });
      const invite3pid = { id_server: 'id.example.org', id_access_token: 'abc123', medium: 'email', address: 'someone@example.org' };
      const byEmail = await call(hs.url, 'POST', `rooms/${enc(roomId)}/invite`, { token: alice.token, body: invite3pid });
      expect(byEmail).toEqual({ status: 403, body: { errcode: 'M_SERVER_NOT_TRUSTED', error: expect.any(String) } });
      assertMatchesSpec(byEmail.body, spec('third_party_membership.yaml', '/rooms/{roomId}/invite', 'post', 403));
      const withoutToken = await call(hs.url, 'POST', `rooms/${enc(roomId)}/invite`, { token: alice.token, body: { ...invite3pid, id_access_token: undefined } });
      expect(withoutToken.body.errcode).toBe('M_SERVER_NOT_TRUSTED');
      const incomplete = await call(hs.url, 'POST', `rooms/${enc(roomId)}/invite`, { token: alice.token, body: { medium: 'email', address: 'someone@example.org' } });
      expect(incomplete).toEqual({ status: 400, body: expect.objectContaining({ errcode: 'M_MISSING_PARAM' }) });
      const after = await call<{ chunk: unknown[] }>(hs.url, 'GET', `rooms/${enc(roomId)}/messages`, { token: alice.token, query: { dir: 'b', limit: '50' } });
      expect(after.body.chunk).toHaveLength(before.body.chunk.length);
      const inCreateRoom = await call(hs.url, 'POST', 'createRoom', { token: alice.token, body: { invite_3pid: [invite3pid] } });
      expect(inCreateRoom).toEqual({ status: 403, body: expect.objectContaining({ errcode: 'M_SERVER_NOT_TRUSTED' }) });
      const noneInCreateRoom = await call(hs.url, 'POST', 'createRoom', { token: alice.token, body: { invite_3pid: [] } });
      expect(noneInCreateRoom.status).toBe(200);
    });

    it('join by alias; an invite-only room refuses the uninvited', async () => {
      const name = `pub${Date.now()}`;
      const roomId = await createRoom(alice, { preset: 'public_chat', room_alias_name: name });
      const alias = `#${name}:${hs.serverName}`;
      const join = await call(hs.url, 'POST', `join/${enc(alias)}`, { token: carol.token, body: {} });
      expect(join).toEqual({ status: 200, body: { room_id: roomId } });
      assertMatchesSpec(join.body, spec('joining.yaml', '/join/{roomIdOrAlias}', 'post'));
      const privateRoom = await createRoom(alice);
      const refused = await call(hs.url, 'POST', `join/${enc(privateRoom)}`, { token: carol.token, body: {} });
      expect(refused).toEqual({ status: 403, body: expect.objectContaining({ errcode: 'M_FORBIDDEN' }) });
    });

    it('bad ids are M_INVALID_PARAM; unknown rooms and aliases are 404 or 403', async () => {
      for (const path of ['rooms/not-a-room/join', 'join/nonsense', 'rooms/%21x/leave']) {
        const response = await call(hs.url, 'POST', path, { token: bob.token, body: {} });
        expect(response.status).toBe(400);
        expect(response.body.errcode).toBe('M_INVALID_PARAM');
      }
      const unknownAlias = await call(hs.url, 'POST', `join/${enc(`#nope:${hs.serverName}`)}`, { token: bob.token, body: {} });
      expect(unknownAlias).toEqual({ status: 404, body: expect.objectContaining({ errcode: 'M_NOT_FOUND' }) });
      const unknownRoom = await call(hs.url, 'POST', `rooms/${enc(`!nope:${hs.serverName}`)}/leave`, { token: bob.token, body: {} });
      expect([403, 404]).toContain(unknownRoom.status);
      const invite = await call(hs.url, 'POST', `rooms/${enc(`!nope:${hs.serverName}`)}/invite`, { token: bob.token, body: { user_id: alice.userId } });
      expect([403, 404]).toContain(invite.status);
      const badUser = await call(hs.url, 'POST', `rooms/${enc(await createRoom(alice))}/invite`, { token: alice.token, body: { user_id: 'bob' } });
      expect(badUser).toEqual({ status: 400, body: expect.objectContaining({ errcode: 'M_INVALID_PARAM' }) });
      const missing = await call(hs.url, 'POST', `rooms/${enc(await createRoom(alice))}/invite`, { token: alice.token, body: {} });
      expect(missing.status).toBe(400);
      const wrongType = await call(hs.url, 'POST', `rooms/${enc(await createRoom(alice))}/kick`, { token: alice.token, body: { user_id: 5 } });
      expect(wrongType).toEqual({ status: 400, body: expect.objectContaining({ errcode: 'M_BAD_JSON' }) });
    });

    it('kick, ban and unban, each refused without the power to do it', async () => {
      const name = `mod${Date.now()}`;
      const roomId = await createRoom(alice, { preset: 'public_chat', room_alias_name: name });
      await call(hs.url, 'POST', `join/${enc(roomId)}`, { token: bob.token, body: {} });
      await call(hs.url, 'POST', `join/${enc(roomId)}`, { token: carol.token, body: {} });
      const notAllowed = await call(hs.url, 'POST', `rooms/${enc(roomId)}/kick`, { token: bob.token, body: { user_id: carol.userId } });
      expect(notAllowed).toEqual({ status: 403, body: expect.objectContaining({ errcode: 'M_FORBIDDEN' }) });
      const kick = await call(hs.url, 'POST', `rooms/${enc(roomId)}/kick`, { token: alice.token, body: { user_id: carol.userId, reason: 'spam' } });
      expect(kick).toEqual({ status: 200, body: {} });
      assertMatchesSpec(kick.body, spec('kicking.yaml', '/rooms/{roomId}/kick', 'post'));
      const ban = await call(hs.url, 'POST', `rooms/${enc(roomId)}/ban`, { token: alice.token, body: { user_id: bob.userId } });
      expect(ban).toEqual({ status: 200, body: {} });
      assertMatchesSpec(ban.body, spec('banning.yaml', '/rooms/{roomId}/ban', 'post'));
      const rejoin = await call(hs.url, 'POST', `join/${enc(roomId)}`, { token: bob.token, body: {} });
      expect(rejoin.status).toBe(403);
      const unban = await call(hs.url, 'POST', `rooms/${enc(roomId)}/unban`, { token: alice.token, body: { user_id: bob.userId } });
      expect(unban).toEqual({ status: 200, body: {} });
      assertMatchesSpec(unban.body, spec('banning.yaml', '/rooms/{roomId}/unban', 'post'));
      const again = await call(hs.url, 'POST', `join/${enc(roomId)}`, { token: bob.token, body: {} });
      expect(again.status).toBe(200);
    });
  });

  describe('sending', () => {
    let roomId: string;
    beforeAll(async () => {
      roomId = await createRoom(alice, { preset: 'public_chat' });
      await call(hs.url, 'POST', `join/${enc(roomId)}`, { token: bob.token, body: {} });
    });

    it('PUT send: an event id; the same transaction id gives the same event back', async () => {
      const path = `rooms/${enc(roomId)}/send/m.room.message/txn-1`;
      const first = await call<{ event_id: string }>(hs.url, 'PUT', path, { token: alice.token, body: { msgtype: 'm.text', body: 'hi' } });
      expect(first.status).toBe(200);
      assertMatchesSpec(first.body, spec('room_send.yaml', '/rooms/{roomId}/send/{eventType}/{txnId}', 'put'));
      const retry = await call<{ event_id: string }>(hs.url, 'PUT', path, { token: alice.token, body: { msgtype: 'm.text', body: 'hi' } });
      expect(retry.body.event_id).toBe(first.body.event_id);
      const otherUser = await call<{ event_id: string }>(hs.url, 'PUT', path, { token: bob.token, body: { msgtype: 'm.text', body: 'hi' } });
      expect(otherUser.status).toBe(200);
      expect(otherUser.body.event_id).not.toBe(first.body.event_id);
      // The transaction id is scoped to the path: the same id in another room, or for another
      // event type, is a new event, and a retry of each gives its own back.
      const otherRoom = await createRoom(alice, {});
      const elsewhere = await call<{ event_id: string }>(hs.url, 'PUT', `rooms/${enc(otherRoom)}/send/m.room.message/txn-1`, { token: alice.token, body: { msgtype: 'm.text', body: 'hi there' } });
      expect(elsewhere.status).toBe(200);
      expect(elsewhere.body.event_id).not.toBe(first.body.event_id);
      const otherType = await call<{ event_id: string }>(hs.url, 'PUT', `rooms/${enc(roomId)}/send/org.example.custom/txn-1`, { token: alice.token, body: { hello: true } });
      expect([otherType.status, otherType.body.event_id === first.body.event_id || otherType.body.event_id === elsewhere.body.event_id]).toEqual([200, false]);
      const elsewhereAgain = await call<{ event_id: string }>(hs.url, 'PUT', `rooms/${enc(otherRoom)}/send/m.room.message/txn-1`, { token: alice.token, body: { msgtype: 'm.text', body: 'hi there' } });
      expect(elsewhereAgain.body.event_id).toBe(elsewhere.body.event_id);
      const event = await call<{ content: { body?: string } }>(hs.url, 'GET', `rooms/${enc(otherRoom)}/event/${enc(elsewhere.body.event_id)}`, { token: alice.token });
      expect(event.body.content.body).toBe('hi there');
    });

    it('POST send without a transaction id (the deprecated form): every call is a new event', async () => {
      const path = `rooms/${enc(roomId)}/send/m.room.message`;
      const first = await call<{ event_id: string }>(hs.url, 'POST', path, { token: alice.token, body: { msgtype: 'm.text', body: 'old client' } });
      expect(first.status).toBe(200);
      expect(first.body.event_id).toMatch(/^\$/);
      const second = await call<{ event_id: string }>(hs.url, 'POST', path, { token: alice.token, body: { msgtype: 'm.text', body: 'old client' } });
      expect(second.body.event_id).not.toBe(first.body.event_id);
      const event = await call<{ content: { body: string } }>(hs.url, 'GET', `rooms/${enc(roomId)}/event/${enc(first.body.event_id)}`, { token: bob.token });
      expect(event.body.content.body).toBe('old client');
      const notMember = await call(hs.url, 'POST', path, { token: carol.token, body: { body: 'x' } });
      expect(notMember).toEqual({ status: 403, body: expect.objectContaining({ errcode: 'M_FORBIDDEN' }) });
    });

    it('PUT send: refusals', async () => {
      const notMember = await call(hs.url, 'PUT', `rooms/${enc(roomId)}/send/m.room.message/t2`, { token: carol.token, body: { body: 'x' } });
      expect(notMember).toEqual({ status: 403, body: expect.objectContaining({ errcode: 'M_FORBIDDEN' }) });
      const badRoom = await call(hs.url, 'PUT', 'rooms/abc/send/m.room.message/t3', { token: alice.token, body: {} });
      expect(badRoom).toEqual({ status: 400, body: expect.objectContaining({ errcode: 'M_INVALID_PARAM' }) });
      const notObject = await call(hs.url, 'PUT', `rooms/${enc(roomId)}/send/m.room.message/t4`, { token: alice.token, body: 'text' });
      expect(notObject).toEqual({ status: 400, body: expect.objectContaining({ errcode: 'M_BAD_JSON' }) });
      const longType = await call(hs.url, 'PUT', `rooms/${enc(roomId)}/send/${'x'.repeat(300)}/t5`, { token: alice.token, body: {} });
      expect(longType.status).toBe(400);
      const unknown = await call(hs.url, 'PUT', `rooms/${enc(`!unknown:${hs.serverName}`)}/send/m.room.message/t6`, { token: alice.token, body: {} });
      expect([403, 404]).toContain(unknown.status);
    });

    it('PUT state with and without a state key; refused without power', async () => {
      const topic = await call(hs.url, 'PUT', `rooms/${enc(roomId)}/state/m.room.topic`, { token: alice.token, body: { topic: 'hello' } });
      expect(topic.status).toBe(200);
      assertMatchesSpec(topic.body, spec('room_state.yaml', '/rooms/{roomId}/state/{eventType}/{stateKey}', 'put'));
      const keyed = await call(hs.url, 'PUT', `rooms/${enc(roomId)}/state/org.example.thing/key1`, { token: alice.token, body: { a: 1 } });
      expect(keyed.status).toBe(200);
      const bobTries = await call(hs.url, 'PUT', `rooms/${enc(roomId)}/state/m.room.name/`, { token: bob.token, body: { name: 'mine' } });
      expect(bobTries).toEqual({ status: 403, body: expect.objectContaining({ errcode: 'M_FORBIDDEN' }) });
      const badContent = await call(hs.url, 'PUT', `rooms/${enc(roomId)}/state/m.room.topic`, { token: alice.token, body: [1] });
      expect(badContent).toEqual({ status: 400, body: expect.objectContaining({ errcode: 'M_BAD_JSON' }) });
    });

    it('PUT state identical to the current state answers the current event and appends nothing', async () => {
      const path = `rooms/${enc(roomId)}/state/org.example.same/k`;
      const first = await call<{ event_id: string }>(hs.url, 'PUT', path, { token: alice.token, body: { a: 1, b: [true] } });
      expect(first.status).toBe(200);
      const again = await call<{ event_id: string }>(hs.url, 'PUT', path, { token: alice.token, body: { b: [true], a: 1 } });
      expect(again.status).toBe(200);
      assertMatchesSpec(again.body, spec('room_state.yaml', '/rooms/{roomId}/state/{eventType}/{stateKey}', 'put'));
      expect(again.body.event_id).toBe(first.body.event_id);
      const messages = await call<{ chunk: { type: string }[] }>(hs.url, 'GET', `rooms/${enc(roomId)}/messages`, { token: alice.token, query: { dir: 'b', limit: '5' } });
      expect(messages.body.chunk.filter((event) => event.type === 'org.example.same')).toHaveLength(1);
      const changed = await call<{ event_id: string }>(hs.url, 'PUT', path, { token: alice.token, body: { a: 2 } });
      expect(changed.body.event_id).not.toBe(first.body.event_id);
    });

    it('PUT redact: redacts, idempotent per transaction; bad event ids refused', async () => {
      const sent = await call<{ event_id: string }>(hs.url, 'PUT', `rooms/${enc(roomId)}/send/m.room.message/r1`, { token: bob.token, body: { body: 'oops' } });
      const path = `rooms/${enc(roomId)}/redact/${enc(sent.body.event_id)}/red-1`;
      const redact = await call<{ event_id: string }>(hs.url, 'PUT', path, { token: bob.token, body: { reason: 'typo' } });
      expect(redact.status).toBe(200);
      assertMatchesSpec(redact.body, spec('redaction.yaml', '/rooms/{roomId}/redact/{eventId}/{txnId}', 'put'));
      const again = await call<{ event_id: string }>(hs.url, 'PUT', path, { token: bob.token, body: { reason: 'typo' } });
      expect(again.body.event_id).toBe(redact.body.event_id);
      const bad = await call(hs.url, 'PUT', `rooms/${enc(roomId)}/redact/not-an-event/red-2`, { token: bob.token, body: {} });
      expect(bad).toEqual({ status: 400, body: expect.objectContaining({ errcode: 'M_INVALID_PARAM' }) });
      const badReason = await call(hs.url, 'PUT', path.replace('red-1', 'red-3'), { token: bob.token, body: { reason: 7 } });
      expect(badReason).toEqual({ status: 400, body: expect.objectContaining({ errcode: 'M_BAD_JSON' }) });
      const otherRoom = await createRoom(bob);
      const elsewhere = await call<{ event_id: string }>(hs.url, 'PUT', `rooms/${enc(otherRoom)}/send/m.room.message/r2`, { token: bob.token, body: { body: 'x' } });
      const crossRoom = await call(hs.url, 'PUT', `rooms/${enc(roomId)}/redact/${enc(elsewhere.body.event_id)}/red-4`, { token: bob.token, body: {} });
      expect(crossRoom).toEqual({ status: 400, body: expect.objectContaining({ errcode: 'M_INVALID_PARAM' }) });
    });

    it('POST redact (the form without a transaction id) redacts', async () => {
      const sent = await call<{ event_id: string }>(hs.url, 'PUT', `rooms/${enc(roomId)}/send/m.room.message/r-post`, { token: bob.token, body: { body: 'oops' } });
      const redact = await call<{ event_id: string }>(hs.url, 'POST', `rooms/${enc(roomId)}/redact/${enc(sent.body.event_id)}`, { token: bob.token, body: {} });
      expect(redact.status).toBe(200);
      const event = await call<{ content: Record<string, unknown>; unsigned?: { redacted_because?: { event_id: string } } }>(hs.url, 'GET', `rooms/${enc(roomId)}/event/${enc(sent.body.event_id)}`, { token: bob.token });
      expect(event.body.content).toEqual({});
      expect(event.body.unsigned?.redacted_because?.event_id).toBe(redact.body.event_id);
    });
  });

  describe('aliases and the directory', () => {
    it('PUT, GET, DELETE /directory/room/{roomAlias} and GET /rooms/{roomId}/aliases', async () => {
      const roomId = await createRoom(alice);
      const alias = `#dir${Date.now()}:${hs.serverName}`;
      const put = await call(hs.url, 'PUT', `directory/room/${enc(alias)}`, { token: alice.token, body: { room_id: roomId } });
      expect(put).toEqual({ status: 200, body: {} });
      assertMatchesSpec(put.body, spec('directory.yaml', '/directory/room/{roomAlias}', 'put'));
      const taken = await call(hs.url, 'PUT', `directory/room/${enc(alias)}`, { token: alice.token, body: { room_id: roomId } });
      expect(taken.status).toBe(409);
      const get = await call(hs.url, 'GET', `directory/room/${enc(alias)}`);
      expect(get.status).toBe(200);
      expect(get.body).toEqual({ room_id: roomId, servers: [hs.serverName] });
      assertMatchesSpec(get.body, spec('directory.yaml', '/directory/room/{roomAlias}', 'get'));
      const aliases = await call(hs.url, 'GET', `rooms/${enc(roomId)}/aliases`, { token: alice.token });
      expect(aliases).toEqual({ status: 200, body: { aliases: [alias] } });
      assertMatchesSpec(aliases.body, spec('directory.yaml', '/rooms/{roomId}/aliases', 'get'));
      const outsider = await call(hs.url, 'GET', `rooms/${enc(roomId)}/aliases`, { token: carol.token });
      expect(outsider).toEqual({ status: 403, body: expect.objectContaining({ errcode: 'M_FORBIDDEN' }) });
      const readable = await call(hs.url, 'PUT', `rooms/${enc(roomId)}/state/m.room.history_visibility/`, {
        token: alice.token,
        body: { history_visibility: 'world_readable' },
      });
      expect(readable.status).toBe(200);
      const peeker = await call(hs.url, 'GET', `rooms/${enc(roomId)}/aliases`, { token: carol.token });
      expect(peeker).toEqual({ status: 200, body: { aliases: [alias] } });
      const del = await call(hs.url, 'DELETE', `directory/room/${enc(alias)}`, { token: alice.token });
      expect(del).toEqual({ status: 200, body: {} });
      assertMatchesSpec(del.body, spec('directory.yaml', '/directory/room/{roomAlias}', 'delete'));
      const gone = await call(hs.url, 'GET', `directory/room/${enc(alias)}`);
      expect(gone).toEqual({ status: 404, body: expect.objectContaining({ errcode: 'M_NOT_FOUND' }) });
      const badAlias = await call(hs.url, 'GET', 'directory/room/no-hash');
      expect(badAlias).toEqual({ status: 400, body: expect.objectContaining({ errcode: 'M_INVALID_PARAM' }) });
      const badBody = await call(hs.url, 'PUT', `directory/room/${enc(alias)}`, { token: alice.token, body: { room_id: 3 } });
      expect(badBody).toEqual({ status: 400, body: expect.objectContaining({ errcode: 'M_BAD_JSON' }) });
    });

    it('GET and PUT /directory/list/room/{roomId}', async () => {
      const roomId = await createRoom(alice);
      const before = await call(hs.url, 'GET', `directory/list/room/${enc(roomId)}`);
      expect(before).toEqual({ status: 200, body: { visibility: 'private' } });
      assertMatchesSpec(before.body, spec('list_public_rooms.yaml', '/directory/list/room/{roomId}', 'get'));
      const put = await call(hs.url, 'PUT', `directory/list/room/${enc(roomId)}`, { token: alice.token, body: { visibility: 'public' } });
      expect(put).toEqual({ status: 200, body: {} });
      const after = await call(hs.url, 'GET', `directory/list/room/${enc(roomId)}`);
      expect(after.body).toEqual({ visibility: 'public' });
      const bobTries = await call(hs.url, 'PUT', `directory/list/room/${enc(roomId)}`, { token: bob.token, body: { visibility: 'private' } });
      expect(bobTries.status).toBe(403);
      const bad = await call(hs.url, 'PUT', `directory/list/room/${enc(roomId)}`, { token: alice.token, body: { visibility: 'secret' } });
      expect(bad).toEqual({ status: 400, body: expect.objectContaining({ errcode: 'M_BAD_JSON' }) });
      const unknown = await call(hs.url, 'GET', `directory/list/room/${enc(`!nope:${hs.serverName}`)}`);
      expect(unknown).toEqual({ status: 404, body: expect.objectContaining({ errcode: 'M_NOT_FOUND' }) });
    });
  });

  describe('GET and POST /publicRooms', () => {
    it('lists published rooms, filters and pages them, sees a publication at once, and refuses bad input', async () => {
      const tag = `dir${Date.now()}`;
      const first = await createRoom(alice, { preset: 'public_chat', name: `${tag} first`, topic: 'about things', visibility: 'public' });
      const second = await createRoom(alice, { preset: 'public_chat', name: `${tag} second`, creation_content: { type: 'm.space' } });
      await call(hs.url, 'POST', `join/${enc(first)}`, { token: bob.token, body: {} });
      // Not published yet.
      const filtered = (term: string, extra: Record<string, unknown> = {}) =>
        call<{ chunk: { room_id: string; name?: string; topic?: string; num_joined_members: number; room_type?: string }[]; next_batch?: string; total_room_count_estimate?: number }>(
          hs.url,
          'POST',
          'publicRooms',
          { token: bob.token, body: { filter: { generic_search_term: term }, ...extra } },
        );
      expect((await filtered(tag)).body.chunk.map((r) => r.room_id)).toEqual([first]);
      // Published: the next request sees it (the write model answers).
      expect((await call(hs.url, 'PUT', `directory/list/room/${enc(second)}`, { token: alice.token, body: { visibility: 'public' } })).status).toBe(200);
      const both = await filtered(tag);
      expect(both.status).toBe(200);
      assertMatchesSpec(both.body, spec('list_public_rooms.yaml', '/publicRooms', 'post'));
      expect(both.body.chunk.map((r) => r.room_id)).toEqual([first, second]);
      expect(both.body.chunk[0]).toMatchObject({ name: `${tag} first`, topic: 'about things', num_joined_members: 2, world_readable: false, guest_can_join: false, join_rule: 'public' });
      expect(both.body.chunk[1]).toMatchObject({ room_type: 'm.space' });
      expect((await filtered(tag, { filter: { generic_search_term: tag, room_types: ['m.space'] } })).body.chunk.map((r) => r.room_id)).toEqual([second]);
      expect((await filtered(tag, { filter: { generic_search_term: tag, room_types: [null] } })).body.chunk.map((r) => r.room_id)).toEqual([first]);
      // A page of one, then the next through next_batch.
      const page = await filtered(tag, { limit: 1 });
      expect(page.body.chunk.map((r) => r.room_id)).toEqual([first]);
      expect(typeof page.body.next_batch).toBe('string');
      expect((await filtered(tag, { limit: 1, since: page.body.next_batch })).body.chunk.map((r) => r.room_id)).toEqual([second]);
      // Keys sent as null are taken as absent.
      expect((await filtered(tag, { limit: 1, since: null, third_party_instance_id: null })).body.chunk.map((r) => r.room_id)).toEqual([first]);
      // GET needs no access token.
      const get = await call<{ chunk: { room_id: string }[] }>(hs.url, 'GET', 'publicRooms?limit=500');
      expect(get.status).toBe(200);
      assertMatchesSpec(get.body, spec('list_public_rooms.yaml', '/publicRooms', 'get'));
      expect(get.body.chunk.map((r) => r.room_id)).toEqual(expect.arrayContaining([first, second]));
      // Our own name as `server` is the local directory; a room made private leaves it.
      await call(hs.url, 'PUT', `directory/list/room/${enc(first)}`, { token: alice.token, body: { visibility: 'private' } });
      const ours = await call<{ chunk: { room_id: string }[] }>(hs.url, 'GET', `publicRooms?server=${enc(hs.serverName)}&limit=500`);
      expect(ours.body.chunk.map((r) => r.room_id)).toEqual(expect.arrayContaining([second]));
      expect(ours.body.chunk.map((r) => r.room_id)).not.toContain(first);
      for (const [what, method, path, body] of [
        ['a bad limit', 'GET', 'publicRooms?limit=many', undefined],
        ['a bad since', 'GET', 'publicRooms?since=nonsense', undefined],
        ['a bad server name', 'GET', 'publicRooms?server=a%20b', undefined],
        ['a filter of the wrong type', 'POST', 'publicRooms', { filter: { generic_search_term: 5 } }],
        ['room types of the wrong type', 'POST', 'publicRooms', { filter: { room_types: 'm.space' } }],
      ] as const) {
        const answer = await call(hs.url, method, path, { token: bob.token, ...(body ? { body } : {}) });
        expect({ what, status: answer.status, errcode: (answer.body as { errcode?: string }).errcode?.slice(0, 2) }).toEqual({ what, status: 400, errcode: 'M_' });
      }
      expect((await call(hs.url, 'POST', 'publicRooms', { body: {} })).status).toBe(401);
    });
  });

  describe('GET /rooms/{roomId}/timestamp_to_event', () => {
    it('finds the event closest to a time in either direction, among those the user may see', async () => {
      const roomId = await createRoom(alice, { preset: 'private_chat' });
      const send = async (body: string) =>
        (await call<{ event_id: string }>(hs.url, 'PUT', `rooms/${enc(roomId)}/send/m.room.message/${body}-${Date.now()}`, { token: alice.token, body: { msgtype: 'm.text', body } })).body.event_id;
      const first = await send('first');
      await new Promise((resolve) => setTimeout(resolve, 5));
      const middle = Date.now();
      await new Promise((resolve) => setTimeout(resolve, 5));
      const second = await send('second');
      const path = (ts: number, dir: string) => `rooms/${enc(roomId)}/timestamp_to_event?ts=${ts}&dir=${dir}`;
      const v1 = (p: string) => `${hs.url}/_matrix/client/v1/${p}`;
      const get = (p: string, token = alice.token) => fetch(v1(p), { headers: { Authorization: `Bearer ${token}` } }).then(async (r) => ({ status: r.status, body: (await r.json()) as Record<string, unknown> }));
      // Right after the send, the newest event at or before "far in the future" is the one just sent.
      const latest = await get(path(Date.now() + 3_600_000, 'b'));
      expect(latest.status).toBe(200);
      assertMatchesSpec(latest.body, spec('room_event_by_timestamp.yaml', '/rooms/{roomId}/timestamp_to_event', 'get'));
      expect(latest.body.event_id).toBe(second);
      expect((await get(path(middle, 'b'))).body.event_id).toBe(first);
      expect((await get(path(middle, 'f'))).body).toMatchObject({ event_id: second, origin_server_ts: expect.any(Number) });
      // Before the room existed, forwards: its create event.
      const create = await call<{ event_id?: string }>(hs.url, 'GET', `rooms/${enc(roomId)}/state/m.room.create?format=event`, { token: alice.token });
      expect((await get(path(0, 'f'))).body.event_id).toBe(create.body.event_id);
      expect(await get(path(0, 'b'))).toEqual({ status: 404, body: expect.objectContaining({ errcode: 'M_NOT_FOUND' }) });
      // Someone who may not read the room.
      expect((await get(path(middle, 'f'), bob.token)).status).toBe(403);
      for (const bad of [`rooms/${enc(roomId)}/timestamp_to_event?dir=f`, `rooms/${enc(roomId)}/timestamp_to_event?ts=1`, path(1, 'x'), path(-1, 'f'), `rooms/${enc(roomId)}/timestamp_to_event?ts=soon&dir=f`]) {
        const answer = await get(bad);
        expect({ bad, status: answer.status }).toEqual({ bad, status: 400 });
      }
    });
  });

  describe('GET /rooms/{roomId}/hierarchy', () => {
    it('walks the space tree depth first, in the children’s order, showing the rooms the user may see, a page at a time', async () => {
      const space = await createRoom(alice, { preset: 'public_chat', name: 'Space', creation_content: { type: 'm.space' } });
      const open = await createRoom(alice, { preset: 'public_chat', name: 'Open' });
      const closed = await createRoom(alice, { preset: 'private_chat', name: 'Closed' });
      const sub = await createRoom(alice, { preset: 'public_chat', name: 'Sub', creation_content: { type: 'm.space' } });
      const deep = await createRoom(alice, { preset: 'public_chat', name: 'Deep', topic: 'far down' });
      const child = (parent: string, roomId: string, content: Record<string, unknown>) =>
        call(hs.url, 'PUT', `rooms/${enc(parent)}/state/m.space.child/${enc(roomId)}`, { token: alice.token, body: { via: [hs.serverName], ...content } });
      await child(space, open, { order: 'b' });
      await child(space, closed, { order: 'a' });
      await child(space, sub, { order: 'c', suggested: true });
      await child(sub, deep, {});
      // A child event without via counts as removed.
      await child(space, `!gone:${hs.serverName}`, { via: [] });
      type Page = { rooms: { room_id: string; name?: string; topic?: string; room_type?: string; num_joined_members: number; children_state: { state_key: string; origin_server_ts: number }[] }[]; next_batch?: string };
      const get = (user: TestUser, query: string) => fetch(`${hs.url}/_matrix/client/v1/rooms/${enc(space)}/hierarchy${query}`, { headers: { Authorization: `Bearer ${user.token}` } }).then(async (r) => ({ status: r.status, body: (await r.json()) as Page & { errcode?: string } }));
      const all = await get(alice, '');
      expect(all.status).toBe(200);
      assertMatchesSpec(all.body, spec('space_hierarchy.yaml', '/rooms/{roomId}/hierarchy', 'get'));
      expect(all.body.rooms.map((r) => r.name)).toEqual(['Space', 'Closed', 'Open', 'Sub', 'Deep']);
      expect(all.body.rooms[0]).toMatchObject({ room_type: 'm.space', num_joined_members: 1 });
      expect(all.body.rooms[0].children_state.map((c) => c.state_key)).toEqual([closed, open, sub]);
      expect(all.body.rooms[4]).toMatchObject({ topic: 'far down', children_state: [] });
      // Bob is in none of them: the closed room is left out.
      expect((await get(bob, '')).body.rooms.map((r) => r.name)).toEqual(['Space', 'Open', 'Sub', 'Deep']);
      expect((await get(alice, '?max_depth=1')).body.rooms.map((r) => r.name)).toEqual(['Space', 'Closed', 'Open', 'Sub']);
      expect((await get(alice, '?suggested_only=true')).body.rooms.map((r) => r.name)).toEqual(['Space', 'Sub']);
      const first = await get(alice, '?limit=2');
      expect(first.body.rooms.map((r) => r.name)).toEqual(['Space', 'Closed']);
      const second = await get(alice, `?limit=2&from=${enc(first.body.next_batch ?? '')}`);
      expect(second.body.rooms.map((r) => r.name)).toEqual(['Open', 'Sub']);
      const last = await get(alice, `?limit=2&from=${enc(second.body.next_batch ?? '')}`);
      expect(last.body).toEqual({ rooms: [expect.objectContaining({ name: 'Deep' })] });
      for (const bad of ['?limit=0', '?limit=x', '?max_depth=-1', '?suggested_only=maybe', '?from=nonsense', `?from=${enc(first.body.next_batch ?? '')}&max_depth=1`]) {
        const answer = await get(alice, bad);
        expect({ bad, status: answer.status }).toEqual({ bad, status: 400 });
      }
      // A room the user may not see as the root.
      const privateRoot = fetch(`${hs.url}/_matrix/client/v1/rooms/${enc(closed)}/hierarchy`, { headers: { Authorization: `Bearer ${bob.token}` } });
      expect((await privateRoot).status).toBe(403);
    });
  });

  describe('POST /rooms/{roomId}/upgrade', () => {
    it('upgrades to a new room; refuses a bad version and a member without power', async () => {
      const roomId = await createRoom(alice, { preset: 'public_chat' });
      await call(hs.url, 'POST', `join/${enc(roomId)}`, { token: bob.token, body: {} });
      const bobTries = await call(hs.url, 'POST', `rooms/${enc(roomId)}/upgrade`, { token: bob.token, body: { new_version: '10' } });
      expect(bobTries.status).toBe(403);
      const badVersion = await call(hs.url, 'POST', `rooms/${enc(roomId)}/upgrade`, { token: alice.token, body: { new_version: 'nope' } });
      expect(badVersion).toEqual({ status: 400, body: expect.objectContaining({ errcode: 'M_UNSUPPORTED_ROOM_VERSION' }) });
      const missing = await call(hs.url, 'POST', `rooms/${enc(roomId)}/upgrade`, { token: alice.token, body: {} });
      expect(missing.status).toBe(400);
      const upgrade = await call<{ replacement_room: string }>(hs.url, 'POST', `rooms/${enc(roomId)}/upgrade`, { token: alice.token, body: { new_version: '10' } });
      expect(upgrade.status).toBe(200);
      assertMatchesSpec(upgrade.body, spec('room_upgrades.yaml', '/rooms/{roomId}/upgrade', 'post'));
      expect(upgrade.body.replacement_room).not.toBe(roomId);
      const oldRoomSend = await call(hs.url, 'PUT', `rooms/${enc(roomId)}/send/m.room.message/after-upgrade`, { token: bob.token, body: { body: 'x' } });
      expect(oldRoomSend.status).toBe(403);
    });

    it('carries over the directory listing, bans, canonical alias, direct chats and tags', async () => {
      const aliasName = `upgrade${Date.now()}`;
      const alias = `#${aliasName}:${hs.serverName}`;
      const roomId = await createRoom(alice, { preset: 'public_chat', visibility: 'public', room_alias_name: aliasName });
      await call(hs.url, 'POST', `join/${enc(roomId)}`, { token: bob.token, body: {} });
      const ban = await call(hs.url, 'PUT', `rooms/${enc(roomId)}/state/m.room.member/${enc('@bob:matrix.org')}`, { token: alice.token, body: { membership: 'ban' } });
      expect(ban.status).toBe(200);
      const direct = { [bob.userId]: [roomId] };
      expect((await call(hs.url, 'PUT', `user/${enc(alice.userId)}/account_data/m.direct`, { token: alice.token, body: direct })).status).toBe(200);
      for (const user of [alice, bob]) {
        const tag = await call(hs.url, 'PUT', `user/${enc(user.userId)}/rooms/${enc(roomId)}/tags/u.work`, { token: user.token, body: { order: 0.5 } });
        expect(tag.status).toBe(200);
      }

      const upgrade = await call<{ replacement_room: string }>(hs.url, 'POST', `rooms/${enc(roomId)}/upgrade`, { token: alice.token, body: { new_version: '10' } });
      expect(upgrade.status).toBe(200);
      const newRoomId = upgrade.body.replacement_room;

      expect((await call(hs.url, 'GET', `directory/list/room/${enc(newRoomId)}`)).body).toEqual({ visibility: 'public' });
      expect((await call(hs.url, 'GET', `directory/list/room/${enc(roomId)}`)).body).toEqual({ visibility: 'private' });
      const copiedBan = await call(hs.url, 'GET', `rooms/${enc(newRoomId)}/state/m.room.member/${enc('@bob:matrix.org')}`, { token: alice.token });
      expect(copiedBan).toEqual({ status: 200, body: { membership: 'ban' } });
      expect(await call(hs.url, 'GET', `rooms/${enc(roomId)}/state/m.room.canonical_alias`, { token: alice.token })).toEqual({ status: 200, body: {} });
      expect((await call(hs.url, 'GET', `rooms/${enc(newRoomId)}/state/m.room.canonical_alias`, { token: alice.token })).body).toEqual({ alias });
      expect((await call(hs.url, 'GET', `directory/room/${enc(alias)}`)).body).toMatchObject({ room_id: newRoomId });
      const directAfter = await call(hs.url, 'GET', `user/${enc(alice.userId)}/account_data/m.direct`, { token: alice.token });
      expect(directAfter.body).toEqual({ [bob.userId]: [roomId, newRoomId] });

      // Bob's tag is there for him when he follows the room.
      const join = await call(hs.url, 'POST', `join/${enc(newRoomId)}`, { token: bob.token, body: {} });
      expect(join.status).toBe(200);
      for (const user of [alice, bob]) {
        const tags = await call(hs.url, 'GET', `user/${enc(user.userId)}/rooms/${enc(newRoomId)}/tags`, { token: user.token });
        expect(tags).toEqual({ status: 200, body: { tags: { 'u.work': { order: 0.5 } } } });
      }
    });

    it('names the old room and its tombstone event as the predecessor (no event_id from room version 12 on)', async () => {
      for (const [from, to] of [['10', '11'], ['11', '12']]) {
        const roomId = await createRoom(alice, { room_version: from });
        const upgrade = await call<{ replacement_room: string }>(hs.url, 'POST', `rooms/${enc(roomId)}/upgrade`, { token: alice.token, body: { new_version: to } });
        expect(upgrade.status).toBe(200);
        const newRoomId = upgrade.body.replacement_room;
        const tombstone = await call(hs.url, 'GET', `rooms/${enc(roomId)}/state/m.room.tombstone`, { token: alice.token, query: { format: 'event' } });
        expect(tombstone.body).toMatchObject({ type: 'm.room.tombstone', content: { replacement_room: newRoomId } });
        const create = await call<{ predecessor: unknown; room_version: string }>(hs.url, 'GET', `rooms/${enc(newRoomId)}/state/m.room.create`, { token: alice.token });
        expect(create.body.room_version).toBe(to);
        expect(create.body.predecessor).toEqual(to === '12' ? { room_id: roomId } : { room_id: roomId, event_id: tombstone.body.event_id });
      }
    });
  });

  it('U+0000 in a path parameter, a body string or a filter is a 400, never a 500', async () => {
    const roomId = await createRoom(alice);
    const r = enc(roomId);
    const json = (value: unknown) => enc(JSON.stringify(value));
    const requests: [string, string, unknown?][] = [
      ['PUT', `rooms/${r}/send/m.room%00.message/n1`, {}],
      ['PUT', `rooms/${r}/send/m.room.message/n%002`, {}],
      ['PUT', `rooms/${r}/send/m.room.message/n3`, { body: 'a\u0000b' }],
      ['PUT', `rooms/${r}/send/m.room.message/n4`, { ['k\u0000']: 1 }],
      ['PUT', `rooms/${r}/state/m.room.topic/%00`, { topic: 'x' }],
      ['PUT', `rooms/${r}/redact/${enc(`$e:${hs.serverName}`)}/n%005`, {}],
      ['POST', 'createRoom', { name: 'a\u0000' }],
      ['POST', `rooms/${r}/leave`, { reason: 'a\u0000' }],
      ['GET', `rooms/${r}/messages?dir=b&filter=${json({ types: ['a\u0000'] })}`],
      ['GET', `rooms/${r}/context/${enc(`$e:${hs.serverName}`)}?filter=${json({ senders: ['@a\u0000:x'] })}`],
    ];
    for (const [method, path, body] of requests) {
      const response = await call(hs.url, method, path, { token: alice.token, ...(body !== undefined ? { body } : {}) });
      expect({ method, path, status: response.status }).toEqual({ method, path, status: 400 });
      expect(['M_BAD_JSON', 'M_INVALID_PARAM']).toContain(response.body.errcode);
    }
  });
});
