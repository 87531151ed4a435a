/**
 * POST /search and POST /user_directory/search over real HTTP (the homeserver in this process
 * on a free port): what each finds, what it hides (history visibility, private rooms,
 * redactions, encrypted events), paging, context, state, groupings and highlights, bodies
 * checked against the spec, bad requests answered with Matrix errors, and every read issued
 * right after the write it must reflect.
 */
import { assertMatchesSpec, call, registerUser, type SpecResponse, type TestUser } from '@hs/testing';
import { startInProcess, type InProcessServer } from '../../support/in-process-server';

const spec = (file: string, path: string): SpecResponse => ({ api: 'client-server', file, path, method: 'post', status: 200 });
const enc = encodeURIComponent;

interface SearchBody {
  search_categories: {
    room_events: {
      count: number;
      highlights: string[];
      results: { rank: number; result: { event_id: string; content: Record<string, unknown>; sender: string; room_id: string }; context?: Record<string, unknown> }[];
      next_batch?: string;
      state?: Record<string, { type: string }[]>;
      groups?: Record<string, Record<string, { results: string[]; order: number }>>;
    };
  };
}

interface DirectoryBody {
  results: { user_id: string; display_name?: string; avatar_url?: string }[];
  limited: boolean;
}

describe('search endpoints', () => {
  let hs: InProcessServer;
  let alice: TestUser;
  let bob: TestUser;
  let carol: TestUser;
  let txn = 0;

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
  async function join(user: TestUser, roomId: string): Promise<void> {
    expect((await call(hs.url, 'POST', `rooms/${enc(roomId)}/join`, { token: user.token, body: {} })).status).toBe(200);
  }
  async function send(user: TestUser, roomId: string, body: string, type = 'm.room.message', extra: Record<string, unknown> = {}): Promise<string> {
    const response = await call<{ event_id: string }>(hs.url, 'PUT', `rooms/${enc(roomId)}/send/${type}/t${++txn}`, {
      token: user.token,
      body: { msgtype: 'm.text', body, ...extra },
    });
    expect(response.status).toBe(200);
    return response.body.event_id;
  }
  async function state(user: TestUser, roomId: string, type: string, content: Record<string, unknown>, stateKey = ''): Promise<void> {
    expect((await call(hs.url, 'PUT', `rooms/${enc(roomId)}/state/${type}/${enc(stateKey)}`, { token: user.token, body: content })).status).toBe(200);
  }
  async function search(user: TestUser, roomEvents: Record<string, unknown>, nextBatch?: string) {
    const response = await call<SearchBody>(hs.url, 'POST', 'search', {
      token: user.token,
      body: { search_categories: { room_events: roomEvents } },
      ...(nextBatch ? { query: { next_batch: nextBatch } } : {}),
    });
    if (response.status === 200) assertMatchesSpec(response.body, spec('search.yaml', '/search'));
    return response;
  }
  async function directory(user: TestUser, searchTerm: string, limit?: number) {
    const response = await call<DirectoryBody>(hs.url, 'POST', 'user_directory/search', { token: user.token, body: { search_term: searchTerm, ...(limit !== undefined ? { limit } : {}) } });
    expect(response.status).toBe(200);
    assertMatchesSpec(response.body, spec('users.yaml', '/user_directory/search'));
    return response.body;
  }
  const bodies = (r: { body: SearchBody }) => r.body.search_categories.room_events.results.map((x) => x.result.content.body);

  describe('POST /search', () => {
    it('finds a message sent just before, by word prefix and stem, with highlights and count', async () => {
      const room = await createRoom(alice, { name: 'Martian room' });
      await send(alice, room, 'The martians are landing near the lighthouse');
      const id = await send(alice, room, 'Nobody expected martians today');
      const found = await search(alice, { search_term: 'MARTIAN', keys: ['content.body'], filter: { rooms: [room] } });
      expect(found.status).toBe(200);
      const events = found.body.search_categories.room_events;
      expect(events.count).toBe(2);
      expect(events.results.map((r) => r.result.event_id)).toContain(id);
      expect(events.results.every((r) => typeof r.rank === 'number' && r.rank > 0)).toBe(true);
      expect(events.highlights).toEqual(['martians']);
      // The room name is found with its own key, and only when asked for.
      const byName = await search(alice, { search_term: 'martian', keys: ['content.name'], filter: { rooms: [room] } });
      expect(byName.body.search_categories.room_events.results.map((r) => r.result.content)).toEqual([{ name: 'Martian room' }]);
      // Every word is needed.
      expect(bodies(await search(alice, { search_term: 'martians lighthouse', filter: { rooms: [room] } }))).toEqual(['The martians are landing near the lighthouse']);
      expect(bodies(await search(alice, { search_term: 'zebra', filter: { rooms: [room] } }))).toEqual([]);
    });

    it('orders by recent or rank, pages with next_batch, filters senders, groups by room and sender', async () => {
      const room = await createRoom(alice, { preset: 'public_chat' });
      await join(bob, room);
      const sent: string[] = [];
      for (let i = 0; i < 7; i++) sent.push(await send(i % 2 === 0 ? alice : bob, room, `pagination probe ${i}${i === 3 ? ' probe probe' : ''}`));
      const first = await search(alice, { search_term: 'probe', order_by: 'recent', filter: { rooms: [room], limit: 3 } });
      const page1 = first.body.search_categories.room_events;
      expect(page1.results.map((r) => r.result.event_id)).toEqual([sent[6], sent[5], sent[4]]);
      expect(page1.count).toBe(7);
      const second = await search(alice, { search_term: 'probe', order_by: 'recent', filter: { rooms: [room], limit: 3 } }, page1.next_batch);
      expect(second.body.search_categories.room_events.results.map((r) => r.result.event_id)).toEqual([sent[3], sent[2], sent[1]]);
      const third = await search(alice, { search_term: 'probe', order_by: 'recent', filter: { rooms: [room], limit: 3 } }, second.body.search_categories.room_events.next_batch);
      expect(third.body.search_categories.room_events.results.map((r) => r.result.event_id)).toEqual([sent[0]]);
      expect(third.body.search_categories.room_events.next_batch).toBeUndefined();

      const ranked = await search(alice, { search_term: 'probe', filter: { rooms: [room] } });
      expect(ranked.body.search_categories.room_events.results[0].result.event_id).toBe(sent[3]);
      const ranks = ranked.body.search_categories.room_events.results.map((r) => r.rank);
      expect([...ranks].sort((a, b) => b - a)).toEqual(ranks);

      const fromBob = await search(alice, { search_term: 'probe', order_by: 'recent', filter: { rooms: [room], senders: [bob.userId] } });
      expect(fromBob.body.search_categories.room_events.results.map((r) => r.result.sender)).toEqual([bob.userId, bob.userId, bob.userId]);
      const notBob = await search(alice, { search_term: 'probe', filter: { rooms: [room], not_senders: [bob.userId] } });
      expect(notBob.body.search_categories.room_events.results).toHaveLength(4);

      const grouped = await search(alice, { search_term: 'probe', order_by: 'recent', filter: { rooms: [room] }, groupings: { group_by: [{ key: 'room_id' }, { key: 'sender' }] } });
      const groups = grouped.body.search_categories.room_events.groups!;
      expect(groups.room_id[room].results).toEqual([...sent].reverse());
      expect(Object.keys(groups.sender).sort()).toEqual([alice.userId, bob.userId].sort());
      expect(groups.sender[bob.userId].results).toEqual([sent[5], sent[3], sent[1]]);

      // A token of another order, or none of ours, is refused.
      for (const token of [page1.next_batch as string, 'garbage']) {
        const bad = await search(alice, { search_term: 'probe', order_by: 'rank' }, token);
        expect(bad.status).toBe(400);
        expect(bad.body).toMatchObject({ errcode: 'M_INVALID_PARAM' });
      }
    });

    it('gives event context with profiles, and the rooms’ state', async () => {
      const room = await createRoom(alice, { preset: 'public_chat', name: 'Context room' });
      await join(bob, room);
      await call(hs.url, 'PUT', `profile/${enc(bob.userId)}/displayname`, { token: bob.token, body: { displayname: 'Bob Builder' } });
      const before = await send(alice, room, 'before the needle');
      const needle = await send(bob, room, 'the needle haystack');
      const after = await send(alice, room, 'after it');
      const found = await search(alice, {
        search_term: 'haystack',
        filter: { rooms: [room] },
        event_context: { before_limit: 1, after_limit: 1, include_profile: true },
        include_state: true,
      });
      const [result] = found.body.search_categories.room_events.results;
      expect(result.result.event_id).toBe(needle);
      const context = result.context as { events_before: { event_id: string }[]; events_after: { event_id: string }[]; start: string; end: string; profile_info: Record<string, { displayname?: string }> };
      expect(context.events_before.map((e) => e.event_id)).toEqual([before]);
      expect(context.events_after.map((e) => e.event_id)).toEqual([after]);
      expect(typeof context.start).toBe('string');
      expect(context.profile_info[bob.userId].displayname).toBe('Bob Builder');
      expect(context.profile_info[alice.userId]).toBeDefined();
      const roomState = found.body.search_categories.room_events.state![room];
      expect(roomState.map((e) => e.type)).toEqual(expect.arrayContaining(['m.room.create', 'm.room.name', 'm.room.member']));
    });

    it('shows only what the searcher may see: not rooms they are not in, not history before joining a joined-only room, not redacted or encrypted events', async () => {
      const room = await createRoom(alice, { preset: 'public_chat' });
      await state(alice, room, 'm.room.history_visibility', { history_visibility: 'joined' });
      await send(alice, room, 'secretword before carol');
      expect(bodies(await search(carol, { search_term: 'secretword' }))).toEqual([]);
      await join(carol, room);
      await send(alice, room, 'secretword after carol');
      expect(bodies(await search(carol, { search_term: 'secretword' }))).toEqual(['secretword after carol']);
      expect(bodies(await search(alice, { search_term: 'secretword', order_by: 'recent' }))).toEqual(['secretword after carol', 'secretword before carol']);

      const redacted = await send(alice, room, 'redactable gossip');
      expect(bodies(await search(alice, { search_term: 'gossip' }))).toEqual(['redactable gossip']);
      expect((await call(hs.url, 'PUT', `rooms/${enc(room)}/redact/${enc(redacted)}/r${++txn}`, { token: alice.token, body: {} })).status).toBe(200);
      expect(bodies(await search(alice, { search_term: 'gossip' }))).toEqual([]);

      await send(alice, room, 'ciphertext', 'm.room.encrypted', { algorithm: 'm.megolm.v1.aes-sha2', body: 'encryptedword' });
      expect(bodies(await search(alice, { search_term: 'encryptedword' }))).toEqual([]);
    });

    it('answers bad requests with Matrix errors', async () => {
      const cases: [unknown, string][] = [
        [{}, 'M_MISSING_PARAM'],
        [{ search_categories: { room_events: {} } }, 'M_MISSING_PARAM'],
        [{ search_categories: { room_events: { search_term: 5 } } }, 'M_BAD_JSON'],
        [{ search_categories: { room_events: { search_term: 'x', order_by: 'sideways' } } }, 'M_BAD_JSON'],
        [{ search_categories: { room_events: { search_term: 'x', keys: ['content.url'] } } }, 'M_BAD_JSON'],
        [{ search_categories: { room_events: { search_term: 'x', filter: { limit: -1 } } } }, 'M_BAD_JSON'],
      ];
      for (const [body, errcode] of cases) {
        const response = await call(hs.url, 'POST', 'search', { token: alice.token, body });
        expect([JSON.stringify(body), response.status, response.body.errcode]).toEqual([JSON.stringify(body), 400, errcode]);
      }
      expect((await call(hs.url, 'POST', 'search', { body: {} })).status).toBe(401);
      // No category asked: nothing to answer. A term of punctuation only finds nothing.
      expect((await call(hs.url, 'POST', 'search', { token: alice.token, body: { search_categories: {} } })).body).toEqual({ search_categories: {} });
      expect((await search(alice, { search_term: '!!!' })).body.search_categories.room_events).toEqual({ count: 0, highlights: [], results: [] });
    });
  });

  describe('POST /user_directory/search', () => {
    it('finds users who share a room or are in a public room, by word prefix, case and accents aside', async () => {
      const dave = await registerUser(hs.url, 'dave');
      const erin = await registerUser(hs.url, 'erin');
      await call(hs.url, 'PUT', `profile/${enc(dave.userId)}/displayname`, { token: dave.token, body: { displayname: 'Zoë Quartermaine' } });
      // Not sharing any room with erin, in no public room: not found.
      expect((await directory(erin, 'quartermaine')).results).toEqual([]);
      const privateRoom = await createRoom(dave, { preset: 'private_chat' });
      expect((await directory(erin, 'quartermaine')).results).toEqual([]);
      // In a public room: found by anyone, right after the join.
      const publicRoom = await createRoom(carol, { preset: 'public_chat' });
      await join(dave, publicRoom);
      const found = await directory(erin, 'zoe QUART');
      expect(found).toEqual({ results: [{ user_id: dave.userId, display_name: 'Zoë Quartermaine' }], limited: false });
      expect((await directory(erin, dave.username)).results.map((r) => r.user_id)).toEqual([dave.userId]);
      // Words begin where the term begins: a middle of a word is no match.
      expect((await directory(erin, 'artermaine')).results).toEqual([]);
      // Leaving the public room takes dave out of erin's directory.
      expect((await call(hs.url, 'POST', `rooms/${enc(publicRoom)}/leave`, { token: dave.token, body: {} })).status).toBe(200);
      expect((await directory(erin, 'quartermaine')).results).toEqual([]);
      // Sharing a private room: found again, and a profile change is seen at once.
      expect((await call(hs.url, 'POST', `rooms/${enc(privateRoom)}/invite`, { token: dave.token, body: { user_id: erin.userId } })).status).toBe(200);
      await join(erin, privateRoom);
      expect((await directory(erin, 'quartermaine')).results.map((r) => r.user_id)).toEqual([dave.userId]);
      await call(hs.url, 'PUT', `profile/${enc(dave.userId)}/displayname`, { token: dave.token, body: { displayname: 'Zoë Winterbottom' } });
      expect((await directory(erin, 'winterbottom')).results).toEqual([{ user_id: dave.userId, display_name: 'Zoë Winterbottom' }]);
      expect((await directory(erin, 'quartermaine')).results).toEqual([]);
    });

    it('a room that becomes public (or world readable) shows its members; limit and limited', async () => {
      const room = await createRoom(alice, { preset: 'private_chat' });
      const members: TestUser[] = [];
      for (let i = 0; i < 3; i++) {
        const user = await registerUser(hs.url, 'limitprobe');
        members.push(user);
        await call(hs.url, 'POST', `rooms/${enc(room)}/invite`, { token: alice.token, body: { user_id: user.userId } });
        await join(user, room);
      }
      const outsider = await registerUser(hs.url, 'outsider');
      expect((await directory(outsider, 'limitprobe')).results).toEqual([]);
      await state(alice, room, 'm.room.history_visibility', { history_visibility: 'world_readable' });
      expect((await directory(outsider, 'limitprobe')).results).toHaveLength(3);
      await state(alice, room, 'm.room.history_visibility', { history_visibility: 'shared' });
      expect((await directory(outsider, 'limitprobe')).results).toEqual([]);
      await state(alice, room, 'm.room.join_rules', { join_rule: 'public' });
      const limited = await directory(outsider, 'limitprobe', 2);
      expect(limited.results).toHaveLength(2);
      expect(limited.limited).toBe(true);
      expect((await directory(outsider, 'limitprobe', 3)).limited).toBe(false);
    });

    it('answers bad requests with Matrix errors', async () => {
      const cases: [unknown, string][] = [
        [{}, 'M_MISSING_PARAM'],
        [{ search_term: 1 }, 'M_BAD_JSON'],
        [{ search_term: 'x', limit: -1 }, 'M_BAD_JSON'],
        [{ search_term: 'x', limit: 'ten' }, 'M_BAD_JSON'],
      ];
      for (const [body, errcode] of cases) {
        const response = await call(hs.url, 'POST', 'user_directory/search', { token: alice.token, body });
        expect([JSON.stringify(body), response.status, response.body.errcode]).toEqual([JSON.stringify(body), 400, errcode]);
      }
      expect((await call(hs.url, 'POST', 'user_directory/search', { body: { search_term: 'x' } })).status).toBe(401);
    });
  });
});

describe('user directory with user_directory.search_all_users', () => {
  let hs: InProcessServer;

  beforeAll(async () => {
    hs = await startInProcess({ env: { HS_USER_DIRECTORY__SEARCH_ALL_USERS: 'true' } });
  }, 120_000);
  afterAll(async () => {
    await hs?.close();
  }, 60_000);

  it('finds every local user, in rooms or not, right after a profile change', async () => {
    const [searcher, loner] = [await registerUser(hs.url, 'searcher'), await registerUser(hs.url, 'loner')];
    await call(hs.url, 'PUT', `profile/${enc(loner.userId)}/displayname`, { token: loner.token, body: { displayname: 'Élodie Solitaire' } });
    const response = await call<DirectoryBody>(hs.url, 'POST', 'user_directory/search', { token: searcher.token, body: { search_term: 'elodie' } });
    expect(response.status).toBe(200);
    assertMatchesSpec(response.body, spec('users.yaml', '/user_directory/search'));
    expect(response.body).toEqual({ results: [{ user_id: loner.userId, display_name: 'Élodie Solitaire' }], limited: false });
    const byId = await call<DirectoryBody>(hs.url, 'POST', 'user_directory/search', { token: searcher.token, body: { search_term: loner.username } });
    expect(byId.body.results.map((r) => r.user_id)).toEqual([loner.userId]);
  });
});
