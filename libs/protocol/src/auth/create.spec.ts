import { checkAuth } from './check-auth';
import { roomVersion } from '../room-versions';
import { ALICE, ALL_VERSIONS, BOB, room, versionsWhere } from './testing/test-room';
import type { RoomEvent } from '../events/types';

const noState = (): undefined => undefined;

function withChanges(ev: RoomEvent, changes: Partial<RoomEvent>): RoomEvent {
  return { ...ev, ...changes };
}

describe('rule 1: m.room.create', () => {
  describe.each(ALL_VERSIONS)('room version %s', (v) => {
    const rules = roomVersion(v);
    const create = room(v).create;

    it('1.5 allows a well-formed create event', () => {
      expect(checkAuth(create, noState, rules)).toEqual({ allowed: true });
    });

    it('1.1 rejects a create event with prev_events', () => {
      expect(checkAuth(withChanges(create, { prev_events: ['$other'] }), noState, rules)).toMatchObject({
        allowed: false,
        rule: 'create.prev_events',
      });
    });

    it('1.3 allows a recognised content.room_version and rejects an unknown one', () => {
      expect(checkAuth(withChanges(create, { content: { ...create.content, room_version: '9' } }), noState, rules).allowed).toBe(true);
      for (const bad of ['13', 'org.example.custom', 9]) {
        expect(checkAuth(withChanges(create, { content: { ...create.content, room_version: bad } }), noState, rules)).toMatchObject({
          allowed: false,
          rule: 'create.room_version',
        });
      }
    });

    it('1.3 allows a create event without room_version (meaning version 1)', () => {
      const { room_version: _omit, ...content } = create.content;
      expect(checkAuth(withChanges(create, { content }), noState, rules).allowed).toBe(true);
    });
  });

  describe.each(versionsWhere((r) => !r.roomIdFromCreateEvent))('room version %s: room id domain (1.2)', (v) => {
    const rules = roomVersion(v);
    it('allows a room id on the sender domain', () => {
      const create = room(v, BOB).create;
      expect(create.room_id.endsWith(':b.test')).toBe(true);
      expect(checkAuth(create, noState, rules).allowed).toBe(true);
    });
    it('rejects a room id on another domain', () => {
      const create = room(v).create;
      expect(checkAuth(withChanges(create, { room_id: '!x:elsewhere.test' }), noState, rules)).toMatchObject({
        allowed: false,
        rule: 'create.room_id_domain',
      });
    });
  });

  describe.each(versionsWhere((r) => !r.implicitRoomCreator))('room version %s: creator (1.4)', (v) => {
    const rules = roomVersion(v);
    it('rejects a create event without content.creator', () => {
      const create = room(v).create;
      const { creator: _omit, ...content } = create.content;
      expect(checkAuth(withChanges(create, { content }), noState, rules)).toMatchObject({ allowed: false, rule: 'create.creator' });
    });
  });

  describe.each(versionsWhere((r) => r.implicitRoomCreator))('room version %s: no creator property needed', (v) => {
    it('allows a create event without content.creator', () => {
      const create = room(v).create;
      expect(create.content.creator).toBeUndefined();
      expect(checkAuth(create, noState, roomVersion(v)).allowed).toBe(true);
    });
  });

  describe('room version 12', () => {
    const rules = roomVersion('12');
    it('1.2 rejects a create event that carries a room_id of its own', () => {
      const create = room('12').create;
      expect(checkAuth(withChanges(create, { room_id: '!abc:a.test' }), noState, rules)).toMatchObject({
        allowed: false,
        rule: 'create.room_id',
      });
    });
    it('1.2 allows the room id derived from the event id, or none', () => {
      const create = room('12').create;
      expect(create.room_id).toBe(`!${create.event_id.slice(1)}`);
      expect(checkAuth(withChanges(create, { room_id: '' }), noState, rules).allowed).toBe(true);
    });
    it('1.4 allows additional_creators that are valid user ids', () => {
      const create = room('12', ALICE, { additional_creators: [BOB, '@carol:c.test:8448'] }).create;
      expect(checkAuth(create, noState, rules).allowed).toBe(true);
    });
    it.each([[['not-a-user']], ['@bob:b.test'], [[BOB, 5]], [['@:b.test']], [['@bob']]])(
      '1.4 rejects additional_creators %j',
      (bad) => {
        const create = room('12', ALICE, { additional_creators: bad }).create;
        expect(checkAuth(create, noState, rules)).toMatchObject({ allowed: false, rule: 'create.additional_creators' });
      },
    );
  });

  it('before room version 12, additional_creators is not checked', () => {
    const create = room('11', ALICE, { additional_creators: 'nonsense' }).create;
    expect(checkAuth(create, noState, roomVersion('11')).allowed).toBe(true);
  });
});
