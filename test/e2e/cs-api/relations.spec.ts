/**
 * Relations and threads over real HTTP (the homeserver in this process on a free port):
 * /relations in every form, /threads, and the bundled aggregations of /sync, /messages,
 * /context and /event, their bodies checked against the spec; each read right after the
 * write it depends on (reads see every acknowledged write); bad requests get their Matrix error.
 */
import { assertMatchesSpec, call, registerUser, type SpecResponse, type TestUser } from '@hs/testing';
import { startInProcess, type InProcessServer } from '../../support/in-process-server';

const spec = (file: string, path: string, status = 200): SpecResponse => ({ api: 'client-server', file, path, method: 'get', status });
const enc = encodeURIComponent;
const RELATIONS = '/rooms/{roomId}/relations/{eventId}';
/** A well-formed event id no event has. */
const MISSING = `$${'A'.repeat(43)}`;

interface ClientEvent {
  event_id: string;
  type: string;
  content: Record<string, unknown>;
  unsigned?: Record<string, unknown> & { 'm.relations'?: Record<string, Record<string, unknown>> };
}
interface Chunk {
  chunk: ClientEvent[];
  next_batch?: string;
  prev_batch?: string;
  recursion_depth?: number;
}

describe('relations and threads', () => {
  let hs: InProcessServer;
  let alice: TestUser;
  let bob: TestUser;
  let roomId: string;
  let txn = 0;

  beforeAll(async () => {
    hs = await startInProcess({ postgresFromEnv: true });
    [alice, bob] = [await registerUser(hs.url, 'alice'), await registerUser(hs.url, 'bob')];
    const created = await call<{ room_id: string }>(hs.url, 'POST', 'createRoom', { token: alice.token, body: { preset: 'public_chat' } });
    roomId = created.body.room_id;
    expect((await call(hs.url, 'POST', `rooms/${enc(roomId)}/join`, { token: bob.token, body: {} })).status).toBe(200);
  }, 120_000);
  afterAll(async () => {
    await hs?.close();
  }, 60_000);

  async function send(user: TestUser, content: Record<string, unknown>, type = 'm.room.message'): Promise<string> {
    const response = await call<{ event_id: string }>(hs.url, 'PUT', `rooms/${enc(roomId)}/send/${enc(type)}/t${++txn}`, { token: user.token, body: content });
    expect(response.status).toBe(200);
    return response.body.event_id;
  }
  const reply = (root: string, body: string) => ({ msgtype: 'm.text', body, 'm.relates_to': { rel_type: 'm.thread', event_id: root } });
  const edit = (target: string, body: string) => ({
    msgtype: 'm.text',
    body: `* ${body}`,
    'm.new_content': { msgtype: 'm.text', body },
    'm.relates_to': { rel_type: 'm.replace', event_id: target },
  });
  const get = <T>(user: TestUser, path: string, query: Record<string, string> = {}) => call<T>(hs.url, 'GET', `/_matrix/client/v1/rooms/${enc(roomId)}/${path}`, { token: user.token, query });

  it('serves a thread and an edit through /relations, /threads and every endpoint returning events', async () => {
    const root = await send(alice, { msgtype: 'm.text', body: 'root' });
    const first = await send(bob, reply(root, 'first'));
    // Read right after the write: the relation is there.
    const direct = await get<Chunk>(bob, `relations/${enc(root)}`);
    expect(direct.status).toBe(200);
    assertMatchesSpec(direct.body, spec('relations.yaml', RELATIONS));
    expect(direct.body.chunk.map((e) => e.event_id)).toEqual([first]);
    const second = await send(alice, reply(root, 'second'));
    const fixed = await send(alice, edit(second, 'second, edited'));

    const byType = await get<Chunk>(alice, `relations/${enc(root)}/m.thread`, { limit: '1' });
    assertMatchesSpec(byType.body, spec('relations.yaml', `${RELATIONS}/{relType}`));
    expect(byType.body.chunk.map((e) => e.event_id)).toEqual([second]);
    expect(byType.body.chunk[0].unsigned?.['m.relations']?.['m.replace']).toMatchObject({ event_id: fixed });
    const next = await get<Chunk>(alice, `relations/${enc(root)}/m.thread/m.room.message`, { limit: '1', from: byType.body.next_batch as string });
    assertMatchesSpec(next.body, spec('relations.yaml', `${RELATIONS}/{relType}/{eventType}`));
    expect(next.body.chunk.map((e) => e.event_id)).toEqual([first]);
    const forwards = await get<Chunk>(alice, `relations/${enc(root)}`, { dir: 'f', recurse: 'true' });
    expect(forwards.body).toMatchObject({ recursion_depth: 3 });
    expect(forwards.body.chunk.map((e) => e.event_id)).toEqual([first, second, fixed]);

    const threads = await get<Chunk>(bob, 'threads', { include: 'participated' });
    expect(threads.status).toBe(200);
    assertMatchesSpec(threads.body, spec('threads_list.yaml', '/rooms/{roomId}/threads'));
    expect(threads.body.chunk.map((e) => e.event_id)).toEqual([root]);
    const summary = threads.body.chunk[0].unsigned?.['m.relations']?.['m.thread'];
    expect(summary).toMatchObject({ count: 2, current_user_participated: true, latest_event: { event_id: second } });

    const event = await call<ClientEvent>(hs.url, 'GET', `rooms/${enc(roomId)}/event/${enc(second)}`, { token: bob.token });
    expect(event.body.content.body).toBe('second');
    expect(event.body.unsigned?.['m.relations']?.['m.replace']).toMatchObject({ event_id: fixed, content: { 'm.new_content': { body: 'second, edited' } } });
    const messages = await call<{ chunk: ClientEvent[] }>(hs.url, 'GET', `rooms/${enc(roomId)}/messages`, { token: bob.token, query: { dir: 'b', limit: '10' } });
    assertMatchesSpec(messages.body, { ...spec('message_pagination.yaml', '/rooms/{roomId}/messages') });
    expect(messages.body.chunk.find((e) => e.event_id === root)?.unsigned?.['m.relations']?.['m.thread']).toMatchObject({ count: 2 });
    const context = await call<{ event: ClientEvent }>(hs.url, 'GET', `rooms/${enc(roomId)}/context/${enc(root)}`, { token: bob.token, query: { limit: '2' } });
    expect(context.body.event.unsigned?.['m.relations']?.['m.thread']).toMatchObject({ count: 2 });
    const sync = await call<{ rooms: { join: Record<string, { timeline: { events: ClientEvent[] } }> } }>(hs.url, 'GET', 'sync', {
      token: bob.token,
      query: { filter: JSON.stringify({ room: { timeline: { limit: 20 } } }) },
    });
    assertMatchesSpec(sync.body, { ...spec('sync.yaml', '/sync') });
    const timeline = sync.body.rooms.join[roomId].timeline.events;
    expect(timeline.find((e) => e.event_id === root)?.unsigned?.['m.relations']?.['m.thread']).toMatchObject({ count: 2, current_user_participated: true });
    expect(timeline.find((e) => e.event_id === second)?.unsigned?.['m.relations']?.['m.replace']).toMatchObject({ event_id: fixed });

    // A redacted reply drops out at once.
    expect((await call(hs.url, 'PUT', `rooms/${enc(roomId)}/redact/${enc(first)}/r${++txn}`, { token: bob.token, body: {} })).status).toBe(200);
    const after = await get<Chunk>(alice, `relations/${enc(root)}/m.thread`);
    expect(after.body.chunk.map((e) => e.event_id)).toEqual([second]);
  });

  it('an incremental /sync bundles the edit of an event shown in the same answer', async () => {
    const initial = await call<{ next_batch: string }>(hs.url, 'GET', 'sync', { token: bob.token, query: { timeout: '0' } });
    const original = await send(alice, { msgtype: 'm.text', body: 'helo' });
    const fixed = await send(alice, edit(original, 'hello'));
    const sync = await call<{ rooms: { join: Record<string, { timeline: { events: ClientEvent[] } }> } }>(hs.url, 'GET', 'sync', {
      token: bob.token,
      query: { since: initial.body.next_batch, timeout: '0' },
    });
    const timeline = sync.body.rooms.join[roomId].timeline.events;
    expect(timeline.map((e) => e.event_id)).toEqual([original, fixed]);
    expect(timeline[0].unsigned?.['m.relations']?.['m.replace']).toMatchObject({ event_id: fixed });
  });

  it('answers bad requests with their Matrix error', async () => {
    const root = await send(alice, { msgtype: 'm.text', body: 'another root' });
    const cases: [string, Record<string, string>, number, string][] = [
      [`relations/${enc(root)}`, { dir: 'x' }, 400, 'M_INVALID_PARAM'],
      [`relations/${enc(root)}`, { limit: '0' }, 400, 'M_INVALID_PARAM'],
      [`relations/${enc(root)}`, { limit: 'many' }, 400, 'M_INVALID_PARAM'],
      [`relations/${enc(root)}`, { recurse: 'yes' }, 400, 'M_INVALID_PARAM'],
      [`relations/${enc(root)}`, { from: 'garbage' }, 400, 'M_INVALID_PARAM'],
      [`relations/${enc(MISSING)}`, {}, 404, 'M_NOT_FOUND'],
      ['relations/not-an-event-id', {}, 400, 'M_INVALID_PARAM'],
      ['threads', { include: 'some' }, 400, 'M_INVALID_PARAM'],
      ['threads', { from: 'garbage' }, 400, 'M_INVALID_PARAM'],
    ];
    for (const [path, query, status, errcode] of cases) {
      const response = await get<{ errcode?: string }>(alice, path, query);
      expect({ path, query, status: response.status, errcode: response.body.errcode }).toEqual({ path, query, status, errcode });
    }
    const missing = await get(alice, `relations/${enc(MISSING)}`);
    assertMatchesSpec(missing.body, spec('relations.yaml', RELATIONS, 404));
    const outsider = await registerUser(hs.url, 'outsider');
    const privateRoom = await call<{ room_id: string }>(hs.url, 'POST', 'createRoom', { token: alice.token, body: { preset: 'private_chat' } });
    const hidden = await call(hs.url, 'GET', `/_matrix/client/v1/rooms/${enc(privateRoom.body.room_id)}/threads`, { token: outsider.token });
    expect(hidden).toEqual({ status: 403, body: expect.objectContaining({ errcode: 'M_FORBIDDEN' }) });
    const noToken = await call(hs.url, 'GET', `/_matrix/client/v1/rooms/${enc(roomId)}/threads`);
    expect(noToken.status).toBe(401);
  });
});
