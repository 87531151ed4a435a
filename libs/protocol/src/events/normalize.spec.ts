import fc from 'fast-check';
import { computeEventId, roomIdFromCreateEvent } from './hashes';
import { InvalidPduError, toPdu, toRoomEvent } from './normalize';
import type { Pdu } from './types';

const base = {
  sender: '@u:a',
  type: 'm.room.message',
  content: { body: 'hi' },
  origin_server_ts: 5,
  depth: 2,
  hashes: { sha256: 'h' },
  signatures: { a: { 'ed25519:1': 's' } },
};

describe('toRoomEvent / toPdu', () => {
  it('maps v1-2 references to ids and keeps their hashes', () => {
    const pdu: Pdu = {
      ...base,
      event_id: '$e:a',
      room_id: '!r:a',
      origin: 'a',
      prev_events: [['$p:a', { sha256: 'P' }]],
      auth_events: [['$c:a', { sha256: 'C' }]],
      redacts: '$x:a',
      unsigned: { age: 1 },
    };
    const ev = toRoomEvent(pdu, '1');
    expect(ev.event_id).toBe('$e:a');
    expect(ev.prev_events).toEqual(['$p:a']);
    expect(ev.auth_events).toEqual(['$c:a']);
    expect(ev.redacts).toBe('$x:a');
    expect(ev.extra).toEqual({ origin: 'a' });
    expect(ev.reference_hashes).toEqual({ '$p:a': { sha256: 'P' }, '$c:a': { sha256: 'C' } });
    expect(ev.room_version).toBe('1');
    expect(toPdu(ev)).toEqual(pdu);
    expect(toPdu(ev, { withoutUnsigned: true })).not.toHaveProperty('unsigned');
  });

  it('needs reference hashes to build a v1-2 PDU', () => {
    const ev = { ...toRoomEvent({ ...base, event_id: '$e:a', room_id: '!r:a', prev_events: [], auth_events: [] }, '2'), prev_events: ['$q:a'] };
    expect(() => toPdu(ev)).toThrow(InvalidPduError);
    expect(toPdu(ev, { referenceHash: () => ({ sha256: 'Q' }) }).prev_events).toEqual([['$q:a', { sha256: 'Q' }]]);
  });

  it('computes the event id for v3+ unless given, and takes redacts from the top level before v11', () => {
    const pdu = { ...base, type: 'm.room.redaction', room_id: '!r:a', prev_events: ['$p'], auth_events: [], redacts: '$x', content: { redacts: '$y' } };
    const v10 = toRoomEvent(pdu, '10');
    expect(v10.event_id).toBe(computeEventId(pdu, '10'));
    expect(v10.redacts).toBe('$x');
    expect(toRoomEvent(pdu, '10', '$given').event_id).toBe('$given');
    const v11 = toRoomEvent(pdu, '11');
    expect(v11.redacts).toBe('$y');
    expect(v11.extra).toEqual({ redacts: '$x' });
    expect(toPdu(v11)).toEqual(pdu);
    expect(toPdu(v10)).toEqual(pdu);
    expect(toPdu(v10)).not.toHaveProperty('event_id');
  });

  it('derives the room id of a v12 create event and leaves it out of the wire form', () => {
    const create = { ...base, type: 'm.room.create', state_key: '', content: { room_version: '12' }, prev_events: [], auth_events: [] };
    const ev = toRoomEvent(create, '12');
    expect(ev.room_id).toBe(roomIdFromCreateEvent(create));
    expect(ev.event_id.slice(1)).toBe(ev.room_id.slice(1));
    const wire = toPdu(ev);
    expect(wire).not.toHaveProperty('room_id');
    expect(wire).toEqual(create);
    expect(() => toRoomEvent({ ...create, room_id: '!x' }, '12')).toThrow(InvalidPduError);
    // in v11 the create event has a room id like every other event
    expect(() => toRoomEvent(create, '11')).toThrow(InvalidPduError);
  });

  it('refuses mistyped fields with InvalidPduError', () => {
    const ok = { ...base, room_id: '!r:a', prev_events: [], auth_events: [] };
    for (const bad of [
      { ...ok, sender: 1 },
      { ...ok, content: [] },
      { ...ok, prev_events: [1] },
      { ...ok, prev_events: 'x' },
      { ...ok, state_key: 3 },
      { ...ok, depth: '1' },
      { ...ok, hashes: null },
      { ...ok, unsigned: 'x' },
      { ...ok, redacts: 5 },
    ]) {
      expect(() => toRoomEvent(bad, '10')).toThrow(InvalidPduError);
    }
    expect(() => toRoomEvent({ ...ok, prev_events: ['$a'] }, '1')).toThrow(InvalidPduError);
  });

  it('round-trips any v4+ event (property)', () => {
    const pduArb = fc.record(
      {
        room_id: fc.constant('!r:a'),
        sender: fc.constant('@u:a'),
        type: fc.constantFrom('m.room.message', 'm.room.member', 'm.room.redaction'),
        state_key: fc.string(),
        content: fc.dictionary(fc.string(), fc.oneof(fc.string(), fc.integer())),
        origin_server_ts: fc.nat(),
        depth: fc.nat(),
        prev_events: fc.array(fc.string(), { maxLength: 3 }),
        auth_events: fc.array(fc.string(), { maxLength: 3 }),
        redacts: fc.string(),
        origin: fc.string(),
        hashes: fc.constant({ sha256: 'h' }),
        signatures: fc.constant({}),
        unsigned: fc.dictionary(fc.string(), fc.integer()),
      },
      { requiredKeys: ['room_id', 'sender', 'type', 'content', 'origin_server_ts', 'depth', 'prev_events', 'auth_events', 'hashes', 'signatures'] },
    );
    fc.assert(
      fc.property(pduArb, fc.constantFrom('4', '6', '9', '10', '11', '12'), (pdu, version) => {
        expect(toPdu(toRoomEvent(pdu, version))).toEqual(pdu);
      }),
    );
  });
});
