import { checkAuth, checkAuthAgainstAuthEvents, authEventLookup } from '../auth/check-auth';
import { generateSigningKey } from '../crypto/ed25519';
import { canonicalJsonByteLength } from '../json/canonical-json';
import { computeEventId, verifyContentHash } from '../events/hashes';
import { verifyEventSignature } from '../events/signing';
import { type EventHashes, type JsonObject, type Pdu, type RoomEvent, stateKey, type StateKey } from '../events/types';
import { roomVersion } from '../room-versions';
import {
  buildCreateEvent,
  buildEvent,
  BuildEventError,
  choosePrevEvents,
  MAX_DEPTH,
  MAX_PREV_EVENTS,
  nextDepth,
  referenceHashOf,
} from './build-event';

const ALL_VERSIONS = ['1', '2', '3', '4', '5', '6', '7', '8', '9', '10', '11', '12'];
const keyA = generateSigningKey('a1');
const keyB = generateSigningKey('b1');
const SERVERS: Record<string, typeof keyA> = { 'a.test': keyA, 'b.test': keyB };
const ALICE = '@alice:a.test';
const BOB = '@bob:b.test';

/** A room grown with buildEvent, keeping state, extremities and reference hashes like a server would. */
class BuiltRoom {
  readonly events = new Map<string, { pdu: Pdu; event: RoomEvent }>();
  readonly state = new Map<StateKey, string>();
  latest: RoomEvent;
  ts = 1_700_000_000_000;

  constructor(readonly version: string, content: JsonObject = {}) {
    const built = buildCreateEvent({ roomVersion: version, sender: ALICE, content, originServerTs: this.ts, origin: 'a.test', signingKey: keyA });
    this.latest = built.event;
    this.record(built);
  }

  private record(built: { pdu: Pdu; event: RoomEvent }): void {
    this.events.set(built.event.event_id, built);
    if (typeof built.event.state_key === 'string') this.state.set(stateKey(built.event.type, built.event.state_key), built.event.event_id);
    this.latest = built.event;
  }

  get create(): RoomEvent {
    return [...this.events.values()][0].event;
  }

  build(sender: string, type: string, content: JsonObject, extra: { stateKey?: string; redacts?: string } = {}) {
    const origin = sender.slice(sender.indexOf(':') + 1);
    return buildEvent({
      roomVersion: this.version,
      roomId: this.create.room_id,
      sender,
      type,
      content,
      ...extra,
      prevEvents: [{ eventId: this.latest.event_id, depth: this.latest.depth }],
      state: this.state,
      originServerTs: ++this.ts,
      origin,
      signingKey: SERVERS[origin],
      referenceHash: (id: string): EventHashes | undefined => {
        const e = this.events.get(id);
        return e ? referenceHashOf(e.pdu, this.version) : undefined;
      },
    });
  }

  /** Builds, checks against auth_events and the current state, then adds. */
  add(sender: string, type: string, content: JsonObject, extra: { stateKey?: string; redacts?: string } = {}) {
    const built = this.build(sender, type, content, extra);
    const rules = roomVersion(this.version);
    const authEvents = built.event.auth_events.map((id) => this.events.get(id)?.event as RoomEvent);
    expect(checkAuthAgainstAuthEvents(built.event, authEvents, rules, this.create)).toEqual({ allowed: true });
    const current = [...this.state.values()].map((id) => this.events.get(id)?.event as RoomEvent);
    expect(checkAuth(built.event, authEventLookup(current), rules)).toEqual({ allowed: true });
    this.record(built);
    return built;
  }
}

function expectValidPdu(pdu: Pdu, event: RoomEvent, version: string, origin: string, size?: number): void {
  const rules = roomVersion(version);
  if (size !== undefined) expect(size).toBe(canonicalJsonByteLength(pdu));
  expect(verifyContentHash(pdu, rules)).toBe(true);
  const key = SERVERS[origin];
  expect(verifyEventSignature(pdu, rules, origin, key.keyId, key.publicKey)).toBe(true);
  if (rules.eventIdFormat === 'server-generated') {
    expect(event.event_id).toMatch(new RegExp(`^\\$[A-Za-z0-9_-]+:${origin.replace('.', '\\.')}$`));
    expect(pdu.event_id).toBe(event.event_id);
  } else {
    expect(computeEventId(pdu, rules)).toBe(event.event_id);
    expect(pdu.event_id).toBeUndefined();
  }
}

describe('buildEvent / buildCreateEvent', () => {
  describe.each(ALL_VERSIONS)('room version %s', (v) => {
    const rules = roomVersion(v);

    it('builds a room whose every event passes the auth rules and verifies', () => {
      const room = new BuiltRoom(v);
      const create = room.create;
      expectValidPdu(room.events.get(create.event_id)!.pdu, create, v, 'a.test');
      expect(checkAuth(create, () => undefined, rules)).toEqual({ allowed: true });
      const steps = [
        room.add(ALICE, 'm.room.member', { membership: 'join' }, { stateKey: ALICE }),
        room.add(ALICE, 'm.room.power_levels', { users: rules.privilegedCreators ? {} : { [ALICE]: 100 } }, { stateKey: '' }),
        room.add(ALICE, 'm.room.join_rules', { join_rule: 'public' }, { stateKey: '' }),
        room.add(BOB, 'm.room.member', { membership: 'join' }, { stateKey: BOB }),
        room.add(BOB, 'm.room.message', { msgtype: 'm.text', body: 'hello' }),
      ];
      const message = steps[steps.length - 1];
      steps.push(room.add(BOB, 'm.room.redaction', {}, { redacts: message.event.event_id }));
      steps.forEach((s) => expectValidPdu(s.pdu, s.event, v, s.event.sender.slice(s.event.sender.indexOf(':') + 1), s.size));
      // Depth grows by one along the chain.
      expect(steps.map((s) => s.event.depth)).toEqual([2, 3, 4, 5, 6, 7]);
      const redaction = steps[steps.length - 1];
      expect(redaction.event.redacts).toBe(message.event.event_id);
      if (rules.redactsInContent) {
        expect(redaction.pdu.content.redacts).toBe(message.event.event_id);
        expect(redaction.pdu.redacts).toBeUndefined();
      } else {
        expect(redaction.pdu.redacts).toBe(message.event.event_id);
        expect(redaction.pdu.content.redacts).toBeUndefined();
      }
      // Bob's join lists create (before v12), power levels, join rules; not Alice's membership.
      const bobJoin = steps[3].event;
      const expected = [
        ...(rules.roomIdFromCreateEvent ? [] : [create.event_id]),
        room.state.get(stateKey('m.room.power_levels', '')),
        room.state.get(stateKey('m.room.join_rules', '')),
      ];
      expect([...bobJoin.auth_events].sort()).toEqual([...expected].sort());
    });

    it('formats references per room version', () => {
      const room = new BuiltRoom(v);
      const join = room.add(ALICE, 'm.room.member', { membership: 'join' }, { stateKey: ALICE });
      if (rules.eventIdFormat === 'server-generated') {
        const createPdu = room.events.get(room.create.event_id)!.pdu;
        expect(join.pdu.prev_events).toEqual([[room.create.event_id, referenceHashOf(createPdu, v)]]);
        expect(join.pdu.auth_events).toEqual([[room.create.event_id, referenceHashOf(createPdu, v)]]);
      } else {
        expect(join.pdu.prev_events).toEqual([room.create.event_id]);
        expect(join.pdu.auth_events).toEqual(rules.roomIdFromCreateEvent ? [] : [room.create.event_id]);
      }
    });

    it('create event: content per version and the room id', () => {
      const built = buildCreateEvent({
        roomVersion: v,
        sender: ALICE,
        content: { creator: '@mallory:x.test', additional_creators: [BOB] },
        originServerTs: 1,
        origin: 'a.test',
        signingKey: keyA,
        roomIdLocalpart: 'abc',
      });
      expect(built.event.content.room_version).toBe(v);
      expect(built.event.content.creator).toBe(rules.implicitRoomCreator ? undefined : ALICE);
      expect(built.event.content.additional_creators).toEqual(rules.privilegedCreators ? [BOB] : undefined);
      if (rules.roomIdFromCreateEvent) {
        expect(built.pdu.room_id).toBeUndefined();
        expect(built.event.room_id).toBe(`!${built.event.event_id.slice(1)}`);
      } else {
        expect(built.event.room_id).toBe('!abc:a.test');
      }
      expect(checkAuth(built.event, () => undefined, rules)).toEqual({ allowed: true });
    });
  });

  it.each(['3', '10', '12'])('room version %s: the size given is the canonical JSON size of the PDU, unsigned and non-ASCII text included', (v) => {
    const room = new BuiltRoom(v);
    room.add(ALICE, 'm.room.member', { membership: 'join' }, { stateKey: ALICE });
    const origin = 'a.test';
    const built = buildEvent({
      roomVersion: v,
      roomId: room.create.room_id,
      sender: ALICE,
      type: 'm.room.message',
      content: { msgtype: 'm.text', body: 'caf\u00e9 \u{1F600} "quoted" \\ back', nested: { z: 1, a: [true, null, 'x'] } },
      prevEvents: [{ eventId: room.latest.event_id, depth: room.latest.depth }],
      state: room.state,
      originServerTs: 1_700_000_000_123,
      origin,
      signingKey: keyA,
      unsigned: { 'org.example': 'v\u00e4lue', n: 2 },
    });
    expect(built.size).toBe(canonicalJsonByteLength(built.pdu));
    expectValidPdu(built.pdu, built.event, v, origin, built.size);
  });

  it('an event a rule denies is still built, and checkAuth denies it', () => {
    const room = new BuiltRoom('10');
    room.add(ALICE, 'm.room.member', { membership: 'join' }, { stateKey: ALICE });
    const built = room.build(BOB, 'm.room.message', { body: 'not joined' });
    const current = [...room.state.values()].map((id) => room.events.get(id)!.event);
    expect(checkAuth(built.event, authEventLookup(current), roomVersion('10'))).toMatchObject({ rule: 'sender.not_joined' });
  });

  it('rejects bad input with BuildEventError', () => {
    const room = new BuiltRoom('10');
    const base = {
      roomVersion: '10',
      roomId: room.create.room_id,
      sender: ALICE,
      type: 'm.room.message',
      content: {},
      prevEvents: [{ eventId: room.create.event_id, depth: 1 }],
      state: room.state,
      originServerTs: 5,
      origin: 'a.test',
      signingKey: keyA,
    };
    expect(() => buildEvent({ ...base, sender: BOB })).toThrow(BuildEventError);
    expect(() => buildEvent({ ...base, prevEvents: [] })).toThrow(BuildEventError);
    expect(() => buildEvent({ ...base, type: 'm.room.redaction' })).toThrow(BuildEventError);
    expect(() => buildEvent({ ...base, type: 'm.room.create' })).toThrow(BuildEventError);
    expect(() => buildCreateEvent({ roomVersion: '10', sender: BOB, originServerTs: 1, origin: 'a.test', signingKey: keyA })).toThrow(
      BuildEventError,
    );
    const legacy = new BuiltRoom('1');
    expect(() =>
      buildEvent({ ...base, roomVersion: '1', roomId: legacy.create.room_id, prevEvents: [{ eventId: legacy.create.event_id, depth: 1 }] }),
    ).toThrow(/reference hash/);
  });
});

describe('prev_events and depth', () => {
  it(`keeps the ${MAX_PREV_EVENTS} deepest extremities, without duplicates`, () => {
    const refs = Array.from({ length: 30 }, (_, i) => ({ eventId: `$e${String(i).padStart(2, '0')}`, depth: i }));
    const chosen = choosePrevEvents([...refs, refs[29]]);
    expect(chosen).toHaveLength(MAX_PREV_EVENTS);
    expect(chosen[0].eventId).toBe('$e29');
    expect(chosen.map((r) => r.depth).every((d) => d >= 10)).toBe(true);
  });
  it('depth is one above the deepest prev event, held at the limit', () => {
    expect(nextDepth([{ eventId: '$a', depth: 3 }, { eventId: '$b', depth: 7 }])).toBe(8);
    expect(nextDepth([{ eventId: '$a', depth: MAX_DEPTH }])).toBe(MAX_DEPTH);
    expect(nextDepth([{ eventId: '$a', depth: MAX_DEPTH - 1 }])).toBe(MAX_DEPTH);
  });
  it('a built event references at most 20 prev events', () => {
    const room = new BuiltRoom('11');
    const prevEvents = Array.from({ length: 25 }, (_, i) => ({ eventId: `$x${i}`, depth: i + 1 }));
    const built = buildEvent({
      roomVersion: '11',
      roomId: room.create.room_id,
      sender: ALICE,
      type: 'm.room.message',
      content: {},
      prevEvents,
      state: room.state,
      originServerTs: 9,
      origin: 'a.test',
      signingKey: keyA,
    });
    expect(built.event.prev_events).toHaveLength(MAX_PREV_EVENTS);
    expect(built.event.depth).toBe(26);
  });
});
