/**
 * The read endpoints of the federation API between two real instances over HTTPS on loopback:
 * rooms, events and users are made on A through its client API, and B asks A's federation
 * listener with requests signed by its own key. B's user joins one of A's rooms with a member
 * event built and signed by B's key and appended on A's write side (inbound joins over
 * federation are not built yet), so that B is allowed to read that room and no other.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { computeEventId, type Pdu } from '@hs/protocol';
import { ROOM_EVENT_STORE, RoomWriter, type TransactionalEventStore } from '@hs/room';
import { assertMatchesSpec, call, registerUser, type TestUser } from '@hs/testing';
import { appendRemoteEvent } from '../../libs/room/test/remote-events';
import { freePort } from '@hs/testing';
import { rawRequest, signedRawRequest, startFederationInstance, writeFederationTls, type RawResponse } from '../support/federation-instances';
import type { InProcessServer } from '../support/in-process-server';

interface FederationInstance {
  name: string;
  port: number;
  server: InProcessServer;
}


const F = '/_matrix/federation/v1';

describe('federation read endpoints between instances over HTTPS', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hs-federation-read-'));
  let ca = '';
  let a: FederationInstance;
  let b: FederationInstance;
  let alice: TestUser;
  let bob: string;
  /** A published room with shared history that B's user joins. */
  let shared: string;
  let beforeJoin: string;
  let nameEvent: string;
  let afterName: string;
  /** A room where B has no member. */
  let closed: string;
  let closedMessage: string;

  /** B asks A through its federation client (the request is signed; an error status throws). */
  const bAsks = async (method: 'GET' | 'POST', path: string, body?: unknown): Promise<Record<string, unknown>> => {
    const response = await b.server.server.keys.client.request(a.name, { method, path, body });
    expect(response.status).toBe(200);
    return response.body;
  };
  /** A request to A signed by B, whatever A answers. */
  const signedByB = (method: string, path: string, body?: unknown): Promise<RawResponse> =>
    signedRawRequest(a.port, ca, { origin: b.name, key: b.server.server.keys.ourKeys.signingKey, destination: a.name }, { method, path, body });
  const onA = (method: string, path: string, body?: unknown) => call(a.server.url, method, path, { token: alice.token, body });
  let txn = 0;
  const send = async (roomId: string, body: string): Promise<string> =>
    (await onA('PUT', `rooms/${encodeURIComponent(roomId)}/send/m.room.message/t${++txn}`, { msgtype: 'm.text', body })).body.event_id as string;
  const idOf = (pdu: unknown): string => computeEventId(pdu as Pdu, '11');
  const q = encodeURIComponent;

  beforeAll(async () => {
    const ports = await Promise.all([freePort(), freePort()]);
    const names = [`127.0.0.1:${ports[0]}`, `localhost:${ports[1]}`];
    ({ ca } = await writeFederationTls(dir, ports, (i) => `federation test server ${names[i]}`));
    const caFile = join(dir, 'ca.pem');
    const start = async (i: number): Promise<FederationInstance> => ({
      name: names[i],
      port: ports[i],
      server: await startFederationInstance({ dir, caFile, name: names[i], port: ports[i] }),
    });
    [a, b] = await Promise.all([start(0), start(1)]);

    alice = await registerUser(a.server.url, 'alice');
    await onA('PUT', `profile/${q(alice.userId)}/displayname`, { displayname: 'Alice' });
    shared = (await onA('POST', 'createRoom', { preset: 'public_chat', visibility: 'public', name: 'Shared', topic: 'Read over federation', room_alias_name: 'fedread' })).body
      .room_id as string;
    beforeJoin = await send(shared, 'before B joins');
    bob = `@bob:${b.name}`;
    const app = a.server.server.clientApp;
    await appendRemoteEvent(
      { writer: app.get(RoomWriter, { strict: false }), store: app.get<TransactionalEventStore>(ROOM_EVENT_STORE, { strict: false }) },
      { roomId: shared, origin: b.name, signingKey: b.server.server.keys.ourKeys.signingKey, sender: bob, type: 'm.room.member', stateKey: bob, content: { membership: 'join' } },
    );
    nameEvent = (await onA('PUT', `rooms/${q(shared)}/state/m.room.name/`, { name: 'Shared, renamed' })).body.event_id as string;
    afterName = await send(shared, 'after the new name');
    closed = (await onA('POST', 'createRoom', { preset: 'private_chat', name: 'Closed' })).body.room_id as string;
    closedMessage = await send(closed, 'not for B');
  }, 180_000);

  afterAll(async () => {
    await Promise.allSettled([a, b].filter(Boolean).map((instance) => instance.server.close()));
    rmSync(dir, { recursive: true, force: true });
  });

  describe('events and state of a room B is in', () => {
    it('GET /event/{eventId}: the event as a transaction of one PDU, signed by A', async () => {
      const body = await bAsks('GET', `${F}/event/${q(afterName)}`);
      assertMatchesSpec(body, { api: 'server-server', file: 'events.yaml', path: '/event/{eventId}', method: 'get', status: 200 });
      expect(body).toMatchObject({ origin: a.name, origin_server_ts: expect.any(Number), pdus: [{ content: { body: 'after the new name' }, room_id: shared }] });
      const pdu = (body.pdus as Pdu[])[0];
      expect(idOf(pdu)).toBe(afterName);
      expect(Object.keys(pdu.signatures)).toEqual([a.name]);
    });

    it('GET /state_ids and /state: the state before the event, with its auth chain', async () => {
      const atName = await bAsks('GET', `${F}/state_ids/${q(shared)}?event_id=${q(nameEvent)}`);
      assertMatchesSpec(atName, { api: 'server-server', file: 'events.yaml', path: '/state_ids/{roomId}', method: 'get', status: 200 });
      expect(atName.pdu_ids).not.toContain(nameEvent);
      const atMessage = await bAsks('GET', `${F}/state_ids/${q(shared)}?event_id=${q(afterName)}`);
      expect(atMessage.pdu_ids).toContain(nameEvent);
      expect((atMessage.pdu_ids as string[]).length).toBe((atName.pdu_ids as string[]).length);
      const state = await bAsks('GET', `${F}/state/${q(shared)}?event_id=${q(afterName)}`);
      assertMatchesSpec(state, { api: 'server-server', file: 'events.yaml', path: '/state/{roomId}', method: 'get', status: 200 });
      expect((state.pdus as Pdu[]).map(idOf)).toEqual(atMessage.pdu_ids);
      expect((state.auth_chain as Pdu[]).map(idOf)).toEqual(atMessage.auth_chain_ids);
      const members = (state.pdus as Pdu[]).filter((p) => p.type === 'm.room.member').map((p) => p.state_key);
      expect(members.sort()).toEqual([alice.userId, bob].sort());
    });

    it('GET /timestamp_to_event: the closest event B may see, in either direction', async () => {
      const event = (id: string) => bAsks('GET', `${F}/event/${q(id)}`).then((body) => (body.pdus as Pdu[])[0]);
      const named = await event(nameEvent);
      const later = await bAsks('GET', `${F}/timestamp_to_event/${q(shared)}?ts=${Date.now() + 3_600_000}&dir=b`);
      assertMatchesSpec(later, { api: 'server-server', file: 'events.yaml', path: '/timestamp_to_event/{roomId}', method: 'get', status: 200 });
      expect(later.event_id).toBe(afterName);
      const atName = await bAsks('GET', `${F}/timestamp_to_event/${q(shared)}?ts=${named.origin_server_ts}&dir=f`);
      expect(atName.origin_server_ts).toBeGreaterThanOrEqual(named.origin_server_ts);
      expect([nameEvent, afterName]).toContain(atName.event_id);
      // B has no member in the closed room: nothing there is visible to it.
      expect((await signedByB('GET', `${F}/timestamp_to_event/${q(closed)}?ts=0&dir=f`)).status).toBe(404);
      for (const bad of [`?ts=0`, `?dir=f`, `?ts=0&dir=x`, `?ts=later&dir=f`]) {
        expect({ bad, status: (await signedByB('GET', `${F}/timestamp_to_event/${q(shared)}${bad}`)).status }).toEqual({ bad, status: 400 });
      }
    });

    it('GET /hierarchy: the space room with its children B may reach, and those it may not', async () => {
      const space = (await onA('POST', 'createRoom', { preset: 'public_chat', name: 'Space over federation', creation_content: { type: 'm.space' } })).body.room_id as string;
      for (const [child, suggested] of [[shared, true], [closed, false], [`!elsewhere:${b.name}`, false]] as const) {
        await onA('PUT', `rooms/${q(space)}/state/m.space.child/${q(child)}`, { via: [a.name], suggested });
      }
      const body = await bAsks('GET', `${F}/hierarchy/${q(space)}`);
      assertMatchesSpec(body, { api: 'server-server', file: 'space_hierarchy.yaml', path: '/hierarchy/{roomId}', method: 'get', status: 200 });
      expect(body.room).toMatchObject({ room_id: space, name: 'Space over federation', room_type: 'm.space', num_joined_members: 1 });
      expect((body.room as { children_state: { state_key: string }[] }).children_state.map((c) => c.state_key).sort()).toEqual([shared, closed, `!elsewhere:${b.name}`].sort());
      expect((body.children as { room_id: string }[]).map((c) => c.room_id)).toEqual([shared]);
      expect(body.inaccessible_children).toEqual([closed]);
      const suggested = await bAsks('GET', `${F}/hierarchy/${q(space)}?suggested_only=true`);
      expect((suggested.room as { children_state: unknown[] }).children_state).toHaveLength(1);
      expect((await signedByB('GET', `${F}/hierarchy/${q(closed)}`)).status).toBe(404);
      expect((await signedByB('GET', `${F}/hierarchy/${q(space)}?suggested_only=perhaps`)).status).toBe(400);
    });

    it("a client of B sees the rooms of A that B's space names, as A summarizes them, and not those A keeps from B", async () => {
      const sub = (await onA('POST', 'createRoom', { preset: 'public_chat', name: 'Sub-space on A', creation_content: { type: 'm.space' } })).body.room_id as string;
      await onA('PUT', `rooms/${q(sub)}/state/m.space.child/${q(shared)}`, { via: [a.name], suggested: true });
      await onA('PUT', `rooms/${q(sub)}/state/m.space.child/${q(closed)}`, { via: [a.name] });
      const carol = await registerUser(b.server.url, 'carol');
      const onB = (method: string, path: string, body?: unknown) => call(b.server.url, method, path, { token: carol.token, body });
      const top = (await onB('POST', 'createRoom', { preset: 'private_chat', name: 'Space on B', creation_content: { type: 'm.space' } })).body.room_id as string;
      await onB('PUT', `rooms/${q(top)}/state/m.space.child/${q(sub)}`, { via: [a.name], suggested: true });
      await onB('PUT', `rooms/${q(top)}/state/m.space.child/${q(`!nothere:${a.name}`)}`, { via: [a.name] });
      const hierarchy = await call(b.server.url, 'GET', `/_matrix/client/v1/rooms/${q(top)}/hierarchy`, { token: carol.token });
      expect(hierarchy.status).toBe(200);
      assertMatchesSpec(hierarchy.body, { api: 'client-server', file: 'space_hierarchy.yaml', path: '/rooms/{roomId}/hierarchy', method: 'get', status: 200 });
      const rooms = hierarchy.body.rooms as { room_id: string; name?: string; room_type?: string; children_state: unknown[] }[];
      expect(rooms.map((room) => room.room_id)).toEqual([top, sub, shared]);
      expect(rooms[1]).toMatchObject({ name: 'Sub-space on A', room_type: 'm.space', join_rule: 'public' });
      expect(rooms[1].children_state).toHaveLength(2);
      expect(rooms[2]).toMatchObject({ name: 'Shared, renamed', topic: 'Read over federation', join_rule: 'public', children_state: [] });
      // With suggested_only, A is asked for the suggested children only: the closed room is not named.
      const suggested = await call(b.server.url, 'GET', `/_matrix/client/v1/rooms/${q(top)}/hierarchy?suggested_only=true`, { token: carol.token });
      expect((suggested.body.rooms as { room_id: string }[]).map((room) => room.room_id)).toEqual([top, sub, shared]);
      expect((suggested.body.rooms as { children_state: unknown[] }[])[1].children_state).toHaveLength(1);
    });

    it("a client of B reads the summary of a room of A that B does not hold, by id with via and by alias, and not of one A keeps from B", async () => {
      const elsewhere = (await onA('POST', 'createRoom', { preset: 'public_chat', name: 'Only on A', topic: 'summarized by A', room_alias_name: 'only-on-a' })).body.room_id as string;
      const erin = await registerUser(b.server.url, 'erin');
      const summaryOnB = (target: string, query?: Record<string, string>) =>
        call(b.server.url, 'GET', `/_matrix/client/v1/room_summary/${q(target)}`, { token: erin.token, ...(query ? { query } : {}) });
      const byId = await summaryOnB(elsewhere, { via: a.name });
      expect(byId.status).toBe(200);
      assertMatchesSpec(byId.body, { api: 'client-server', file: 'room_summary.yaml', path: '/room_summary/{roomIdOrAlias}', method: 'get', status: 200 });
      expect(byId.body).toMatchObject({ room_id: elsewhere, name: 'Only on A', topic: 'summarized by A', join_rule: 'public', num_joined_members: 1 });
      expect(byId.body).not.toHaveProperty('membership');
      const byAlias = await summaryOnB(`#only-on-a:${a.name}`);
      expect(byAlias.status).toBe(200);
      expect(byAlias.body).toEqual(byId.body);
      // Without a server to ask, and for a room A does not show B: not found.
      expect((await summaryOnB(elsewhere)).status).toBe(404);
      expect(await summaryOnB(closed, { via: a.name })).toMatchObject({ status: 404, body: { errcode: 'M_NOT_FOUND' } });
    });

    it("a client of B reads the profile of A's user from A", async () => {
      const dave = await registerUser(b.server.url, 'dave');
      const onB = (path: string) => call(b.server.url, 'GET', path, { token: dave.token });
      const whole = await onB(`profile/${q(alice.userId)}`);
      expect(whole).toMatchObject({ status: 200, body: { displayname: 'Alice' } });
      assertMatchesSpec(whole.body, { api: 'client-server', file: 'profile.yaml', path: '/profile/{userId}', method: 'get', status: 200 });
      expect(await onB(`profile/${q(alice.userId)}/displayname`)).toMatchObject({ status: 200, body: { displayname: 'Alice' } });
      expect(await onB(`profile/${q(alice.userId)}/avatar_url`)).toMatchObject({ status: 404, body: { errcode: 'M_NOT_FOUND' } });
      expect(await onB(`profile/${q(`@nobody:${a.name}`)}`)).toMatchObject({ status: 404, body: { errcode: 'M_NOT_FOUND' } });
    });

    it('GET /event_auth: the auth chain of the event', async () => {
      const body = await bAsks('GET', `${F}/event_auth/${q(shared)}/${q(afterName)}`);
      assertMatchesSpec(body, { api: 'server-server', file: 'event_auth.yaml', path: '/event_auth/{roomId}/{eventId}', method: 'get', status: 200 });
      const types = (body.auth_chain as Pdu[]).map((p) => p.type).sort();
      expect(types).toEqual(expect.arrayContaining(['m.room.create', 'm.room.member', 'm.room.power_levels']));
    });

    it('GET /backfill: the given event and those before it, at most limit', async () => {
      const body = await bAsks('GET', `${F}/backfill/${q(shared)}?v=${q(afterName)}&limit=3`);
      assertMatchesSpec(body, { api: 'server-server', file: 'backfill.yaml', path: '/backfill/{roomId}', method: 'get', status: 200 });
      expect(body.origin).toBe(a.name);
      const ids = (body.pdus as Pdu[]).map(idOf);
      expect(ids.slice(0, 2)).toEqual([afterName, nameEvent]);
      expect(ids).toHaveLength(3);
      const all = await bAsks('GET', `${F}/backfill/${q(shared)}?v=${q(afterName)}&v=${q(nameEvent)}&limit=1000`);
      expect((all.pdus as Pdu[]).map(idOf)).toContain(beforeJoin);
    });

    it('POST /get_missing_events: the events between earliest and latest, oldest first', async () => {
      const body = await bAsks('POST', `${F}/get_missing_events/${q(shared)}`, { earliest_events: [beforeJoin], latest_events: [afterName], limit: 10 });
      assertMatchesSpec(body, { api: 'server-server', file: 'backfill.yaml', path: '/get_missing_events/{roomId}', method: 'post', status: 200 });
      const events = body.events as Pdu[];
      expect(events.map((p) => p.type)).toEqual(['m.room.member', 'm.room.name']);
      expect(events[0].state_key).toBe(bob);
    });
  });

  describe('what B may not see, or asks wrongly', () => {
    it.each<[string, () => [string, string, unknown?]]>([
      ['/event', () => ['GET', `${F}/event/${q(closedMessage)}`]],
      ['/state', () => ['GET', `${F}/state/${q(closed)}?event_id=${q(closedMessage)}`]],
      ['/state_ids', () => ['GET', `${F}/state_ids/${q(closed)}?event_id=${q(closedMessage)}`]],
      ['/event_auth', () => ['GET', `${F}/event_auth/${q(closed)}/${q(closedMessage)}`]],
      ['/backfill', () => ['GET', `${F}/backfill/${q(closed)}?v=${q(closedMessage)}&limit=5`]],
      ['/get_missing_events', () => ['POST', `${F}/get_missing_events/${q(closed)}`, { earliest_events: [], latest_events: [closedMessage] }]],
    ])('%s of a room where B has no member: 403 M_FORBIDDEN', async (_name, request) => {
      const [method, path, body] = request();
      const response = await signedByB(method, path, body);
      expect(response).toEqual({ status: 403, body: { errcode: 'M_FORBIDDEN', error: expect.any(String) } });
    });

    it('unknown rooms and events, and an event of another room: 404 M_NOT_FOUND (a backfill from them: no events)', async () => {
      const missingEvent = '$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';
      for (const path of [
        `${F}/event/${q(missingEvent)}`,
        `${F}/state_ids/${q(`!nowhere:${a.name}`)}?event_id=${q(afterName)}`,
        `${F}/state_ids/${q(shared)}?event_id=${q(closedMessage)}`,
        `${F}/event_auth/${q(shared)}/${q(missingEvent)}`,
      ]) {
        const response = await signedByB('GET', path);
        expect({ path, ...response }).toEqual({ path, status: 404, body: { errcode: 'M_NOT_FOUND', error: expect.any(String) } });
      }
      // A backfill from events unknown here or of another room answers nothing.
      for (const v of [missingEvent, closedMessage]) {
        const response = await signedByB('GET', `${F}/backfill/${q(shared)}?v=${q(v)}&limit=5`);
        expect(response).toEqual({ status: 200, body: { origin: a.name, origin_server_ts: expect.any(Number), pdus: [] } });
      }
      const stateIds = await signedByB('GET', `${F}/state_ids/${q(shared)}?event_id=${q(missingEvent)}`);
      assertMatchesSpec(stateIds.body, { api: 'server-server', file: 'events.yaml', path: '/state_ids/{roomId}', method: 'get', status: 404 });
    });

    it.each<[string, string, string, unknown?]>([
      ['a malformed event id', 'GET', `${F}/event/not-an-event-id`, undefined],
      ['a malformed room id', 'GET', `${F}/state_ids/nowhere?event_id=%24x%3Ay`, undefined],
      ['no event_id', 'GET', `${F}/state/${q('!r:x.org')}`, undefined],
      ['a repeated event_id', 'GET', `${F}/state/${q('!r:x.org')}?event_id=%24a%3Ax&event_id=%24b%3Ax`, undefined],
      ['a backfill without v', 'GET', `${F}/backfill/${q('!r:x.org')}?limit=1`, undefined],
      ['a backfill limit that is not a number', 'GET', `${F}/backfill/${q('!r:x.org')}?v=%24a%3Ax&limit=many`, undefined],
      ['a negative backfill limit', 'GET', `${F}/backfill/${q('!r:x.org')}?v=%24a%3Ax&limit=-1`, undefined],
      ['missing events as a string', 'POST', `${F}/get_missing_events/${q('!r:x.org')}`, { earliest_events: [], latest_events: '$a:x' }],
      ['missing events without earliest_events', 'POST', `${F}/get_missing_events/${q('!r:x.org')}`, { latest_events: [] }],
      ['a fractional limit', 'POST', `${F}/get_missing_events/${q('!r:x.org')}`, { earliest_events: [], latest_events: [], limit: 1.5 }],
      ['a min_depth past 2^53', 'POST', `${F}/get_missing_events/${q('!r:x.org')}`, { earliest_events: [], latest_events: [], min_depth: 1e300 }],
      ['a malformed alias', 'GET', `${F}/query/directory?room_alias=nope`, undefined],
      ['a malformed user id', 'GET', `${F}/query/profile?user_id=nope`, undefined],
      ['a bad publicRooms token', 'GET', `${F}/publicRooms?since=nonsense`, undefined],
      ['a publicRooms filter of the wrong type', 'POST', `${F}/publicRooms`, { filter: { generic_search_term: 5 } }],
      ['a publicRooms limit past 2^53', 'POST', `${F}/publicRooms`, { limit: 1e300 }],
      ['a publicRooms limit that is not a number', 'GET', `${F}/publicRooms?limit=ten`, undefined],
      ['keys of a malformed user', 'POST', `${F}/user/keys/query`, { device_keys: { nope: [] } }],
      ['a key claim of the wrong shape', 'POST', `${F}/user/keys/claim`, { one_time_keys: { '@a:x.org': ['DEVICE'] } }],
    ])('%s: 400 with a Matrix error', async (_name, method, path, body) => {
      const response = await signedByB(method, path, body);
      expect(response.status).toBe(400);
      expect(response.body).toEqual({ errcode: expect.stringMatching(/^M_(INVALID_PARAM|BAD_JSON|MISSING_PARAM)$/), error: expect.any(String) });
    });

    it('an unsigned request: 401 M_UNAUTHORIZED', async () => {
      const response = await rawRequest(a.port, ca, { path: `${F}/event/${q(afterName)}` });
      expect(response).toEqual({ status: 401, body: { errcode: 'M_UNAUTHORIZED', error: expect.any(String) } });
    });
  });

  describe('queries, the room directory and users', () => {
    it('GET /query/directory: the alias room and the servers in it, A first', async () => {
      const body = await bAsks('GET', `${F}/query/directory?room_alias=${q(`#fedread:${a.name}`)}`);
      assertMatchesSpec(body, { api: 'server-server', file: 'query.yaml', path: '/query/directory', method: 'get', status: 200 });
      expect(body).toEqual({ room_id: shared, servers: [a.name, b.name] });
      const missing = await signedByB('GET', `${F}/query/directory?room_alias=${q(`#nothing:${a.name}`)}`);
      expect(missing).toMatchObject({ status: 404, body: { errcode: 'M_NOT_FOUND' } });
    });

    it('GET /query/profile: a local user profile, or one field', async () => {
      const body = await bAsks('GET', `${F}/query/profile?user_id=${q(alice.userId)}`);
      assertMatchesSpec(body, { api: 'server-server', file: 'query.yaml', path: '/query/profile', method: 'get', status: 200 });
      expect(body).toEqual({ displayname: 'Alice' });
      expect(await bAsks('GET', `${F}/query/profile?user_id=${q(alice.userId)}&field=displayname`)).toEqual({ displayname: 'Alice' });
      const noAvatar = await signedByB('GET', `${F}/query/profile?user_id=${q(alice.userId)}&field=avatar_url`);
      expect(noAvatar).toEqual({ status: 200, body: {} });
      assertMatchesSpec(noAvatar.body, { api: 'server-server', file: 'query.yaml', path: '/query/profile', method: 'get', status: 200 });
      expect(await signedByB('GET', `${F}/query/profile?user_id=${q(`@nobody:${a.name}`)}`)).toMatchObject({ status: 404 });
      expect(await signedByB('GET', `${F}/query/profile?user_id=${q(bob)}`)).toMatchObject({ status: 400, body: { errcode: 'M_INVALID_PARAM' } });
    });

    it('GET and POST /publicRooms: the published rooms with their directory fields', async () => {
      const listed = await bAsks('GET', `${F}/publicRooms?limit=10`);
      assertMatchesSpec(listed, { api: 'server-server', file: 'public_rooms.yaml', path: '/publicRooms', method: 'get', status: 200 });
      expect(listed).toEqual({
        chunk: [
          {
            room_id: shared,
            num_joined_members: 2,
            name: 'Shared, renamed',
            topic: 'Read over federation',
            canonical_alias: `#fedread:${a.name}`,
            world_readable: false,
            guest_can_join: false,
            join_rule: 'public',
          },
        ],
        total_room_count_estimate: 1,
      });
      const found = await bAsks('POST', `${F}/publicRooms`, { limit: 5, filter: { generic_search_term: 'RENAMED' } });
      assertMatchesSpec(found, { api: 'server-server', file: 'public_rooms.yaml', path: '/publicRooms', method: 'post', status: 200 });
      expect(found.chunk).toEqual(listed.chunk);
      expect((await bAsks('POST', `${F}/publicRooms`, { filter: { generic_search_term: 'no such room' } })).chunk).toEqual([]);
      expect((await bAsks('POST', `${F}/publicRooms`, { filter: { room_types: ['m.space'] } })).chunk).toEqual([]);
    });

    it('GET /user/devices and POST /user/keys/query and /claim: the devices with keys, their keys, one-time keys once each', async () => {
      const before = await bAsks('GET', `${F}/user/devices/${q(alice.userId)}`);
      assertMatchesSpec(before, { api: 'server-server', file: 'user_devices.yaml', path: '/user/devices/{userId}', method: 'get', status: 200 });
      expect(before).toEqual({ user_id: alice.userId, stream_id: expect.any(Number), devices: [] });
      expect(await signedByB('GET', `${F}/user/devices/${q(`@nobody:${a.name}`)}`)).toMatchObject({ status: 404, body: { errcode: 'M_NOT_FOUND' } });
      const deviceKeys = {
        user_id: alice.userId,
        device_id: alice.deviceId,
        algorithms: ['m.olm.v1.curve25519-aes-sha2'],
        keys: { [`curve25519:${alice.deviceId}`]: 'curve', [`ed25519:${alice.deviceId}`]: 'ed' },
        signatures: { [alice.userId]: { [`ed25519:${alice.deviceId}`]: 'sig' } },
      };
      const oneTimeKey = { key: 'otk', signatures: { [alice.userId]: { [`ed25519:${alice.deviceId}`]: 'sig' } } };
      expect((await onA('POST', 'keys/upload', { device_keys: deviceKeys, one_time_keys: { 'signed_curve25519:A1': oneTimeKey } })).status).toBe(200);
      const devices = await bAsks('GET', `${F}/user/devices/${q(alice.userId)}`);
      assertMatchesSpec(devices, { api: 'server-server', file: 'user_devices.yaml', path: '/user/devices/{userId}', method: 'get', status: 200 });
      expect(devices.devices).toEqual([{ device_id: alice.deviceId, keys: deviceKeys }]);
      expect(devices.stream_id as number).toBeGreaterThan(before.stream_id as number);
      const keys = await bAsks('POST', `${F}/user/keys/query`, { device_keys: { [alice.userId]: [], [`@nobody:${a.name}`]: [] } });
      assertMatchesSpec(keys, { api: 'server-server', file: 'user_keys.yaml', path: '/user/keys/query', method: 'post', status: 200 });
      expect(keys).toEqual({ device_keys: { [alice.userId]: { [alice.deviceId]: { ...deviceKeys, unsigned: {} } } }, master_keys: {}, self_signing_keys: {} });
      const claim = { one_time_keys: { [alice.userId]: { [alice.deviceId]: 'signed_curve25519' } } };
      const claimed = await bAsks('POST', `${F}/user/keys/claim`, claim);
      assertMatchesSpec(claimed, { api: 'server-server', file: 'user_keys.yaml', path: '/user/keys/claim', method: 'post', status: 200 });
      expect(claimed).toEqual({ one_time_keys: { [alice.userId]: { [alice.deviceId]: { 'signed_curve25519:A1': oneTimeKey } } } });
      expect(await bAsks('POST', `${F}/user/keys/claim`, claim)).toEqual({ one_time_keys: {} });
    });

    it('OpenID: a token requested on the client API is exchanged for its user, without a signature', async () => {
      const issued = await onA('POST', `user/${q(alice.userId)}/openid/request_token`, {});
      expect(issued.status).toBe(200);
      assertMatchesSpec(issued.body, { api: 'client-server', file: 'openid.yaml', path: '/user/{userId}/openid/request_token', method: 'post', status: 200 });
      expect(issued.body).toMatchObject({ token_type: 'Bearer', matrix_server_name: a.name, expires_in: 3600 });
      const path = `${F}/openid/userinfo?access_token=${q(issued.body.access_token as string)}`;
      const info = await rawRequest(a.port, ca, { path });
      expect(info).toEqual({ status: 200, body: { sub: alice.userId } });
      assertMatchesSpec(info.body, { api: 'server-server', file: 'openid.yaml', path: '/openid/userinfo', method: 'get', status: 200 });
      const unknown = await rawRequest(a.port, ca, { path: `${F}/openid/userinfo?access_token=nope` });
      expect(unknown).toEqual({ status: 401, body: { errcode: 'M_UNKNOWN_TOKEN', error: expect.any(String) } });
      assertMatchesSpec(unknown.body, { api: 'server-server', file: 'openid.yaml', path: '/openid/userinfo', method: 'get', status: 401 });
      const other = await registerUser(a.server.url, 'mallory');
      const forbidden = await call(a.server.url, 'POST', `user/${q(alice.userId)}/openid/request_token`, { token: other.token, body: {} });
      expect(forbidden).toMatchObject({ status: 403, body: { errcode: 'M_FORBIDDEN' } });
    });
  });
});
