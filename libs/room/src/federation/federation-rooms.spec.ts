import { eventTemplate, signNewEvent, signingKeyFromSeed, stateKey, type BuiltEvent, type JsonObject, type KeyUse, type Pdu, type RoomEvent, type SigningKey, type VerifyKeyRecord } from '@hs/protocol';
import { ALICE, SERVER_NAME, useRoomTestBed } from '../../test/harness';
import { CreateRoom } from '../commands/create-room/command';
import { SendRoomEvent } from '../commands/send-room-event/command';
import { FederationRooms } from './federation-rooms';
import type { RemoteRequest, RemoteServers } from './remote';

const REMOTE = 'remote.example.net';
const REMOTE_KEY = signingKeyFromSeed(new Uint8Array(32).fill(5), 'ed25519:k');
const ROB = `@rob:${REMOTE}`;

/**
 * Another server, in memory: the events it built, its key, and the federation endpoints the
 * receiving side calls (get_missing_events, state), answering from what it holds.
 */
class FakeRemote implements RemoteServers {
  readonly events = new Map<string, BuiltEvent>();
  readonly requests: string[] = [];
  /** Most events get_missing_events answers. */
  missingLimit = 10;
  /** /state_ids answers 404. */
  stateIdsFail = false;
  /** The events of the last state_ids answer, by id (for /event). */
  byId = new Map<string, Pdu>();
  /** The answer of GET /state for an event. */
  stateOf: (eventId: string) => { pdus: Pdu[]; auth_chain: Pdu[]; pdu_ids?: string[]; auth_chain_ids?: string[] } = () => ({ pdus: [], auth_chain: [] });

  /** The keys it knows: its own, and the receiving server's (whose events a state answer carries). */
  readonly keys = new Map<string, SigningKey>([[REMOTE, REMOTE_KEY]]);

  async verifyKey(serverName: string, keyId: string, _use: KeyUse): Promise<VerifyKeyRecord | null> {
    const key = this.keys.get(serverName);
    if (!key || key.keyId !== keyId) return null;
    return { serverName, keyId, key: key.publicKeyBase64, validUntilTs: Number.MAX_SAFE_INTEGER, expiredTs: null };
  }

  async request(_destination: string, request: RemoteRequest): Promise<{ status: number; body: Record<string, unknown> }> {
    this.requests.push(`${request.method} ${request.path.split('?')[0].split('/').slice(0, 5).join('/')}`);
    if (request.path.includes('/get_missing_events/')) {
      const body = request.body as { earliest_events: string[]; latest_events: string[]; limit: number };
      const earliest = new Set(body.earliest_events);
      const found: BuiltEvent[] = [];
      let frontier = body.latest_events.flatMap((id) => this.events.get(id)?.event.prev_events ?? []);
      while (frontier.length > 0 && found.length < Math.min(body.limit, this.missingLimit)) {
        const next: string[] = [];
        for (const id of frontier) {
          const event = this.events.get(id);
          if (!event || earliest.has(id) || found.includes(event)) continue;
          found.push(event);
          next.push(...event.event.prev_events);
        }
        frontier = next;
      }
      return { status: 200, body: { events: found.slice(0, this.missingLimit).map((e) => e.pdu) } };
    }
    if (request.path.includes('/state_ids/') && this.stateIdsFail) throw Object.assign(new Error('HTTP 404'), { status: 404 });
    if (request.path.includes('/state_ids/')) {
      const eventId = decodeURIComponent(request.path.split('event_id=')[1] ?? '');
      const { pdus, auth_chain, pdu_ids = [], auth_chain_ids = [] } = this.stateOf(eventId);
      this.byId = new Map([...pdu_ids.map((id, i) => [id, pdus[i]] as const), ...auth_chain_ids.map((id, i) => [id, auth_chain[i]] as const)]);
      return { status: 200, body: { pdu_ids, auth_chain_ids } };
    }
    if (request.path.includes('/event/')) {
      const eventId = decodeURIComponent(request.path.split('/event/')[1] ?? '');
      const pdu = this.events.get(eventId)?.pdu ?? this.byId.get(eventId);
      if (!pdu) throw Object.assign(new Error('HTTP 404'), { status: 404 });
      return { status: 200, body: { pdus: [pdu] } };
    }
    if (request.path.includes('/state/')) {
      const eventId = decodeURIComponent(request.path.split('event_id=')[1] ?? '');
      return { status: 200, body: { ...this.stateOf(eventId) } };
    }
    throw new Error(`unexpected request ${request.method} ${request.path}`);
  }
}

describe('FederationRooms: placing what another server sends', () => {
  const bed = useRoomTestBed();
  const remote = new FakeRemote();
  let rooms: FederationRooms;
  let roomId: string;
  let clock = 1_900_000_000_000;
  let txn = 0;

  /** An event of the remote server on top of `prev` (or the room's current extremities), auth events from the current state. */
  async function remoteEvent(input: { type: string; stateKey?: string; content: JsonObject; prev?: RoomEvent }): Promise<BuiltEvent> {
    const snapshot = (await bed.writer.reader.snapshot(roomId))!;
    const state = new Map([...snapshot.state].map(([k, e]) => [k, e.event_id]));
    const prevEvents = input.prev ? [{ eventId: input.prev.event_id, depth: input.prev.depth }] : snapshot.extremities;
    const template = eventTemplate({
      roomVersion: snapshot.rules,
      roomId,
      sender: ROB,
      type: input.type,
      stateKey: input.stateKey,
      content: input.content,
      prevEvents,
      state,
      originServerTs: clock++,
    });
    const built = signNewEvent(template, snapshot.rules, REMOTE, REMOTE_KEY);
    remote.events.set(built.event.event_id, built);
    return built;
  }

  /** A chain of `count` remote messages on top of `after`. */
  async function chain(after: RoomEvent, count: number, label: string): Promise<BuiltEvent[]> {
    const built: BuiltEvent[] = [];
    let prev = after;
    for (let i = 0; i < count; i++) {
      const next = await remoteEvent({ type: 'm.room.message', content: { body: `${label} ${i}` }, prev });
      built.push(next);
      prev = next.event;
    }
    return built;
  }

  const send = (pdus: Pdu[]) => rooms.receiveTransaction(REMOTE, `t${++txn}`, { origin: REMOTE, origin_server_ts: clock, pdus });

  beforeAll(async () => {
    remote.keys.set(SERVER_NAME, bed.signingKey);
    rooms = new FederationRooms(bed.writer, remote, bed.signingKey);
    ({ roomId } = await bed.run(new CreateRoom(ALICE, { preset: 'public_chat' })));
    const join = await remoteEvent({ type: 'm.room.member', stateKey: ROB, content: { membership: 'join' } });
    expect(await send([join.pdu])).toEqual({ pdus: { [join.event.event_id]: {} } });
  });

  it('fetches missing prev events with get_missing_events, and places them before the event', async () => {
    const join = (await bed.writer.reader.snapshot(roomId))!.extremities[0].event;
    const [first, second, third] = await chain(join, 3, 'gap');
    remote.requests.length = 0;
    expect(await send([third.pdu])).toEqual({ pdus: { [third.event.event_id]: {} } });
    expect(remote.requests).toEqual([`POST /_matrix/federation/v1/get_missing_events`]);
    for (const event of [first, second, third]) {
      const stored = await bed.writer.reader.event(event.event.event_id);
      expect(stored).toMatchObject({ outlier: false, rejected: false, softFailed: false });
    }
    expect((await bed.writer.reader.snapshot(roomId))!.extremities.map((x) => x.eventId)).toEqual([third.event.event_id]);
  });

  it('a gap wider than get_missing_events closes with the state before the event, fetched from its server', async () => {
    const { eventId: local } = await bed.run(new SendRoomEvent(ALICE, roomId, 'm.room.message', { body: 'meanwhile here' }));
    const tip = (await bed.writer.reader.event(local))!.event;
    const long = await chain(tip, 25, 'long');
    const last = long[long.length - 1];
    // The state before the last event is the room's current state (only messages since).
    const stateIds = (await bed.writer.reader.currentStateEntries(roomId)).map((e) => e.event_id);
    const chainIds = await bed.writer.reader.authChain(stateIds);
    const wire = async (ids: string[]) => (await bed.writer.reader.wireEvents(ids)).map((e) => e.pdu);
    const statePdus = await wire(stateIds);
    const chainPdus = await wire(chainIds);
    remote.stateOf = (eventId) =>
      eventId === last.event.event_id ? { pdus: statePdus, auth_chain: chainPdus, pdu_ids: stateIds, auth_chain_ids: chainIds } : { pdus: [], auth_chain: [] };
    remote.requests.length = 0;
    expect(await send([last.pdu])).toEqual({ pdus: { [last.event.event_id]: {} } });
    // The state's ids, all of them held here: nothing else to fetch.
    expect(remote.requests).toEqual([`POST /_matrix/federation/v1/get_missing_events`, `GET /_matrix/federation/v1/state_ids`]);
    const stored = await bed.writer.reader.event(last.event.event_id);
    expect(stored).toMatchObject({ outlier: false, rejected: false, softFailed: false });
    expect(stored!.stateGroup).toBeDefined();
    // The events in the gap are not held; the event is an extremity of the room.
    expect(await bed.writer.reader.event(long[0].event.event_id)).toBeUndefined();
    expect((await bed.writer.reader.snapshot(roomId))!.extremities.map((x) => x.eventId)).toContain(last.event.event_id);
  });

  it('fetches the state events it lacks one by one (/event) after /state_ids, and asks for the whole state when /state_ids fails', async () => {
    const { eventId: local } = await bed.run(new SendRoomEvent(ALICE, roomId, 'm.room.message', { body: 'before the rename' }));
    const renamed = await remoteEvent({ type: 'm.room.member', stateKey: ROB, content: { membership: 'join', displayname: 'Rob B' }, prev: (await bed.writer.reader.event(local))!.event });
    const long = await chain(renamed.event, 25, 'after rename');
    const last = long[long.length - 1];
    const current = await bed.writer.reader.currentStateEntries(roomId);
    const stateIds = current.map((e) => (e.type === 'm.room.member' && e.state_key === ROB ? renamed.event.event_id : e.event_id));
    const chainIds = await bed.writer.reader.authChain(current.map((e) => e.event_id));
    const wire = async (ids: string[]) => (await bed.writer.reader.wireEvents(ids)).map((e) => e.pdu);
    const statePdus = [...(await wire(stateIds.filter((id) => id !== renamed.event.event_id))), renamed.pdu];
    const stateOrder = [...stateIds.filter((id) => id !== renamed.event.event_id), renamed.event.event_id];
    const chainPdus = await wire(chainIds);
    remote.stateOf = (eventId) =>
      eventId === last.event.event_id ? { pdus: statePdus, auth_chain: chainPdus, pdu_ids: stateOrder, auth_chain_ids: chainIds } : { pdus: [], auth_chain: [] };
    remote.requests.length = 0;
    expect(await send([last.pdu])).toEqual({ pdus: { [last.event.event_id]: {} } });
    expect(remote.requests).toEqual([`POST /_matrix/federation/v1/get_missing_events`, `GET /_matrix/federation/v1/state_ids`, `GET /_matrix/federation/v1/event`]);
    const stored = await bed.writer.reader.event(last.event.event_id);
    expect((await bed.writer.reader.stateGroupMap(stored!.stateGroup!)).get(stateKey('m.room.member', ROB))).toBe(renamed.event.event_id);

    // The same gap where /state_ids is not answered: the whole state.
    const more = await chain(last.event, 25, 'no ids');
    const tip = more[more.length - 1];
    remote.stateIdsFail = true;
    remote.stateOf = (eventId) => (eventId === tip.event.event_id ? { pdus: statePdus, auth_chain: chainPdus } : { pdus: [], auth_chain: [] });
    remote.requests.length = 0;
    remote.missingLimit = 0;
    expect(await send([tip.pdu])).toEqual({ pdus: { [tip.event.event_id]: {} } });
    expect(remote.requests).toEqual([`POST /_matrix/federation/v1/get_missing_events`, `GET /_matrix/federation/v1/state_ids`, `GET /_matrix/federation/v1/state`]);
    remote.stateIdsFail = false;
    remote.missingLimit = 10;
  });

  it('answers a transaction id it already received with the first result, placing nothing again', async () => {
    const tip = (await bed.writer.reader.snapshot(roomId))!.extremities[0].event;
    const [message] = await chain(tip, 1, 'once');
    const body = { origin: REMOTE, origin_server_ts: clock, pdus: [message.pdu] };
    const first = await rooms.receiveTransaction(REMOTE, 'same-txn', body);
    const length = (await bed.stream(roomId)).length;
    expect(await rooms.receiveTransaction(REMOTE, 'same-txn', body)).toEqual(first);
    expect(await bed.stream(roomId)).toHaveLength(length);
  });

  it('refuses malformed transactions with M_BAD_JSON', () => {
    expect(() => rooms.receiveTransaction(REMOTE, 'bad1', { pdus: 'no' })).toThrow(expect.objectContaining({ errcode: 'M_BAD_JSON' }));
    expect(() => rooms.receiveTransaction(REMOTE, 'bad2', { pdus: new Array(51).fill({}) })).toThrow(expect.objectContaining({ errcode: 'M_BAD_JSON' }));
    expect(() => rooms.receiveTransaction(REMOTE, 'bad3', [])).toThrow(expect.objectContaining({ errcode: 'M_BAD_JSON' }));
  });
});
