/**
 * Fully read markers and receipts over HTTP: POST /rooms/{roomId}/read_markers and
 * POST /rooms/{roomId}/receipt/{receiptType}/{eventId} place `m.fully_read` only at an event
 * of the room (404 M_NOT_FOUND for an unknown event or one of another room, and nothing is
 * changed by a refused request); `m.read` and `m.read.private` receipts for an unknown event
 * are 404 M_NOT_FOUND too. A threaded receipt's `thread_id` is checked: non-empty, `main` or
 * the id of a thread root the event belongs to (400 M_INVALID_PARAM otherwise), and never with
 * `m.fully_read`.
 */
import { call, registerUser, useTestServer, type TestUser } from './accounts-harness';

const enc = encodeURIComponent;

describe('read markers and receipts at unknown events', () => {
  const s = useTestServer();
  let alice: TestUser;
  let bob: TestUser;
  let roomId: string;
  let otherRoomId: string;
  let eventId: string;
  let otherRoomEventId: string;

  async function send(user: TestUser, room: string, text: string, extra: Record<string, unknown> = {}): Promise<string> {
    const reply = await call<{ event_id: string }>(s.url, 'PUT', `rooms/${enc(room)}/send/m.room.message/${enc(`${text}-${Math.random()}`)}`, {
      token: user.token,
      body: { msgtype: 'm.text', body: text, ...extra },
    });
    if (reply.status !== 200) throw new Error(`send: ${reply.status} ${JSON.stringify(reply.body)}`);
    return reply.body.event_id;
  }

  const fullyRead = (user: TestUser, room: string) => call(s.url, 'GET', `user/${enc(user.userId)}/rooms/${enc(room)}/account_data/m.fully_read`, { token: user.token });
  const notFound = { status: 404, body: { errcode: 'M_NOT_FOUND', error: expect.any(String) } };
  const unknownEventId = '$doesNotExist0123456789abcdefghijklmnopqrstu';

  beforeAll(async () => {
    alice = await registerUser(s.url, 'alice');
    bob = await registerUser(s.url, 'bob');
    roomId = (await call<{ room_id: string }>(s.url, 'POST', 'createRoom', { token: alice.token, body: { preset: 'public_chat' } })).body.room_id;
    otherRoomId = (await call<{ room_id: string }>(s.url, 'POST', 'createRoom', { token: alice.token, body: { preset: 'public_chat' } })).body.room_id;
    await call(s.url, 'POST', `join/${enc(roomId)}`, { token: bob.token, body: {} });
    eventId = await send(alice, roomId, 'hello');
    otherRoomEventId = await send(alice, otherRoomId, 'elsewhere');
  });

  it('read_markers: m.fully_read at an event of the room is stored as room account data', async () => {
    const reply = await call(s.url, 'POST', `rooms/${enc(roomId)}/read_markers`, { token: bob.token, body: { 'm.fully_read': eventId, 'm.read': eventId } });
    expect(reply).toEqual({ status: 200, body: {} });
    expect(await fullyRead(bob, roomId)).toEqual({ status: 200, body: { event_id: eventId } });
  });

  it('read_markers: 404 M_NOT_FOUND for an unknown event or an event of another room, leaving the marker where it was', async () => {
    await call(s.url, 'POST', `rooms/${enc(roomId)}/read_markers`, { token: alice.token, body: { 'm.fully_read': eventId } });
    for (const target of [unknownEventId, otherRoomEventId]) {
      const reply = await call(s.url, 'POST', `rooms/${enc(roomId)}/read_markers`, { token: alice.token, body: { 'm.fully_read': target, 'm.read': eventId } });
      expect(reply).toEqual(notFound);
      expect(await fullyRead(alice, roomId)).toEqual({ status: 200, body: { event_id: eventId } });
    }
  });

  it('read_markers: 404 M_NOT_FOUND for m.read or m.read.private at an unknown event', async () => {
    for (const key of ['m.read', 'm.read.private']) {
      const reply = await call(s.url, 'POST', `rooms/${enc(roomId)}/read_markers`, { token: bob.token, body: { [key]: unknownEventId } });
      expect(reply).toEqual(notFound);
    }
  });

  it('receipt/m.fully_read: 404 M_NOT_FOUND for an unknown event or one of another room; 200 for an event of the room', async () => {
    const carol = await registerUser(s.url, 'carol');
    await call(s.url, 'POST', `join/${enc(roomId)}`, { token: carol.token, body: {} });
    for (const target of [unknownEventId, otherRoomEventId]) {
      expect(await call(s.url, 'POST', `rooms/${enc(roomId)}/receipt/m.fully_read/${enc(target)}`, { token: carol.token, body: {} })).toEqual(notFound);
    }
    expect((await fullyRead(carol, roomId)).status).toBe(404);
    expect(await call(s.url, 'POST', `rooms/${enc(roomId)}/receipt/m.fully_read/${enc(eventId)}`, { token: carol.token, body: {} })).toEqual({
      status: 200,
      body: {},
    });
    expect(await fullyRead(carol, roomId)).toEqual({ status: 200, body: { event_id: eventId } });
  });

  it('receipt/m.read and m.read.private: 404 M_NOT_FOUND for an unknown event or one of another room', async () => {
    for (const type of ['m.read', 'm.read.private']) {
      for (const target of [unknownEventId, otherRoomEventId]) {
        expect(await call(s.url, 'POST', `rooms/${enc(roomId)}/receipt/${type}/${enc(target)}`, { token: bob.token, body: {} })).toEqual(notFound);
      }
      expect(await call(s.url, 'POST', `rooms/${enc(roomId)}/receipt/${type}/${enc(eventId)}`, { token: bob.token, body: {} })).toEqual({ status: 200, body: {} });
    }
  });

  it('a non-member gets 403 M_FORBIDDEN before the event is looked up', async () => {
    const dave = await registerUser(s.url, 'dave');
    for (const target of [eventId, unknownEventId]) {
      const markers = await call(s.url, 'POST', `rooms/${enc(roomId)}/read_markers`, { token: dave.token, body: { 'm.fully_read': target } });
      expect(markers).toEqual({ status: 403, body: { errcode: 'M_FORBIDDEN', error: expect.any(String) } });
      const receipt = await call(s.url, 'POST', `rooms/${enc(roomId)}/receipt/m.fully_read/${enc(target)}`, { token: dave.token, body: {} });
      expect(receipt).toEqual({ status: 403, body: { errcode: 'M_FORBIDDEN', error: expect.any(String) } });
    }
  });

  describe('threaded receipts', () => {
    let root: string;
    let reply: string;
    let edit: string;
    let unrelated: string;
    const receipt = (type: string, event: string, body: unknown) => call(s.url, 'POST', `rooms/${enc(roomId)}/receipt/${type}/${enc(event)}`, { token: bob.token, body });
    const invalidParam = { status: 400, body: { errcode: 'M_INVALID_PARAM', error: expect.any(String) } };

    beforeAll(async () => {
      root = await send(alice, roomId, 'thread root');
      reply = await send(alice, roomId, 'in the thread', { 'm.relates_to': { rel_type: 'm.thread', event_id: root } });
      edit = await send(alice, roomId, '* edited', { 'm.new_content': { msgtype: 'm.text', body: 'edited' }, 'm.relates_to': { rel_type: 'm.replace', event_id: reply } });
      unrelated = await send(alice, roomId, 'main timeline');
    });

    it('accepts the thread root, its thread events and events related to them, and main', async () => {
      for (const type of ['m.read', 'm.read.private']) {
        for (const event of [root, reply, edit]) expect(await receipt(type, event, { thread_id: root })).toEqual({ status: 200, body: {} });
        expect(await receipt(type, unrelated, { thread_id: 'main' })).toEqual({ status: 200, body: {} });
      }
    });

    it('400 M_INVALID_PARAM for an event outside the thread or a thread_id that is no thread root', async () => {
      expect(await receipt('m.read', unrelated, { thread_id: root })).toEqual(invalidParam);
      expect(await receipt('m.read.private', reply, { thread_id: unrelated })).toEqual(invalidParam);
      expect(await receipt('m.read', reply, { thread_id: unknownEventId })).toEqual(invalidParam);
    });

    it('400 M_INVALID_PARAM for an empty or malformed thread_id and for m.fully_read with one; M_BAD_JSON when it is no string', async () => {
      expect(await receipt('m.read', reply, { thread_id: '' })).toEqual(invalidParam);
      expect(await receipt('m.read', reply, { thread_id: 'not-an-event-id' })).toEqual(invalidParam);
      expect(await receipt('m.fully_read', reply, { thread_id: 'main' })).toEqual(invalidParam);
      expect(await receipt('m.read', reply, { thread_id: 5 })).toEqual({ status: 400, body: { errcode: 'M_BAD_JSON', error: expect.any(String) } });
    });

    it('404 M_NOT_FOUND for a threaded receipt at an unknown event; 403 for a non-member', async () => {
      expect(await receipt('m.read', unknownEventId, { thread_id: root })).toEqual(notFound);
      const erin = await registerUser(s.url, 'erin');
      const outsider = await call(s.url, 'POST', `rooms/${enc(roomId)}/receipt/m.read/${enc(reply)}`, { token: erin.token, body: { thread_id: root } });
      expect(outsider).toEqual({ status: 403, body: { errcode: 'M_FORBIDDEN', error: expect.any(String) } });
    });
  });
});
