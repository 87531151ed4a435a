/**
 * The read and ephemeral endpoints over real HTTP: /sync (initial, incremental, long-poll,
 * filters, full_state, transaction ids, invites), /messages, /context, /state, /members,
 * /joined_members, /joined_rooms, /event, typing, receipts and read markers. Bodies are
 * checked against the spec; bad requests get their Matrix error.
 */
import { assertMatchesSpec, call, registerUser, type SpecResponse, type TestUser } from '@hs/testing';
import { startInProcess, type InProcessServer } from '../../support/in-process-server';

const spec = (file: string, path: string, method: SpecResponse['method'], status = 200): SpecResponse => ({ api: 'client-server', file, path, method, status });
const enc = encodeURIComponent;

interface ClientEvent {
  event_id: string;
  type: string;
  sender: string;
  state_key?: string;
  content: Record<string, unknown>;
  unsigned?: Record<string, unknown>;
}
interface RoomSection {
  timeline: { events: ClientEvent[]; limited: boolean; prev_batch?: string };
  state: { events: ClientEvent[] };
  ephemeral?: { events: { type: string; content: Record<string, unknown> }[] };
  account_data?: { events: { type: string; content: Record<string, unknown> }[] };
}
interface SyncBody {
  next_batch: string;
  rooms?: { join?: Record<string, RoomSection>; invite?: Record<string, { invite_state: { events: ClientEvent[] } }>; leave?: Record<string, RoomSection> };
}

describe('sync, read and ephemeral endpoints', () => {
  let hs: InProcessServer;
  let alice: TestUser;
  let bob: TestUser;
  let carol: TestUser;
  let roomId: string;

  async function sync(user: TestUser, query: Record<string, string> = {}): Promise<SyncBody> {
    const response = await call<SyncBody>(hs.url, 'GET', 'sync', { token: user.token, query });
    if (response.status !== 200) throw new Error(`sync: ${response.status} ${JSON.stringify(response.body)}`);
    return response.body;
  }

  /** Syncs (long-polling) until `found` holds for a response; returns the collected responses. */
  async function syncUntil(user: TestUser, found: (body: SyncBody) => boolean, since?: string): Promise<{ bodies: SyncBody[]; next: string }> {
    const bodies: SyncBody[] = [];
    let token = since;
    for (let i = 0; i < 50; i++) {
      const body = await sync(user, token ? { since: token, timeout: '5000' } : { timeout: '0' });
      bodies.push(body);
      token = body.next_batch;
      if (found(body)) return { bodies, next: token };
    }
    throw new Error('sync never delivered what was expected');
  }

  const timelineIds = (body: SyncBody, room: string) => body.rooms?.join?.[room]?.timeline.events.map((e) => e.event_id) ?? [];

  async function send(user: TestUser, room: string, body: string, txnId = `t${Math.random()}`): Promise<string> {
    const response = await call<{ event_id: string }>(hs.url, 'PUT', `rooms/${enc(room)}/send/m.room.message/${txnId}`, {
      token: user.token,
      body: { msgtype: 'm.text', body },
    });
    if (response.status !== 200) throw new Error(`send: ${response.status} ${JSON.stringify(response.body)}`);
    return response.body.event_id;
  }

  /** Waits until the read side has the event (a sync of the user returns it). */
  async function seen(user: TestUser, room: string, eventId: string): Promise<void> {
    const initial = await sync(user, { timeout: '0', filter: JSON.stringify({ room: { timeline: { limit: 50 } } }) });
    if (timelineIds(initial, room).includes(eventId)) return;
    await syncUntil(user, (body) => timelineIds(body, room).includes(eventId), initial.next_batch);
  }

  beforeAll(async () => {
    hs = await startInProcess({ postgresFromEnv: true });
    [alice, bob, carol] = [await registerUser(hs.url, 'alice'), await registerUser(hs.url, 'bob'), await registerUser(hs.url, 'carol')];
    const created = await call<{ room_id: string }>(hs.url, 'POST', 'createRoom', { token: alice.token, body: { name: 'Sync room', preset: 'private_chat' } });
    roomId = created.body.room_id;
    await call(hs.url, 'POST', `rooms/${enc(roomId)}/invite`, { token: alice.token, body: { user_id: bob.userId } });
    await call(hs.url, 'POST', `rooms/${enc(roomId)}/join`, { token: bob.token, body: {} });
  }, 120_000);
  afterAll(async () => {
    await hs?.close();
  }, 60_000);

  describe('GET /sync', () => {
    it('initial sync: the joined room with its state and timeline, matching the spec', async () => {
      const eventId = await send(alice, roomId, 'first');
      await seen(bob, roomId, eventId);
      const body = await sync(bob);
      assertMatchesSpec(body, spec('sync.yaml', '/sync', 'get'));
      const room = body.rooms?.join?.[roomId];
      expect(room).toBeDefined();
      const state = [...(room?.state.events ?? []), ...(room?.timeline.events ?? [])];
      expect(state.some((e) => e.type === 'm.room.name' && e.content.name === 'Sync room')).toBe(true);
      expect(body.next_batch).toMatch(/\S/);
    });

    it('is served under r0 too', async () => {
      const response = await call<SyncBody>(hs.url, 'GET', '/_matrix/client/r0/sync', { token: bob.token });
      expect(response.status).toBe(200);
      expect(typeof response.body.next_batch).toBe('string');
    });

    it('incremental: a waiting long-poll returns the new event, in order, with transaction_id for the sending device only', async () => {
      const start = await sync(alice);
      let delivered = 0;
      const waiting = syncUntil(
        alice,
        (body) => {
          delivered += timelineIds(body, roomId).length;
          return delivered >= 2;
        },
        start.next_batch,
      );
      const first = await send(alice, roomId, 'one', 'txn-one');
      const second = await send(bob, roomId, 'two');
      const { bodies } = await waiting;
      const events = bodies.flatMap((body) => body.rooms?.join?.[roomId]?.timeline.events ?? []);
      expect(events.map((e) => e.event_id)).toEqual([first, second]);
      expect(events[0].unsigned?.transaction_id).toBe('txn-one');
      expect(events[1].unsigned?.transaction_id).toBeUndefined();
      await seen(bob, roomId, second);
      const bobsView = await sync(bob, { filter: JSON.stringify({ room: { timeline: { limit: 50 } } }) });
      const bobEvent = bobsView.rooms?.join?.[roomId]?.timeline.events.find((e) => e.event_id === first);
      expect(bobEvent).toBeDefined();
      expect(bobEvent?.unsigned?.transaction_id).toBeUndefined();
    });

    it('a timeline limit in an inline filter or a stored filter id gives limited + prev_batch', async () => {
      for (let i = 0; i < 3; i++) await send(alice, roomId, `limit ${i}`);
      const last = await send(alice, roomId, 'limit last');
      await seen(alice, roomId, last);
      const inline = await sync(alice, { filter: JSON.stringify({ room: { timeline: { limit: 2 } } }) });
      const room = inline.rooms?.join?.[roomId];
      expect(room?.timeline.events).toHaveLength(2);
      expect(room?.timeline.limited).toBe(true);
      expect(typeof room?.timeline.prev_batch).toBe('string');
      const created = await call<{ filter_id: string }>(hs.url, 'POST', `user/${enc(alice.userId)}/filter`, {
        token: alice.token,
        body: { room: { timeline: { limit: 1, types: ['m.room.message'] } } },
      });
      expect(created.status).toBe(200);
      const byId = await sync(alice, { filter: created.body.filter_id });
      const events = byId.rooms?.join?.[roomId]?.timeline.events ?? [];
      expect(events.map((e) => e.event_id)).toEqual([last]);
    });

    it('a timeline limit of 0 (inline or stored) gives no timeline events, limited when there were some', async () => {
      const last = await send(alice, roomId, 'before a zero limit');
      await seen(alice, roomId, last);
      const zero = { room: { state: { types: ['m.room.member'] }, timeline: { limit: 0 } } };
      const inline = await sync(alice, { filter: JSON.stringify(zero) });
      const room = inline.rooms?.join?.[roomId];
      expect(room?.timeline.events).toEqual([]);
      expect(room?.timeline.limited).toBe(true);
      const created = await call<{ filter_id: string }>(hs.url, 'POST', `user/${enc(alice.userId)}/filter`, { token: alice.token, body: zero });
      expect(created.status).toBe(200);
      const stored = await call(hs.url, 'GET', `user/${enc(alice.userId)}/filter/${created.body.filter_id}`, { token: alice.token });
      expect(stored.body).toEqual(zero);
      const byId = await sync(alice, { filter: created.body.filter_id });
      expect(byId.rooms?.join?.[roomId]?.timeline.events).toEqual([]);
    });

    it('full_state and an invite to another room', async () => {
      const other = await call<{ room_id: string }>(hs.url, 'POST', 'createRoom', { token: alice.token, body: { name: 'Invite room' } });
      await call(hs.url, 'POST', `rooms/${enc(other.body.room_id)}/invite`, { token: alice.token, body: { user_id: carol.userId } });
      const { bodies } = await syncUntil(carol, (body) => body.rooms?.invite?.[other.body.room_id] !== undefined);
      const invite = bodies[bodies.length - 1].rooms?.invite?.[other.body.room_id];
      expect(invite?.invite_state.events.some((e) => e.type === 'm.room.name' && e.content.name === 'Invite room')).toBe(true);
      const base = await sync(alice);
      const full = await sync(alice, { since: base.next_batch, full_state: 'true' });
      assertMatchesSpec(full, spec('sync.yaml', '/sync', 'get'));
      expect(full.rooms?.join?.[roomId]?.state.events.some((e) => e.type === 'm.room.create')).toBe(true);
    });

    it('bad parameters: since, timeout, full_state, filter, set_presence', async () => {
      const cases: [Record<string, string>, number, string][] = [
        [{ since: 'garbage' }, 400, 'M_INVALID_PARAM'],
        [{ timeout: 'soon' }, 400, 'M_INVALID_PARAM'],
        [{ timeout: '-5' }, 400, 'M_INVALID_PARAM'],
        [{ full_state: 'yes' }, 400, 'M_INVALID_PARAM'],
        [{ set_presence: 'busy' }, 400, 'M_INVALID_PARAM'],
        [{ filter: '{"room":' }, 400, 'M_NOT_JSON'],
        [{ filter: '{"room":{"timeline":{"limit":"ten"}}}' }, 400, 'M_BAD_JSON'],
        [{ filter: '987654' }, 404, 'M_NOT_FOUND'],
      ];
      for (const [query, status, errcode] of cases) {
        const response = await call(hs.url, 'GET', 'sync', { token: alice.token, query });
        expect({ query, status: response.status, errcode: response.body.errcode }).toEqual({ query, status, errcode });
      }
      const noToken = await call(hs.url, 'GET', 'sync');
      expect(noToken.status).toBe(401);
      const presence = await call(hs.url, 'GET', 'sync', { token: alice.token, query: { set_presence: 'online' } });
      expect(presence.status).toBe(200);
    });
  });

  describe('the federation event format', () => {
    it('event_format federation: the signed wire form with its event id; a redacted event redacted; event_fields cut it', async () => {
      const eventId = await send(alice, roomId, 'in wire form');
      const doomed = await send(alice, roomId, 'to be redacted');
      expect((await call(hs.url, 'PUT', `rooms/${enc(roomId)}/redact/${enc(doomed)}/fed-1`, { token: alice.token, body: {} })).status).toBe(200);
      const last = await send(alice, roomId, 'after the redaction');
      await seen(bob, roomId, last);
      const body = await sync(bob, { filter: JSON.stringify({ event_format: 'federation', room: { timeline: { limit: 4 } } }) });
      const events = (body.rooms?.join?.[roomId]?.timeline.events ?? []) as unknown as Record<string, unknown>[];
      const wire = events.find((e) => e.event_id === eventId);
      expect(wire).toEqual(
        expect.objectContaining({
          event_id: eventId,
          room_id: roomId,
          sender: alice.userId,
          type: 'm.room.message',
          content: { msgtype: 'm.text', body: 'in wire form' },
          depth: expect.any(Number),
          prev_events: expect.any(Array),
          auth_events: expect.any(Array),
          hashes: { sha256: expect.any(String) },
          signatures: { [hs.serverName]: expect.any(Object) },
        }),
      );
      const redacted = events.find((e) => e.event_id === doomed);
      expect(redacted?.content).toEqual({});
      expect(redacted?.signatures).toBeDefined();
      const cut = await sync(bob, { filter: JSON.stringify({ event_format: 'federation', event_fields: ['event_id', 'depth'], room: { timeline: { limit: 1 } } }) });
      const [only] = (cut.rooms?.join?.[roomId]?.timeline.events ?? []) as unknown as Record<string, unknown>[];
      expect(Object.keys(only).sort()).toEqual(['depth', 'event_id']);
    });
  });

  describe('room read endpoints', () => {
    let messageIds: string[];
    let readRoom: string;

    beforeAll(async () => {
      const created = await call<{ room_id: string }>(hs.url, 'POST', 'createRoom', { token: alice.token, body: { preset: 'public_chat', name: 'Read room' } });
      readRoom = created.body.room_id;
      await call(hs.url, 'POST', `join/${enc(readRoom)}`, { token: bob.token, body: {} });
      messageIds = [];
      for (let i = 0; i < 12; i++) messageIds.push(await send(i % 2 ? bob : alice, readRoom, `read ${i}`));
      await seen(alice, readRoom, messageIds[messageIds.length - 1]);
    });

    it('GET /messages backwards then forwards covers every message once, in order', async () => {
      const back: string[] = [];
      let from: string | undefined;
      for (let page = 0; page < 20; page++) {
        const response = await call<{ chunk: ClientEvent[]; start: string; end?: string }>(hs.url, 'GET', `rooms/${enc(readRoom)}/messages`, {
          token: bob.token,
          query: { dir: 'b', limit: '5', ...(from ? { from } : {}) },
        });
        expect(response.status).toBe(200);
        assertMatchesSpec(response.body, spec('message_pagination.yaml', '/rooms/{roomId}/messages', 'get'));
        back.push(...response.body.chunk.filter((e) => e.type === 'm.room.message').map((e) => e.event_id));
        if (!response.body.end) break;
        from = response.body.end;
      }
      expect(back).toEqual([...messageIds].reverse());
      const forward = await call<{ chunk: ClientEvent[] }>(hs.url, 'GET', `rooms/${enc(readRoom)}/messages`, {
        token: bob.token,
        query: { dir: 'f', limit: '100', filter: JSON.stringify({ types: ['m.room.message'] }) },
      });
      expect(forward.body.chunk.map((e) => e.event_id)).toEqual(messageIds);
    });

    it('GET /messages refusals', async () => {
      const cases: [string, Record<string, string>, TestUser, number, string][] = [
        [readRoom, { dir: 'x' }, bob, 400, 'M_INVALID_PARAM'],
        [readRoom, {}, bob, 400, 'M_INVALID_PARAM'],
        [readRoom, { dir: 'b', from: 'nonsense' }, bob, 400, 'M_INVALID_PARAM'],
        [readRoom, { dir: 'b', limit: 'many' }, bob, 400, 'M_INVALID_PARAM'],
        [readRoom, { dir: 'b', filter: '{' }, bob, 400, 'M_NOT_JSON'],
        [readRoom, { dir: 'b', filter: '{"types":"m.room.message"}' }, bob, 400, 'M_BAD_JSON'],
        [readRoom, { dir: 'b' }, carol, 403, 'M_FORBIDDEN'],
        [`!unknown:${hs.serverName}`, { dir: 'b' }, bob, 403, 'M_FORBIDDEN'],
        ['not-a-room', { dir: 'b' }, bob, 400, 'M_INVALID_PARAM'],
      ];
      for (const [room, query, user, status, errcode] of cases) {
        const response = await call(hs.url, 'GET', `rooms/${enc(room)}/messages`, { token: user.token, query });
        expect({ room, query, status: response.status, errcode: response.body.errcode }).toEqual({ room, query, status, errcode });
      }
    });

    it('GET /context/{eventId}', async () => {
      const middle = messageIds[6];
      const response = await call<{ event: ClientEvent; events_before: ClientEvent[]; events_after: ClientEvent[] }>(
        hs.url,
        'GET',
        `rooms/${enc(readRoom)}/context/${enc(middle)}`,
        { token: bob.token, query: { limit: '4' } },
      );
      expect(response.status).toBe(200);
      assertMatchesSpec(response.body, spec('event_context.yaml', '/rooms/{roomId}/context/{eventId}', 'get'));
      expect(response.body.event.event_id).toBe(middle);
      expect(response.body.events_before.map((e) => e.event_id)).toEqual([messageIds[5], messageIds[4]]);
      expect(response.body.events_after.map((e) => e.event_id)).toEqual([messageIds[7], messageIds[8]]);
      const unknown = await call(hs.url, 'GET', `rooms/${enc(readRoom)}/context/${enc('$unknownunknownunknownunknownunknownunknown0')}`, { token: bob.token });
      expect(unknown).toEqual({ status: 404, body: expect.objectContaining({ errcode: 'M_NOT_FOUND' }) });
      const bad = await call(hs.url, 'GET', `rooms/${enc(readRoom)}/context/nope`, { token: bob.token });
      expect(bad).toEqual({ status: 400, body: expect.objectContaining({ errcode: 'M_INVALID_PARAM' }) });
      const badLimit = await call(hs.url, 'GET', `rooms/${enc(readRoom)}/context/${enc(middle)}`, { token: bob.token, query: { limit: 'x' } });
      expect(badLimit.status).toBe(400);
    });

    it('GET /event/{eventId}', async () => {
      const response = await call<ClientEvent>(hs.url, 'GET', `rooms/${enc(readRoom)}/event/${enc(messageIds[0])}`, { token: bob.token });
      expect(response.status).toBe(200);
      assertMatchesSpec(response.body, spec('rooms.yaml', '/rooms/{roomId}/event/{eventId}', 'get'));
      expect(response.body).toMatchObject({ event_id: messageIds[0], type: 'm.room.message', content: { body: 'read 0' } });
      const outsider = await call(hs.url, 'GET', `rooms/${enc(readRoom)}/event/${enc(messageIds[0])}`, { token: carol.token });
      expect([403, 404]).toContain(outsider.status);
      const unknown = await call(hs.url, 'GET', `rooms/${enc(readRoom)}/event/${enc('$unknownunknownunknownunknownunknownunknown0')}`, { token: bob.token });
      expect(unknown.status).toBe(404);
    });

    it('GET /state and /state/{eventType}/{stateKey}', async () => {
      const state = await call<ClientEvent[]>(hs.url, 'GET', `rooms/${enc(readRoom)}/state`, { token: bob.token });
      expect(state.status).toBe(200);
      assertMatchesSpec(state.body, spec('rooms.yaml', '/rooms/{roomId}/state', 'get'));
      expect(state.body.some((e) => e.type === 'm.room.create')).toBe(true);
      const name = await call(hs.url, 'GET', `rooms/${enc(readRoom)}/state/m.room.name/`, { token: bob.token });
      expect(name).toEqual({ status: 200, body: { name: 'Read room' } });
      const noSlash = await call(hs.url, 'GET', `rooms/${enc(readRoom)}/state/m.room.name`, { token: bob.token });
      expect(noSlash.body).toEqual({ name: 'Read room' });
      const asEvent = await call<ClientEvent>(hs.url, 'GET', `rooms/${enc(readRoom)}/state/m.room.member/${enc(bob.userId)}`, {
        token: bob.token,
        query: { format: 'event' },
      });
      expect(asEvent.body).toMatchObject({ type: 'm.room.member', state_key: bob.userId, content: { membership: 'join' } });
      const missing = await call(hs.url, 'GET', `rooms/${enc(readRoom)}/state/m.room.topic/`, { token: bob.token });
      expect(missing).toEqual({ status: 404, body: expect.objectContaining({ errcode: 'M_NOT_FOUND' }) });
      const badFormat = await call(hs.url, 'GET', `rooms/${enc(readRoom)}/state/m.room.name/`, { token: bob.token, query: { format: 'xml' } });
      expect(badFormat.status).toBe(400);
      const outsider = await call(hs.url, 'GET', `rooms/${enc(roomId)}/state`, { token: carol.token });
      expect(outsider).toEqual({ status: 403, body: expect.objectContaining({ errcode: 'M_FORBIDDEN' }) });
    });

    it('GET /members (membership, not_membership, at) and /joined_members', async () => {
      const members = await call<{ chunk: ClientEvent[] }>(hs.url, 'GET', `rooms/${enc(readRoom)}/members`, { token: bob.token });
      expect(members.status).toBe(200);
      assertMatchesSpec(members.body, spec('rooms.yaml', '/rooms/{roomId}/members', 'get'));
      expect(members.body.chunk.map((e) => e.state_key).sort()).toEqual([alice.userId, bob.userId].sort());
      const joinedOnly = await call<{ chunk: ClientEvent[] }>(hs.url, 'GET', `rooms/${enc(readRoom)}/members`, { token: bob.token, query: { membership: 'join' } });
      expect(joinedOnly.body.chunk).toHaveLength(2);
      const notJoined = await call<{ chunk: ClientEvent[] }>(hs.url, 'GET', `rooms/${enc(readRoom)}/members`, { token: bob.token, query: { not_membership: 'join' } });
      expect(notJoined.body.chunk).toHaveLength(0);
      const bad = await call(hs.url, 'GET', `rooms/${enc(readRoom)}/members`, { token: bob.token, query: { membership: 'sleeping' } });
      expect(bad).toEqual({ status: 400, body: expect.objectContaining({ errcode: 'M_INVALID_PARAM' }) });
      const badAt = await call(hs.url, 'GET', `rooms/${enc(readRoom)}/members`, { token: bob.token, query: { at: 'yesterday' } });
      expect(badAt).toEqual({ status: 400, body: expect.objectContaining({ errcode: 'M_INVALID_PARAM' }) });
      const atStart = await call<{ chunk: ClientEvent[] }>(hs.url, 'GET', `rooms/${enc(readRoom)}/members`, { token: bob.token, query: { at: 't0' } });
      expect(atStart.status).toBe(200);
      expect(atStart.body.chunk).toHaveLength(0);

      const joined = await call<{ joined: Record<string, { display_name?: string }> }>(hs.url, 'GET', `rooms/${enc(readRoom)}/joined_members`, { token: bob.token });
      expect(joined.status).toBe(200);
      assertMatchesSpec(joined.body, spec('rooms.yaml', '/rooms/{roomId}/joined_members', 'get'));
      expect(Object.keys(joined.body.joined).sort()).toEqual([alice.userId, bob.userId].sort());
      const outsider = await call(hs.url, 'GET', `rooms/${enc(roomId)}/joined_members`, { token: carol.token });
      expect(outsider.status).toBe(403);
    });

    it('GET /joined_rooms', async () => {
      const response = await call<{ joined_rooms: string[] }>(hs.url, 'GET', 'joined_rooms', { token: bob.token });
      expect(response.status).toBe(200);
      assertMatchesSpec(response.body, spec('list_joined_rooms.yaml', '/joined_rooms', 'get'));
      expect(response.body.joined_rooms).toEqual(expect.arrayContaining([roomId, readRoom]));
      const none = await call<{ joined_rooms: string[] }>(hs.url, 'GET', 'joined_rooms', { token: carol.token });
      expect(none.body.joined_rooms).not.toContain(readRoom);
    });
  });

  describe('the state section and the timeline flags', () => {
    async function createRoom(user: TestUser, body: Record<string, unknown>): Promise<string> {
      const created = await call<{ room_id: string }>(hs.url, 'POST', 'createRoom', { token: user.token, body });
      if (created.status !== 200) throw new Error(`createRoom: ${created.status} ${JSON.stringify(created.body)}`);
      return created.body.room_id;
    }
    async function act(user: TestUser, method: 'POST' | 'PUT', path: string, body: Record<string, unknown> = {}): Promise<void> {
      const response = await call(hs.url, method, path, { token: user.token, body });
      if (response.status !== 200) throw new Error(`${method} ${path}: ${response.status} ${JSON.stringify(response.body)}`);
    }
    const join = (user: TestUser, room: string) => act(user, 'POST', `join/${enc(room)}`);
    const leave = (user: TestUser, room: string) => act(user, 'POST', `rooms/${enc(room)}/leave`);
    const members = (events: ClientEvent[] | undefined) => (events ?? []).filter((e) => e.type === 'm.room.member').map((e) => e.state_key);

    it('a newly joined room is limited when its timeline leaves out events its filter matches, and not when it holds them all', async () => {
      const room = await createRoom(alice, { preset: 'public_chat' });
      for (let i = 0; i < 4; i++) await send(alice, room, `before ${i}`);
      const filter = (limit: number) => JSON.stringify({ room: { timeline: { types: ['m.room.message'], limit }, state: { types: [] } } });
      const first = await sync(carol, { filter: filter(10) });
      for (let i = 0; i < 4; i++) await send(alice, room, `after ${i}`);
      await join(carol, room);
      const all = await sync(carol, { since: first.next_batch, filter: filter(10) });
      expect(all.rooms?.join?.[room]?.timeline.events.map((e) => e.content.body)).toHaveLength(8);
      // "limited": the number of events returned was limited by the filter's limit; here it was not.
      expect(all.rooms?.join?.[room]?.timeline.limited).toBe(false);
      const cut = await sync(carol, { since: first.next_batch, filter: filter(5) });
      expect(cut.rooms?.join?.[room]?.timeline.events.map((e) => e.content.body)).toEqual(['before 3', 'after 0', 'after 1', 'after 2', 'after 3']);
      expect(cut.rooms?.join?.[room]?.timeline.limited).toBe(true);
      await leave(carol, room);
    });

    it('a room joined and left between two syncs is in rooms.leave with the full state at the start of its timeline', async () => {
      const room = await createRoom(alice, { preset: 'private_chat' });
      await act(alice, 'PUT', `rooms/${enc(room)}/state/org.example.state/`, { my_key: 1 });
      await act(alice, 'POST', `rooms/${enc(room)}/invite`, { user_id: carol.userId });
      const filter = JSON.stringify({ room: { timeline: { types: [] }, state: { types: ['org.example.state'] }, include_leave: true } });
      const first = await sync(carol, { filter });
      expect(first.rooms?.invite?.[room]).toBeDefined();
      await join(carol, room);
      await leave(carol, room);
      const second = await sync(carol, { since: first.next_batch, filter });
      assertMatchesSpec(second, spec('sync.yaml', '/sync', 'get'));
      const left = second.rooms?.leave?.[room];
      expect(left?.state.events.map((e) => [e.type, e.content])).toEqual([['org.example.state', { my_key: 1 }]]);
    });

    it('with joined history visibility, a join made while the user was away is in the timeline when the user comes back', async () => {
      const room = await createRoom(alice, { preset: 'public_chat' });
      await join(bob, room);
      await act(alice, 'PUT', `rooms/${enc(room)}/state/m.room.history_visibility/`, { history_visibility: 'joined' });
      const first = await sync(bob);
      await leave(bob, room);
      await join(carol, room);
      for (let i = 0; i < 3; i++) await send(alice, room, `while bob was away ${i}`);
      await join(bob, room);
      const second = await sync(bob, { since: first.next_batch });
      const timeline = second.rooms?.join?.[room]?.timeline.events ?? [];
      expect(timeline.some((e) => e.type === 'm.room.member' && e.state_key === carol.userId && e.content.membership === 'join')).toBe(true);
      expect(timeline.some((e) => e.content.body === 'while bob was away 0')).toBe(false);
      await leave(carol, room);
    });

    it('lazy-loaded members in incremental syncs: the new senders only, the redundant ones when asked for, the user\'s own not again; state in type and state key order', async () => {
      const room = await createRoom(alice, { preset: 'public_chat', name: 'Lazy room' });
      await join(bob, room);
      await join(carol, room);
      for (let i = 0; i < 3; i++) await send(bob, room, `bob ${i}`);
      const lazy = JSON.stringify({ room: { rooms: [room], state: { lazy_load_members: true }, timeline: { limit: 3 } } });
      const redundant = JSON.stringify({ room: { rooms: [room], state: { lazy_load_members: true, include_redundant_members: true }, timeline: { limit: 3 } } });
      const first = await sync(alice, { filter: lazy });
      const state = first.rooms?.join?.[room]?.state.events ?? [];
      expect(members(state).sort()).toEqual([alice.userId, bob.userId].sort());
      const keys = state.map((e) => [e.type, e.state_key ?? '']);
      expect(keys).toEqual([...keys].sort((a, b) => (a[0] !== b[0] ? (a[0] < b[0] ? -1 : 1) : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0)));
      await send(carol, room, 'carol speaks');
      await send(bob, room, 'bob again');
      const second = await sync(alice, { since: first.next_batch, filter: lazy });
      expect(members(second.rooms?.join?.[room]?.state.events)).toEqual([carol.userId]);
      const again = await sync(alice, { since: first.next_batch, filter: redundant });
      expect(members(again.rooms?.join?.[room]?.state.events).sort()).toEqual([bob.userId, carol.userId].sort());
      await leave(bob, room);
      await leave(carol, room);
    });
  });

  describe('typing, receipts and read markers', () => {
    it('PUT /typing shows in the other member\'s sync; refusals', async () => {
      const start = await sync(bob);
      const typing = await call(hs.url, 'PUT', `rooms/${enc(roomId)}/typing/${enc(alice.userId)}`, { token: alice.token, body: { typing: true, timeout: 20000 } });
      expect(typing).toEqual({ status: 200, body: {} });
      assertMatchesSpec(typing.body, spec('typing.yaml', '/rooms/{roomId}/typing/{userId}', 'put'));
      const { bodies } = await syncUntil(
        bob,
        (body) => (body.rooms?.join?.[roomId]?.ephemeral?.events ?? []).some((e) => e.type === 'm.typing' && (e.content.user_ids as string[]).includes(alice.userId)),
        start.next_batch,
      );
      expect(bodies.length).toBeGreaterThan(0);
      const stop = await call(hs.url, 'PUT', `rooms/${enc(roomId)}/typing/${enc(alice.userId)}`, { token: alice.token, body: { typing: false } });
      expect(stop.status).toBe(200);
      const otherUser = await call(hs.url, 'PUT', `rooms/${enc(roomId)}/typing/${enc(bob.userId)}`, { token: alice.token, body: { typing: true } });
      expect(otherUser).toEqual({ status: 403, body: expect.objectContaining({ errcode: 'M_FORBIDDEN' }) });
      const notMember = await call(hs.url, 'PUT', `rooms/${enc(roomId)}/typing/${enc(carol.userId)}`, { token: carol.token, body: { typing: true } });
      expect(notMember).toEqual({ status: 403, body: expect.objectContaining({ errcode: 'M_FORBIDDEN' }) });
      const wrongType = await call(hs.url, 'PUT', `rooms/${enc(roomId)}/typing/${enc(alice.userId)}`, { token: alice.token, body: { typing: 'yes' } });
      expect(wrongType).toEqual({ status: 400, body: expect.objectContaining({ errcode: 'M_BAD_JSON' }) });
      const missing = await call(hs.url, 'PUT', `rooms/${enc(roomId)}/typing/${enc(alice.userId)}`, { token: alice.token, body: {} });
      expect(missing.status).toBe(400);
      const badUser = await call(hs.url, 'PUT', `rooms/${enc(roomId)}/typing/alice`, { token: alice.token, body: { typing: true } });
      expect(badUser).toEqual({ status: 400, body: expect.objectContaining({ errcode: 'M_INVALID_PARAM' }) });
    });

    it('POST /receipt: m.read reaches the other member, m.read.private only its owner; refusals', async () => {
      const eventId = await send(alice, roomId, 'read me');
      await seen(bob, roomId, eventId);
      const start = await sync(alice);
      const receipt = await call(hs.url, 'POST', `rooms/${enc(roomId)}/receipt/m.read/${enc(eventId)}`, { token: bob.token, body: {} });
      expect(receipt).toEqual({ status: 200, body: {} });
      assertMatchesSpec(receipt.body, spec('receipts.yaml', '/rooms/{roomId}/receipt/{receiptType}/{eventId}', 'post'));
      const receiptOf = (body: SyncBody, type: string, user: string) =>
        (body.rooms?.join?.[roomId]?.ephemeral?.events ?? []).some(
          (e) => e.type === 'm.receipt' && (e.content[eventId] as Record<string, Record<string, unknown>> | undefined)?.[type]?.[user] !== undefined,
        );
      await syncUntil(alice, (body) => receiptOf(body, 'm.read', bob.userId), start.next_batch);

      const privateReceipt = await call(hs.url, 'POST', `rooms/${enc(roomId)}/receipt/m.read.private/${enc(eventId)}`, { token: alice.token, body: {} });
      expect(privateReceipt.status).toBe(200);
      const own = await syncUntil(alice, (body) => receiptOf(body, 'm.read.private', alice.userId), start.next_batch);
      expect(own.bodies.length).toBeGreaterThan(0);
      const bobAll = await sync(bob);
      expect(receiptOf(bobAll, 'm.read.private', alice.userId)).toBe(false);

      // Receipts only move forwards: one for an earlier event leaves bob's where it is.
      const earlier = await send(alice, roomId, 'read before');
      const later = await send(alice, roomId, 'read after');
      expect((await call(hs.url, 'POST', `rooms/${enc(roomId)}/receipt/m.read/${enc(later)}`, { token: bob.token, body: {} })).status).toBe(200);
      expect((await call(hs.url, 'POST', `rooms/${enc(roomId)}/receipt/m.read/${enc(earlier)}`, { token: bob.token, body: {} })).status).toBe(200);
      const readBy = (body: SyncBody, event: string) =>
        (body.rooms?.join?.[roomId]?.ephemeral?.events ?? []).some(
          (e) => e.type === 'm.receipt' && (e.content[event] as Record<string, Record<string, unknown>> | undefined)?.['m.read']?.[bob.userId] !== undefined,
        );
      const afterBoth = await sync(alice);
      expect(readBy(afterBoth, later)).toBe(true);
      expect(readBy(afterBoth, earlier)).toBe(false);

      const cases: [string, TestUser, unknown, number, string][] = [
        [`rooms/${enc(roomId)}/receipt/m.unknown/${enc(eventId)}`, bob, {}, 400, 'M_INVALID_PARAM'],
        [`rooms/${enc(roomId)}/receipt/m.read/not-an-event`, bob, {}, 400, 'M_INVALID_PARAM'],
        [`rooms/${enc(roomId)}/receipt/m.read/${enc('$unknownunknownunknownunknownunknownunknown0')}`, bob, {}, 404, 'M_NOT_FOUND'],
        [`rooms/${enc(roomId)}/receipt/m.read/${enc(eventId)}`, carol, {}, 403, 'M_FORBIDDEN'],
        [`rooms/${enc(roomId)}/receipt/m.read/${enc(eventId)}`, bob, { thread_id: 5 }, 400, 'M_BAD_JSON'],
      ];
      for (const [path, user, body, status, errcode] of cases) {
        const response = await call(hs.url, 'POST', path, { token: user.token, body });
        expect({ path, status: response.status, errcode: response.body.errcode }).toEqual({ path, status, errcode });
      }
    });

    it('POST /read_markers and the m.fully_read receipt set m.fully_read room account data', async () => {
      const eventId = await send(alice, roomId, 'fully read');
      await seen(bob, roomId, eventId);
      const markers = await call(hs.url, 'POST', `rooms/${enc(roomId)}/read_markers`, {
        token: bob.token,
        body: { 'm.fully_read': eventId, 'm.read': eventId },
      });
      expect(markers).toEqual({ status: 200, body: {} });
      assertMatchesSpec(markers.body, spec('read_markers.yaml', '/rooms/{roomId}/read_markers', 'post'));
      const data = await call(hs.url, 'GET', `user/${enc(bob.userId)}/rooms/${enc(roomId)}/account_data/m.fully_read`, { token: bob.token });
      expect(data.body).toEqual({ event_id: eventId });
      const viaReceipt = await call(hs.url, 'POST', `rooms/${enc(roomId)}/receipt/m.fully_read/${enc(eventId)}`, { token: alice.token, body: {} });
      expect(viaReceipt.status).toBe(200);
      const aliceData = await call(hs.url, 'GET', `user/${enc(alice.userId)}/rooms/${enc(roomId)}/account_data/m.fully_read`, { token: alice.token });
      expect(aliceData.body).toEqual({ event_id: eventId });
      const bad = await call(hs.url, 'POST', `rooms/${enc(roomId)}/read_markers`, { token: bob.token, body: { 'm.fully_read': 7 } });
      expect(bad).toEqual({ status: 400, body: expect.objectContaining({ errcode: 'M_BAD_JSON' }) });
      const outsider = await call(hs.url, 'POST', `rooms/${enc(roomId)}/read_markers`, { token: carol.token, body: { 'm.fully_read': eventId } });
      expect(outsider.status).toBe(403);
    });
  });
  describe('deprecated event stream and initial syncs', () => {
    interface LegacyEvent {
      event_id?: string;
      room_id?: string;
      type: string;
      content: Record<string, unknown>;
    }
    interface Chunk {
      chunk: LegacyEvent[];
      start: string;
      end: string;
    }

    it('GET /events long-polls from a token and returns the room events and account data changes after it, room ones with their room ids', async () => {
      const first = await call<Chunk>(hs.url, 'GET', 'events', { token: bob.token, query: { timeout: '0' } });
      expect(first.status).toBe(200);
      expect(typeof first.body.end).toBe('string');
      const eventId = await send(alice, roomId, 'through the event stream');
      const next = await call<Chunk>(hs.url, 'GET', 'events', { token: bob.token, query: { from: first.body.end, timeout: '5000' } });
      expect(next.status).toBe(200);
      expect(next.body.start).toBe(first.body.end);
      expect(next.body.chunk).toContainEqual(expect.objectContaining({ event_id: eventId, room_id: roomId, type: 'm.room.message' }));
      const tagged = await call(hs.url, 'PUT', `user/${enc(bob.userId)}/rooms/${enc(roomId)}/tags/u.work`, { token: bob.token, body: { order: 0.5 } });
      expect(tagged.status).toBe(200);
      expect((await call(hs.url, 'PUT', `user/${enc(bob.userId)}/account_data/org.example.setting`, { token: bob.token, body: { on: true } })).status).toBe(200);
      const changes = await call<Chunk>(hs.url, 'GET', 'events', { token: bob.token, query: { from: next.body.end, timeout: '5000' } });
      expect(changes.body.chunk).toContainEqual(expect.objectContaining({ type: 'm.tag', room_id: roomId, content: { tags: { 'u.work': { order: 0.5 } } } }));
      expect(changes.body.chunk).toContainEqual({ type: 'org.example.setting', content: { on: true } });
      const bad = await call(hs.url, 'GET', 'events', { token: bob.token, query: { timeout: 'soon' } });
      expect(bad).toEqual({ status: 400, body: expect.objectContaining({ errcode: 'M_INVALID_PARAM' }) });
      for (const limit of ['hello', '-2']) {
        const badLimit = await call(hs.url, 'GET', 'events', { token: bob.token, query: { from: changes.body.end, limit, timeout: '5000' } });
        expect(badLimit).toEqual({ status: 400, body: expect.objectContaining({ errcode: 'M_INVALID_PARAM' }) });
      }
    });

    it('GET /initialSync and GET /rooms/{roomId}/initialSync: the messages and the current state of the room', async () => {
      const eventId = await send(alice, roomId, 'for the initial syncs');
      expect((await call(hs.url, 'POST', `rooms/${enc(roomId)}/receipt/m.read/${enc(eventId)}`, { token: bob.token, body: {} })).status).toBe(200);
      const all = await call<{
        end: string;
        rooms: { room_id: string; membership: string; messages?: Chunk; state?: LegacyEvent[] }[];
        receipts: LegacyEvent[];
      }>(hs.url, 'GET', 'initialSync', {
        token: bob.token,
        query: { limit: '5' },
      });
      expect(all.status).toBe(200);
      const room = all.body.rooms.find((r) => r.room_id === roomId);
      expect(room?.membership).toBe('join');
      expect(room?.messages?.chunk.map((e) => e.event_id)).toContain(eventId);
      expect(room?.state?.some((e) => e.type === 'm.room.name' && e.content.name === 'Sync room')).toBe(true);
      const readByBob = (receipts: LegacyEvent[] | undefined) =>
        receipts?.some((e) => e.type === 'm.receipt' && e.room_id === roomId && bob.userId in ((e.content[eventId] as Record<string, Record<string, unknown>> | undefined)?.['m.read'] ?? {}));
      expect(readByBob(all.body.receipts)).toBe(true);

      const one = await call<{ room_id: string; membership: string; messages?: Chunk; state?: LegacyEvent[]; receipts?: LegacyEvent[] }>(
        hs.url,
        'GET',
        `rooms/${enc(roomId)}/initialSync`,
        { token: bob.token },
      );
      expect(readByBob(one.body.receipts)).toBe(true);
      expect(one.status).toBe(200);
      expect(one.body.room_id).toBe(roomId);
      expect(one.body.messages?.chunk.map((e) => e.event_id)).toContain(eventId);
      expect(one.body.state?.some((e) => e.type === 'm.room.member')).toBe(true);
      // Events carry user_id (their sender), as this endpoint's events always did.
      const mine = one.body.state?.find((e) => e.type === 'm.room.member' && (e as { state_key?: string }).state_key === bob.userId);
      expect((mine as { user_id?: string } | undefined)?.user_id).toBe(bob.userId);
      // visibility is the room's directory visibility.
      expect((one.body as { visibility?: string }).visibility).toBe('private');
      expect((await call(hs.url, 'PUT', `directory/list/room/${enc(roomId)}`, { token: alice.token, body: { visibility: 'public' } })).status).toBe(200);
      const listed = await call<{ visibility: string }>(hs.url, 'GET', `rooms/${enc(roomId)}/initialSync`, { token: bob.token });
      expect(listed.body.visibility).toBe('public');
      const allListed = await call<{ rooms: { room_id: string; visibility: string }[] }>(hs.url, 'GET', 'initialSync', { token: bob.token });
      expect(allListed.body.rooms.find((r) => r.room_id === roomId)?.visibility).toBe('public');
      expect((await call(hs.url, 'PUT', `directory/list/room/${enc(roomId)}`, { token: alice.token, body: { visibility: 'private' } })).status).toBe(200);
      const departed = await call<{ room_id: string }>(hs.url, 'POST', 'createRoom', { token: alice.token, body: { preset: 'public_chat' } });
      const leftRoom = departed.body.room_id;
      expect((await call(hs.url, 'POST', `join/${enc(leftRoom)}`, { token: bob.token, body: {} })).status).toBe(200);
      const before = await send(alice, leftRoom, 'before bob left');
      expect((await call(hs.url, 'POST', `rooms/${enc(leftRoom)}/leave`, { token: bob.token, body: {} })).status).toBe(200);
      await send(alice, leftRoom, 'after bob left');
      const left = await call<{ membership: string; messages?: Chunk; receipts?: LegacyEvent[]; presence?: LegacyEvent[] }>(hs.url, 'GET', `rooms/${enc(leftRoom)}/initialSync`, {
        token: bob.token,
      });
      expect(left.body.membership).toBe('leave');
      expect(left.body.messages?.chunk.map((e) => e.event_id)).toContain(before);
      expect(left.body.messages?.chunk.some((e) => e.content.body === 'after bob left')).toBe(false);
      expect(left.body.receipts).toEqual([]);
      expect(left.body.presence).toEqual([]);
      const stranger = await call(hs.url, 'GET', `rooms/${enc(roomId)}/initialSync`, { token: carol.token });
      expect(stranger).toEqual({ status: 403, body: expect.objectContaining({ errcode: 'M_FORBIDDEN' }) });
    });
  });
});
