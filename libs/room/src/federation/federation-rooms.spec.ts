import { eventTemplate, signNewEvent, signingKeyFromSeed, stateKey, type BuiltEvent, type JsonObject, type KeyUse, type Pdu, type RoomEvent, type SigningKey, type StateKey, type VerifyKeyRecord } from '@hs/protocol';
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
  /** What GET /backfill answers. */
  backfillPdus: Pdu[] = [];
  /** Events it answers 404 for (/event, /state_ids and /state at them). */
  readonly unknown = new Set<string>();
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
    if (request.path.includes('/backfill/')) return { status: 200, body: { origin: REMOTE, pdus: this.backfillPdus } };
    if (request.path.includes('/state_ids/') && this.stateIdsFail) throw Object.assign(new Error('HTTP 404'), { status: 404 });
    const asked = decodeURIComponent(request.path.split(/event_id=|\/event\//)[1] ?? '');
    if (this.unknown.has(asked)) throw Object.assign(new Error('HTTP 404 M_NOT_FOUND'), { status: 404, answer: { errcode: 'M_NOT_FOUND' } });
    if (request.path.includes('/state_ids/')) {
      const eventId = decodeURIComponent(request.path.split('event_id=')[1] ?? '');
      const { pdus, auth_chain, pdu_ids = [], auth_chain_ids = [] } = this.stateOf(eventId);
      this.byId = new Map([...this.byId,...pdu_ids.map((id, i) => [id, pdus[i]] as const), ...auth_chain_ids.map((id, i) => [id, auth_chain[i]] as const)]);
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
  async function remoteEvent(input: {
    type: string;
    stateKey?: string;
    content: JsonObject;
    prev?: RoomEvent;
    prevs?: RoomEvent[];
    sender?: string;
    /** Auth events chosen from this state instead of the room's current state. */
    state?: Map<StateKey, string>;
  }): Promise<BuiltEvent> {
    const snapshot = (await bed.writer.reader.snapshot(roomId))!;
    const state = input.state ?? new Map([...snapshot.state].map(([k, e]) => [k, e.event_id]));
    const prevs = input.prevs ?? (input.prev ? [input.prev] : undefined);
    const prevEvents = prevs ? prevs.map((p) => ({ eventId: p.event_id, depth: p.depth })) : snapshot.extremities;
    const template = eventTemplate({
      roomVersion: snapshot.rules,
      roomId,
      sender: input.sender ?? ROB,
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

  /** The room's current state as ids, and the wire forms of those events and of their auth chain. */
  async function currentStateAnswer(replace: Map<StateKey, BuiltEvent> = new Map()) {
    const current = await bed.writer.reader.currentStateEntries(roomId);
    const held = current.filter((e) => !replace.has(stateKey(e.type, e.state_key)));
    const chainIds = await bed.writer.reader.authChain(current.map((e) => e.event_id));
    const wire = async (ids: string[]) => (await bed.writer.reader.wireEvents(ids)).map((e) => e.pdu);
    const heldIds = held.map((e) => e.event_id);
    return {
      pdus: [...(await wire(heldIds)), ...[...replace.values()].map((b) => b.pdu)],
      auth_chain: await wire(chainIds),
      pdu_ids: [...heldIds, ...[...replace.values()].map((b) => b.event.event_id)],
      auth_chain_ids: chainIds,
    };
  }

  const extremities = async () => (await bed.writer.reader.snapshot(roomId))!.extremities.map((x) => x.eventId).sort();

  /** Gives Rob power level 50: he may send state events, but not raise anyone to 100. */
  async function empowerRob(): Promise<void> {
    const power = (await bed.writer.reader.stateEvent(roomId, 'm.room.power_levels', ''))!.content;
    const users = { ...(power.users as JsonObject), [ROB]: 50 };
    await bed.run(new SendRoomEvent(ALICE, roomId, 'm.room.power_levels', { ...power, users }, { stateKey: '' }));
  }

  it('a gap wider than get_missing_events: the oldest event fetched is placed on the state after its missing prev event, asked of its server', async () => {
    const { eventId: local } = await bed.run(new SendRoomEvent(ALICE, roomId, 'm.room.message', { body: 'meanwhile here' }));
    const tip = (await bed.writer.reader.event(local))!.event;
    const long = await chain(tip, 25, 'long');
    const last = long[long.length - 1];
    // get_missing_events gives the newest 10 (long[14] to long[23]): long[13] is missing.
    const answer = await currentStateAnswer();
    remote.stateOf = (eventId) => (eventId === long[13].event.event_id ? answer : { pdus: [], auth_chain: [] });
    remote.requests.length = 0;
    expect(await send([last.pdu])).toEqual({ pdus: { [last.event.event_id]: {} } });
    // The state's ids, all of them held here: only the prev event itself is fetched.
    expect(remote.requests).toEqual([`POST /_matrix/federation/v1/get_missing_events`, `GET /_matrix/federation/v1/state_ids`, `GET /_matrix/federation/v1/event`]);
    expect(await bed.writer.reader.event(long[13].event.event_id)).toMatchObject({ outlier: true, rejected: false });
    for (const event of [long[14], last]) {
      const stored = await bed.writer.reader.event(event.event.event_id);
      expect(stored).toMatchObject({ outlier: false, rejected: false, softFailed: false });
      expect(stored!.stateGroup).toBeDefined();
    }
    // The events further back are not held; the event is an extremity of the room.
    expect(await bed.writer.reader.event(long[0].event.event_id)).toBeUndefined();
    expect(await extremities()).toContain(last.event.event_id);
  });

  it('fetches the state events it lacks one by one (/event) after /state_ids, and asks for the whole state when /state_ids fails', async () => {
    const { eventId: local } = await bed.run(new SendRoomEvent(ALICE, roomId, 'm.room.message', { body: 'before the rename' }));
    const renamed = await remoteEvent({ type: 'm.room.member', stateKey: ROB, content: { membership: 'join', displayname: 'Rob B' }, prev: (await bed.writer.reader.event(local))!.event });
    const long = await chain(renamed.event, 25, 'after rename');
    const last = long[long.length - 1];
    const answer = await currentStateAnswer(new Map([[stateKey('m.room.member', ROB), renamed]]));
    remote.stateOf = (eventId) => (eventId === long[13].event.event_id ? answer : { pdus: [], auth_chain: [] });
    remote.requests.length = 0;
    expect(await send([last.pdu])).toEqual({ pdus: { [last.event.event_id]: {} } });
    // The renamed member event (in the state), then the prev event.
    expect(remote.requests).toEqual([
      `POST /_matrix/federation/v1/get_missing_events`,
      `GET /_matrix/federation/v1/state_ids`,
      `GET /_matrix/federation/v1/event`,
      `GET /_matrix/federation/v1/event`,
    ]);
    const stored = await bed.writer.reader.event(last.event.event_id);
    expect((await bed.writer.reader.stateGroupMap(stored!.stateGroup!)).get(stateKey('m.room.member', ROB))).toBe(renamed.event.event_id);
    expect(await bed.writer.reader.event(renamed.event.event_id)).toMatchObject({ outlier: true, rejected: false });

    // The same gap where /state_ids is not answered: the whole state at the missing prev event.
    const more = await chain(last.event, 25, 'no ids');
    const tip = more[more.length - 1];
    remote.stateIdsFail = true;
    remote.stateOf = (eventId) => (eventId === more[13].event.event_id ? answer : { pdus: [], auth_chain: [] });
    remote.requests.length = 0;
    expect(await send([tip.pdu])).toEqual({ pdus: { [tip.event.event_id]: {} } });
    expect(remote.requests).toEqual([
      `POST /_matrix/federation/v1/get_missing_events`,
      `GET /_matrix/federation/v1/state_ids`,
      `GET /_matrix/federation/v1/state`,
      `GET /_matrix/federation/v1/event`,
    ]);
    expect(await bed.writer.reader.event(tip.event.event_id)).toMatchObject({ outlier: false, rejected: false });
    remote.stateIdsFail = false;
  });

  it('resolves the state after a held prev event with the state after a missing one (its state events checked, a forged one left out)', async () => {
    await empowerRob();
    const tip = (await bed.writer.reader.event((await extremities())[0]))!.event;
    // B is sent; Y (a state event after tip) is not; X names both; C, sent, names B and X.
    // The state before Y as the remote tells it: with T, which we never saw, and a power levels
    // event S that Rob (level 0) may not send, which gives him everything.
    const t = await remoteEvent({ type: 'test_state', stateKey: 'T', content: { body: 't' }, prev: tip });
    const powerBefore = await bed.writer.reader.currentStateEntry(roomId, 'm.room.power_levels', '');
    const forged = await remoteEvent({ type: 'm.room.power_levels', stateKey: '', content: { users: { [ROB]: 100 } }, prev: tip });
    const answer = await currentStateAnswer(new Map([[stateKey('test_state', 'T'), t], [stateKey('m.room.power_levels', ''), forged]]));
    const b = await remoteEvent({ type: 'test_state', stateKey: 'B', content: { body: 'b' }, prev: tip });
    expect(await send([b.pdu])).toEqual({ pdus: { [b.event.event_id]: {} } });
    const y = await remoteEvent({ type: 'test_state', stateKey: 'Y', content: { body: 'y' }, prev: tip });
    const x = await remoteEvent({ type: 'm.room.message', content: { body: 'x' }, prevs: [b.event, y.event] });
    const c = await remoteEvent({ type: 'm.room.message', content: { body: 'c' }, prevs: [b.event, x.event] });
    remote.stateOf = (eventId) => (eventId === y.event.event_id ? answer : { pdus: [], auth_chain: [] });
    remote.missingLimit = 1;
    remote.requests.length = 0;
    try {
      expect(await send([c.pdu])).toEqual({ pdus: { [c.event.event_id]: {} } });
    } finally {
      remote.missingLimit = 10;
    }
    expect(remote.requests.slice(0, 2)).toEqual([`POST /_matrix/federation/v1/get_missing_events`, `GET /_matrix/federation/v1/state_ids`]);
    expect(await bed.writer.reader.event(forged.event.event_id)).toMatchObject({ rejected: true });
    expect(await bed.writer.reader.event(y.event.event_id)).toMatchObject({ outlier: true, rejected: false });
    const stateAtX = await bed.writer.reader.stateGroupMap((await bed.writer.reader.event(x.event.event_id))!.stateGroup!);
    expect(stateAtX.get(stateKey('test_state', 'B'))).toBe(b.event.event_id);
    expect(stateAtX.get(stateKey('test_state', 'Y'))).toBe(y.event.event_id);
    expect(stateAtX.get(stateKey('test_state', 'T'))).toBe(t.event.event_id);
    expect(stateAtX.get(stateKey('m.room.power_levels', ''))).toBe(powerBefore!.event_id);
    // The room's state after C: the same.
    expect((await bed.writer.reader.currentStateEntry(roomId, 'test_state', 'Y'))?.event_id).toBe(y.event.event_id);
    expect((await bed.writer.reader.currentStateEntry(roomId, 'm.room.power_levels', ''))?.event_id).toBe(powerBefore!.event_id);
    expect(await extremities()).toEqual([c.event.event_id]);
  });

  it('refuses a sent event whose prev events its server does not give, without asking for any state', async () => {
    const before = await extremities();
    const [hidden, shown] = await chain((await bed.writer.reader.event(before[0]))!.event, 2, 'hidden');
    remote.events.delete(hidden.event.event_id);
    remote.requests.length = 0;
    const result = await send([shown.pdu]);
    expect(result.pdus[shown.event.event_id]).toEqual({ error: expect.stringContaining(hidden.event.event_id) });
    expect(remote.requests).toEqual([`POST /_matrix/federation/v1/get_missing_events`]);
    expect(await bed.writer.reader.event(shown.event.event_id)).toBeUndefined();
    expect(await extremities()).toEqual(before);
  });

  it('leaves out a fetched event whose missing prev event its server answers 404 for, and refuses the sent event', async () => {
    const before = await extremities();
    const [gone, fetched, sent] = await chain((await bed.writer.reader.event(before[0]))!.event, 3, '404');
    remote.unknown.add(gone.event.event_id);
    remote.missingLimit = 1;
    remote.requests.length = 0;
    try {
      const result = await send([sent.pdu]);
      expect(result.pdus[sent.event.event_id]).toEqual({ error: expect.stringContaining(fetched.event.event_id) });
    } finally {
      remote.missingLimit = 10;
      remote.unknown.delete(gone.event.event_id);
    }
    expect(remote.requests).toEqual([`POST /_matrix/federation/v1/get_missing_events`, `GET /_matrix/federation/v1/state_ids`, `GET /_matrix/federation/v1/state`]);
    for (const event of [gone, fetched, sent]) expect(await bed.writer.reader.event(event.event.event_id)).toBeUndefined();
    expect(await extremities()).toEqual(before);
  });

  it('keeps the forward extremities when the events after them arrive as outliers and rejected events', async () => {
    const before = await extremities();
    const tip = (await bed.writer.reader.event(before[0]))!.event;
    const stranger = `@stranger:${REMOTE}`;
    // C (a state event of Rob) is an outlier; D and E, of a user not in the room, are rejected.
    const c = await remoteEvent({ type: 'test_state', stateKey: 'C', content: { body: 'c' }, prev: tip });
    const d = await remoteEvent({ type: 'm.room.message', content: { body: 'd' }, prev: c.event, sender: stranger });
    const e = await remoteEvent({ type: 'm.room.message', content: { body: 'e' }, prev: d.event, sender: stranger });
    const answer = await currentStateAnswer();
    remote.stateOf = (eventId) => (eventId === c.event.event_id ? answer : { pdus: [], auth_chain: [] });
    remote.missingLimit = 1;
    try {
      expect(await send([e.pdu])).toEqual({ pdus: { [e.event.event_id]: {} } });
    } finally {
      remote.missingLimit = 10;
    }
    expect(await bed.writer.reader.event(c.event.event_id)).toMatchObject({ outlier: true, rejected: false });
    expect(await bed.writer.reader.event(d.event.event_id)).toMatchObject({ rejected: true });
    expect(await bed.writer.reader.event(e.event.event_id)).toMatchObject({ rejected: true });
    expect(await extremities()).toEqual(before);
    expect(await bed.writer.reader.currentStateEntry(roomId, 'test_state', 'C')).toBeUndefined();
  });

  it('rejects an event (an outlier too) whose auth events belong to another room', async () => {
    const { roomId: other } = await bed.run(new CreateRoom(ALICE, { preset: 'public_chat' }));
    const otherState = new Map((await bed.writer.reader.currentStateEntries(other)).map((e) => [stateKey(e.type, e.state_key), e.event_id] as const));
    const here = new Map((await bed.writer.reader.currentStateEntries(roomId)).map((e) => [stateKey(e.type, e.state_key), e.event_id] as const));
    // Alice's membership of the other room stands in for hers here.
    const mixed = new Map(here).set(stateKey('m.room.member', ALICE), otherState.get(stateKey('m.room.member', ALICE))!);
    const event = await remoteEvent({ type: 'test_state', stateKey: 'foreign', content: {}, sender: ALICE, state: mixed });
    const signed = signNewEvent(event.pdu, (await bed.writer.reader.room(roomId))!.roomVersion, SERVER_NAME, bed.signingKey);
    const [result] = await bed.writer.ingest(roomId, [{ event: signed.event, pdu: signed.pdu, outlier: true }]);
    expect(result).toMatchObject({ outcome: 'rejected', reason: expect.stringContaining('another room') });
  });

  it('backfills events whose prev events are not held on the state after those, never on the state of another room', async () => {
    const { roomId: other } = await bed.run(new CreateRoom(ALICE, { preset: 'public_chat' }));
    const p = (await bed.writer.reader.snapshot(other))!.extremities[0].event;
    const tip = (await bed.writer.reader.event((await extremities())[0]))!.event;
    // Q names an event of the other room; X names an event M that is not held.
    const q = await remoteEvent({ type: 'm.room.message', content: { body: 'q' }, prevs: [p] });
    const [m, x] = await chain(tip, 2, 'history');
    const answer = await currentStateAnswer();
    remote.stateOf = (eventId) => (eventId === m.event.event_id ? answer : { pdus: [], auth_chain: [] });
    remote.unknown.add(p.event_id);
    remote.backfillPdus = [q.pdu, x.pdu];
    remote.requests.length = 0;
    try {
      expect(await rooms.backfill(roomId, 10)).toBe(1);
    } finally {
      remote.unknown.delete(p.event_id);
      remote.backfillPdus = [];
    }
    expect(remote.requests.filter((r) => r.includes('/state_ids'))).toHaveLength(2);
    expect(await bed.writer.reader.event(q.event.event_id)).toBeUndefined();
    expect(await bed.writer.reader.event(x.event.event_id)).toMatchObject({ outlier: false, rejected: false });
    expect(await bed.writer.reader.event(m.event.event_id)).toMatchObject({ outlier: true });
  });

  it('backfills an event held as an outlier like a new one: on the state at its missing prev event, and leaves out what is built on one left out', async () => {
    const tip = (await bed.writer.reader.event((await extremities())[0]))!.event;
    const [o1, o2, o3] = await chain(tip, 3, 'outliers');
    await bed.writer.ingest(roomId, [o1, o2].map((b) => ({ event: b.event, pdu: b.pdu, outlier: true })));
    remote.backfillPdus = [o3.pdu, o2.pdu];
    remote.unknown.add(o1.event.event_id);
    remote.requests.length = 0;
    try {
      expect(await rooms.backfill(roomId, 10)).toBe(0);
      // One attempt at the state for o2; o3, built on it, is left out without another.
      expect(remote.requests.filter((r) => !r.includes('/backfill'))).toEqual([`GET /_matrix/federation/v1/state_ids`, `GET /_matrix/federation/v1/state`]);
      expect(await bed.writer.reader.event(o3.event.event_id)).toBeUndefined();
      remote.unknown.delete(o1.event.event_id);
      const answer = await currentStateAnswer();
      remote.stateOf = (eventId) => (eventId === o1.event.event_id ? answer : { pdus: [], auth_chain: [] });
      expect(await rooms.backfill(roomId, 10)).toBe(2);
    } finally {
      remote.unknown.delete(o1.event.event_id);
      remote.backfillPdus = [];
    }
    expect(await bed.writer.reader.event(o2.event.event_id)).toMatchObject({ outlier: false, rejected: false });
    expect(await bed.writer.reader.event(o3.event.event_id)).toMatchObject({ outlier: false, rejected: false });
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
