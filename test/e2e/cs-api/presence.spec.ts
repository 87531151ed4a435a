/**
 * Presence over real HTTP: PUT/GET /presence/{userId}/status, presence in /sync (room-mates
 * and the user, not strangers; initial and incremental; long-polls woken by a change; the
 * filter's presence section), set_presence, the deprecated event stream and initial sync, and
 * the `presence.enabled` switch. Bodies are checked against the spec.
 */
import { SyncNotifier } from '@hs/sync';
import { assertMatchesEventSchema, assertMatchesSpec, call, registerUser, type SpecResponse, type TestUser } from '@hs/testing';
import { startInProcess, type InProcessServer } from '../../support/in-process-server';

const spec = (file: string, path: string, method: SpecResponse['method'], status = 200): SpecResponse => ({ api: 'client-server', file, path, method, status });
const STATUS = '/presence/{userId}/status';
const enc = encodeURIComponent;

interface PresenceEvent {
  type: string;
  sender: string;
  content: { presence: string; status_msg?: string; last_active_ago?: number; currently_active?: boolean; displayname?: string };
}
interface SyncBody {
  next_batch: string;
  presence?: { events: PresenceEvent[] };
}

describe('presence', () => {
  let hs: InProcessServer;
  let alice: TestUser;
  let bob: TestUser;
  let carol: TestUser;
  let roomId: string;

  async function sync(user: TestUser, query: Record<string, string> = {}): Promise<SyncBody> {
    const response = await call<SyncBody>(hs.url, 'GET', 'sync', { token: user.token, query });
    if (response.status !== 200) throw new Error(`sync: ${response.status} ${JSON.stringify(response.body)}`);
    assertMatchesSpec(response.body, spec('sync.yaml', '/sync', 'get'));
    for (const event of response.body.presence?.events ?? []) assertMatchesEventSchema(event, 'm.presence');
    return response.body;
  }

  const presenceOf = (body: SyncBody, userId: string) => body.presence?.events.filter((e) => e.sender === userId).at(-1);

  async function setPresence(user: TestUser, body: Record<string, unknown>): Promise<void> {
    const response = await call(hs.url, 'PUT', `presence/${enc(user.userId)}/status`, { token: user.token, body });
    expect(response).toEqual({ status: 200, body: {} });
    assertMatchesSpec(response.body, spec('presence.yaml', STATUS, 'put'));
  }

  async function getPresence(viewer: TestUser, userId: string) {
    return call<{ presence: string; status_msg?: string | null; last_active_ago?: number; currently_active?: boolean; errcode?: string }>(
      hs.url,
      'GET',
      `presence/${enc(userId)}/status`,
      { token: viewer.token },
    );
  }

  /** Puts a user in the room (invited by alice), and waits until alice's sync shows it. */
  async function joinRoom(user: TestUser): Promise<void> {
    await call(hs.url, 'POST', `rooms/${enc(roomId)}/invite`, { token: alice.token, body: { user_id: user.userId } });
    const joined = await call(hs.url, 'POST', `rooms/${enc(roomId)}/join`, { token: user.token, body: {} });
    expect(joined.status).toBe(200);
  }

  beforeAll(async () => {
    hs = await startInProcess({ postgresFromEnv: true });
    [alice, bob, carol] = [await registerUser(hs.url, 'alice'), await registerUser(hs.url, 'bob'), await registerUser(hs.url, 'carol')];
    const created = await call<{ room_id: string }>(hs.url, 'POST', 'createRoom', { token: alice.token, body: { preset: 'private_chat' } });
    roomId = created.body.room_id;
    await joinRoom(bob);
    await call(hs.url, 'PUT', `profile/${enc(bob.userId)}/displayname`, { token: bob.token, body: { displayname: 'Bob B.' } });
  }, 120_000);
  afterAll(async () => {
    await hs?.close();
  }, 60_000);

  it('PUT then GET at once, by the user and by a room-mate; 403 for a stranger, 404 for an unknown user', async () => {
    await setPresence(bob, { presence: 'unavailable', status_msg: 'Making cupcakes' });
    for (const viewer of [bob, alice]) {
      const got = await getPresence(viewer, bob.userId);
      expect(got.status).toBe(200);
      assertMatchesSpec(got.body, spec('presence.yaml', STATUS, 'get'));
      expect(got.body).toMatchObject({ presence: 'unavailable', status_msg: 'Making cupcakes' });
    }
    const stranger = await getPresence(carol, bob.userId);
    expect({ status: stranger.status, errcode: stranger.body.errcode }).toEqual({ status: 403, errcode: 'M_FORBIDDEN' });
    assertMatchesSpec(stranger.body, spec('presence.yaml', STATUS, 'get', 403));
    const unknown = await getPresence(alice, `@nobody-here:${hs.serverName}`);
    expect({ status: unknown.status, errcode: unknown.body.errcode }).toEqual({ status: 404, errcode: 'M_NOT_FOUND' });
    assertMatchesSpec(unknown.body, spec('presence.yaml', STATUS, 'get', 404));
    // A user who never set a presence (and never synced) is offline.
    const never = await getPresence(carol, carol.userId);
    expect(never).toEqual({ status: 200, body: { presence: 'offline' } });
  });

  it('PUT: only for oneself (403), and bad bodies are refused', async () => {
    const other = await call(hs.url, 'PUT', `presence/${enc(bob.userId)}/status`, { token: alice.token, body: { presence: 'online' } });
    expect({ status: other.status, errcode: other.body.errcode }).toEqual({ status: 403, errcode: 'M_FORBIDDEN' });
    const path = `presence/${enc(alice.userId)}/status`;
    const cases: [unknown, string][] = [
      [{ presence: 'busy' }, 'M_INVALID_PARAM'],
      [{ presence: 5 }, 'M_BAD_JSON'],
      [{ presence: 'online', status_msg: 5 }, 'M_BAD_JSON'],
      [[], 'M_BAD_JSON'],
      [{ status_msg: 'no state' }, 'M_MISSING_PARAM'],
    ];
    for (const [body, errcode] of cases) {
      const response = await call(hs.url, 'PUT', path, { token: alice.token, body });
      expect({ body, status: response.status, errcode: response.body.errcode }).toEqual({ body, status: 400, errcode });
    }
    const badUser = await call(hs.url, 'GET', 'presence/not-a-user/status', { token: alice.token });
    expect(badUser.status).toBe(400);
    const noToken = await call(hs.url, 'GET', path);
    expect(noToken.status).toBe(401);
  });

  it('/sync shows a room-mate\'s presence (with display name) and the user\'s own, not a stranger\'s', async () => {
    await setPresence(carol, { presence: 'online', status_msg: 'carol is here' });
    await setPresence(bob, { presence: 'unavailable', status_msg: 'Making cupcakes' });
    // Read at once after the PUT: the store is synchronous, nothing to wait for.
    const body = await sync(alice);
    expect(presenceOf(body, bob.userId)?.content).toMatchObject({ presence: 'unavailable', status_msg: 'Making cupcakes', displayname: 'Bob B.' });
    expect(presenceOf(body, alice.userId)?.content).toMatchObject({ presence: 'online', currently_active: true });
    expect(presenceOf(body, carol.userId)).toBeUndefined();
    // Incremental: bob did not change, so he is not sent; then his change is.
    const quiet = await sync(alice, { since: body.next_batch });
    expect(presenceOf(quiet, bob.userId)).toBeUndefined();
    await setPresence(bob, { presence: 'online', status_msg: 'Back' });
    await setPresence(carol, { presence: 'online', status_msg: 'carol again' });
    const changed = await sync(alice, { since: quiet.next_batch });
    expect(presenceOf(changed, bob.userId)?.content).toMatchObject({ presence: 'online', status_msg: 'Back' });
    expect(presenceOf(changed, carol.userId)).toBeUndefined();
  });

  it('a presence change wakes a waiting long-poll of a room-mate', async () => {
    await setPresence(bob, { presence: 'online' });
    let token = (await sync(alice)).next_batch;
    const notifier = hs.server.clientApp.get(SyncNotifier);
    const before = notifier.waiting;
    let waiting = sync(alice, { since: token, timeout: '30000' });
    for (let i = 0; i < 200 && notifier.waiting <= before; i++) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(notifier.waiting).toBeGreaterThan(before);
    await setPresence(bob, { presence: 'unavailable', status_msg: 'woken' });
    // A wait that times out answers what it had before it, with nothing: every answer here must
    // be a wake-up, and one of them brings the change (another may come first, e.g. alice's own).
    for (let i = 0; ; i++) {
      const woken = await waiting;
      expect(woken.presence).toBeDefined();
      if (presenceOf(woken, bob.userId)) {
        expect(presenceOf(woken, bob.userId)?.content).toMatchObject({ presence: 'unavailable', status_msg: 'woken' });
        break;
      }
      expect(i).toBeLessThan(3);
      token = woken.next_batch;
      waiting = sync(alice, { since: token, timeout: '30000' });
    }
  });

  it('set_presence: unavailable marks the user idle; offline does not undo an explicit online', async () => {
    const dave = await registerUser(hs.url, 'dave');
    await joinRoom(dave);
    await sync(dave, { set_presence: 'unavailable' });
    expect((await getPresence(alice, dave.userId)).body).toMatchObject({ presence: 'unavailable' });
    expect(presenceOf(await sync(alice), dave.userId)?.content.presence).toBe('unavailable');
    await setPresence(dave, { presence: 'online' });
    await sync(dave, { set_presence: 'offline' });
    expect((await getPresence(alice, dave.userId)).body).toMatchObject({ presence: 'online', currently_active: true });
    // A user who only ever synced with set_presence=offline has no presence at all.
    const erin = await registerUser(hs.url, 'erin');
    await sync(erin, { set_presence: 'offline' });
    expect((await getPresence(erin, erin.userId)).body).toEqual({ presence: 'offline' });
  });

  it('sending a message is activity: an unavailable user comes online', async () => {
    await setPresence(bob, { presence: 'unavailable' });
    const sent = await call(hs.url, 'PUT', `rooms/${enc(roomId)}/send/m.room.message/presence-activity`, { token: bob.token, body: { msgtype: 'm.text', body: 'hi' } });
    expect(sent.status).toBe(200);
    expect((await getPresence(alice, bob.userId)).body).toMatchObject({ presence: 'online', last_active_ago: expect.any(Number), currently_active: true });
  });

  it('the filter\'s presence section: types [] hides it, senders and not_senders choose', async () => {
    await setPresence(bob, { presence: 'online', status_msg: 'filtered' });
    const none = await sync(alice, { filter: JSON.stringify({ presence: { types: [] } }) });
    expect(none.presence).toBeUndefined();
    const notType = await sync(alice, { filter: JSON.stringify({ presence: { not_types: ['m.*'] } }) });
    expect(notType.presence).toBeUndefined();
    const onlyBob = await sync(alice, { filter: JSON.stringify({ presence: { senders: [bob.userId] } }) });
    expect(onlyBob.presence?.events.map((e) => e.sender)).toEqual([bob.userId]);
    const notBob = await sync(alice, { filter: JSON.stringify({ presence: { not_senders: [bob.userId] } }) });
    expect(notBob.presence?.events.map((e) => e.sender)).not.toContain(bob.userId);
    const limited = await sync(alice, { filter: JSON.stringify({ presence: { limit: 1 } }) });
    expect(limited.presence?.events).toHaveLength(1);
  });

  it('a user who joins a room mate\'s room gets their current presence in the next incremental sync', async () => {
    await setPresence(carol, { presence: 'online', status_msg: 'before we met' });
    const base = await sync(bob);
    expect(presenceOf(base, carol.userId)).toBeUndefined();
    await joinRoom(carol);
    let found: PresenceEvent | undefined;
    let token = base.next_batch;
    for (let i = 0; i < 20 && !found; i++) {
      const next = await sync(bob, { since: token, timeout: '5000' });
      found = presenceOf(next, carol.userId);
      token = next.next_batch;
    }
    expect(found?.content).toMatchObject({ status_msg: 'before we met' });
  });

  it('a new member never seen online comes as offline in the next incremental sync', async () => {
    const erin = await registerUser(hs.url, 'erin');
    const base = await sync(bob);
    await joinRoom(erin);
    let found: PresenceEvent | undefined;
    let token = base.next_batch;
    for (let i = 0; i < 20 && !found; i++) {
      const next = await sync(bob, { since: token, timeout: '5000' });
      found = presenceOf(next, erin.userId);
      token = next.next_batch;
    }
    expect(found?.content).toMatchObject({ presence: 'offline' });
  });

  it('the deprecated event stream carries changes; the initial syncs carry current presence', async () => {
    const events = await call<{ chunk: PresenceEvent[]; end: string }>(hs.url, 'GET', 'events', { token: alice.token, query: { timeout: '0' } });
    expect(events.status).toBe(200);
    await setPresence(bob, { presence: 'unavailable', status_msg: 'via the event stream' });
    const next = await call<{ chunk: PresenceEvent[] }>(hs.url, 'GET', 'events', { token: alice.token, query: { from: events.body.end, timeout: '5000' } });
    expect(next.body.chunk.find((e) => e.type === 'm.presence' && e.sender === bob.userId)?.content).toMatchObject({ status_msg: 'via the event stream' });
    const initial = await call<{ presence: PresenceEvent[] }>(hs.url, 'GET', 'initialSync', { token: alice.token, query: { limit: '1' } });
    expect(initial.body.presence.find((e) => e.sender === bob.userId)?.content).toMatchObject({
      presence: 'unavailable',
      status_msg: 'via the event stream',
      user_id: bob.userId,
    });
    const room = await call<{ presence: PresenceEvent[] }>(hs.url, 'GET', `rooms/${enc(roomId)}/initialSync`, { token: alice.token });
    expect(room.body.presence.map((e) => e.sender)).toContain(bob.userId);
    for (const event of [...initial.body.presence, ...room.body.presence]) assertMatchesEventSchema(event, 'm.presence');
  });
});

describe('presence turned off (presence.enabled: false)', () => {
  let hs: InProcessServer;

  beforeAll(async () => {
    hs = await startInProcess({ env: { HS_PRESENCE__ENABLED: 'false' } });
  }, 120_000);
  afterAll(async () => {
    await hs?.close();
  }, 60_000);

  it('accepts PUT, answers offline, sends no presence in /sync', async () => {
    const alice = await registerUser(hs.url, 'alice');
    const put = await call(hs.url, 'PUT', `presence/${enc(alice.userId)}/status`, { token: alice.token, body: { presence: 'online', status_msg: 'hello' } });
    expect(put).toEqual({ status: 200, body: {} });
    const got = await call(hs.url, 'GET', `presence/${enc(alice.userId)}/status`, { token: alice.token });
    expect(got).toEqual({ status: 200, body: { presence: 'offline' } });
    const body = await call<SyncBody>(hs.url, 'GET', 'sync', { token: alice.token });
    expect(body.status).toBe(200);
    expect(body.body.presence).toBeUndefined();
    // Refusals still apply.
    const bad = await call(hs.url, 'PUT', `presence/${enc(alice.userId)}/status`, { token: alice.token, body: { presence: 'busy' } });
    expect(bad.status).toBe(400);
  });
});
