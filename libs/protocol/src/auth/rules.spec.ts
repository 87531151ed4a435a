import { stateKey } from '../events/types';
import { roomVersion } from '../room-versions';
import { authEventLookup, checkAuth, checkAuthAgainstAuthEvents } from './check-auth';
import { authEventKeys, checkAuthEventsSelection, selectAuthEvents } from './selection';
import { ALICE, ALL_VERSIONS, BOB, CAROL, room, standardRoom, versionsWhere } from './testing/test-room';
import type { TestRoom } from './testing/test-room';
import type { RoomEvent } from '../events/types';

const ALLOWED = { allowed: true };

function authEventsOf(r: TestRoom, ev: RoomEvent): RoomEvent[] {
  return ev.auth_events.map((id) => r.getById(id)).filter((e): e is RoomEvent => e !== undefined);
}

describe('auth_events checks (rule 2 in v1-11, rule 3 in v12)', () => {
  describe.each(ALL_VERSIONS)('room version %s', (v) => {
    const rules = roomVersion(v);
    it('allows the auth events the selection algorithm picks', () => {
      const r = standardRoom(v).join(BOB);
      const ev = r.event({ sender: BOB, type: 'm.room.message', content: { body: 'hi' } });
      expect(checkAuthEventsSelection(ev, authEventsOf(r, ev), rules)).toEqual(ALLOWED);
      expect(checkAuthAgainstAuthEvents(ev, authEventsOf(r, ev), rules, r.create)).toEqual(ALLOWED);
    });
    it('x.1 rejects two entries for one (type, state_key)', () => {
      const r = standardRoom(v).join(BOB);
      const oldPl = r.get('m.room.power_levels');
      const r2 = r.powerLevels(ALICE, { users: rules.privilegedCreators ? {} : { [ALICE]: 100 }, ban: 40 });
      const ev = r2.event({ sender: BOB, type: 'm.room.message', content: {} });
      const list = [...authEventsOf(r2, ev), oldPl as RoomEvent];
      expect(checkAuthEventsSelection(ev, list, rules)).toMatchObject({ rule: 'auth_events.duplicate' });
    });
    it('x.2 rejects entries the selection algorithm does not pick', () => {
      const r = standardRoom(v).join(BOB);
      const ev = r.event({ sender: BOB, type: 'm.room.message', content: {} });
      const list = [...authEventsOf(r, ev), r.get('m.room.join_rules') as RoomEvent];
      expect(checkAuthEventsSelection(ev, list, rules)).toMatchObject({ rule: 'auth_events.unexpected' });
      const aliceMember = r.get('m.room.member', ALICE) as RoomEvent;
      expect(checkAuthEventsSelection(ev, [...authEventsOf(r, ev), aliceMember], rules)).toMatchObject({
        rule: 'auth_events.unexpected',
      });
    });
    it('x.3 rejects auth events that are not available (rejected or unknown)', () => {
      const r = standardRoom(v).join(BOB);
      const ev = r.event({ sender: BOB, type: 'm.room.message', content: {} });
      const list = authEventsOf(r, ev).filter((e) => e.type !== 'm.room.power_levels');
      expect(checkAuthAgainstAuthEvents(ev, list, rules, r.create)).toMatchObject({ rule: 'auth_events.missing' });
    });
    it('x.5 rejects an auth event of another room', () => {
      const r = standardRoom(v).join(BOB);
      const ev = r.event({ sender: BOB, type: 'm.room.message', content: {} });
      const list = authEventsOf(r, ev).map((e) => (e.type === 'm.room.power_levels' ? { ...e, room_id: '!other:a.test' } : e));
      expect(checkAuthEventsSelection(ev, list, rules)).toMatchObject({ rule: 'auth_events.room_id' });
      // The same rule holds for the state lookup.
      expect(checkAuth(ev, authEventLookup(list.concat(rules.roomIdFromCreateEvent ? [r.create] : [])), rules)).toMatchObject({
        rule: 'auth_events.room_id',
      });
    });
    it('rule 1 decides create events before auth_events are considered', () => {
      const r = room(v);
      expect(checkAuthEventsSelection(r.create, [], rules)).toEqual(ALLOWED);
    });
  });

  describe.each(versionsWhere((r) => !r.roomIdFromCreateEvent))('room version %s', (v) => {
    const rules = roomVersion(v);
    it('2.4 rejects auth events without m.room.create', () => {
      const r = standardRoom(v).join(BOB);
      const ev = r.event({ sender: BOB, type: 'm.room.message', content: {} });
      const list = authEventsOf(r, ev).filter((e) => e.type !== 'm.room.create');
      expect(checkAuthEventsSelection(ev, list, rules)).toMatchObject({ rule: 'auth_events.no_create' });
      expect(checkAuth(ev, authEventLookup(list), rules)).toMatchObject({ rule: 'auth_events.no_create' });
    });
    it('selects the create event', () => {
      expect(authEventKeys('m.room.message', undefined, BOB, {}, rules)).toContain(stateKey('m.room.create', ''));
    });
  });

  describe('room version 12', () => {
    const rules = roomVersion('12');
    it('3.2 rejects the create event in auth_events', () => {
      const r = standardRoom('12').join(BOB);
      const ev = r.event({ sender: BOB, type: 'm.room.message', content: {} });
      expect(ev.auth_events).not.toContain(r.create.event_id);
      expect(checkAuthEventsSelection(ev, [...authEventsOf(r, ev), r.create], rules)).toMatchObject({
        rule: 'auth_events.unexpected',
      });
    });
    it('2 rejects a room id that does not name the create event', () => {
      const r = standardRoom('12').join(BOB);
      const ev = r.event({ sender: BOB, type: 'm.room.message', content: {} });
      expect(checkAuthAgainstAuthEvents(ev, authEventsOf(r, ev), rules)).toMatchObject({ rule: 'room_id.create_event' });
      const other = room('12').create;
      expect(checkAuthAgainstAuthEvents(ev, authEventsOf(r, ev), rules, other)).toMatchObject({ rule: 'room_id.create_event' });
      expect(checkAuthAgainstAuthEvents(ev, authEventsOf(r, ev), rules, r.create)).toEqual(ALLOWED);
    });
  });
});

describe('auth events selection', () => {
  it.each(ALL_VERSIONS)('v%s: picks power levels, sender and target membership, join rules for a join', (v) => {
    const rules = roomVersion(v);
    const r = standardRoom(v, 'invite').invite(ALICE, BOB);
    const sel = selectAuthEvents('m.room.member', BOB, BOB, { membership: 'join' }, r.stateMap, rules);
    const expected = [
      ...(rules.roomIdFromCreateEvent ? [] : [r.create.event_id]),
      r.get('m.room.power_levels')?.event_id,
      r.get('m.room.member', BOB)?.event_id,
      r.get('m.room.join_rules')?.event_id,
    ];
    expect(sel.eventIds).toEqual(expected);
  });
  it('picks the target membership of a kick but not the join rules', () => {
    const r = standardRoom('10').join(BOB);
    const sel = selectAuthEvents('m.room.member', BOB, ALICE, { membership: 'leave' }, r.stateMap, roomVersion('10'));
    expect(sel.keys).toEqual([
      stateKey('m.room.create', ''),
      stateKey('m.room.power_levels', ''),
      stateKey('m.room.member', ALICE),
      stateKey('m.room.member', BOB),
    ]);
  });
  it('picks the m.room.third_party_invite named by the token', () => {
    const r = standardRoom('10').state(ALICE, 'm.room.third_party_invite', 'tok', { public_key: 'x' });
    const content = { membership: 'invite', third_party_invite: { signed: { token: 'tok', mxid: BOB } } };
    const sel = selectAuthEvents('m.room.member', BOB, ALICE, content, r.stateMap, roomVersion('10'));
    expect(sel.keys).toContain(stateKey('m.room.third_party_invite', 'tok'));
    expect(sel.eventIds).toContain(r.get('m.room.third_party_invite', 'tok')?.event_id);
  });
  it('picks the authorising user of a restricted join from v8, not before', () => {
    const content = { membership: 'join', join_authorised_via_users_server: CAROL };
    expect(authEventKeys('m.room.member', BOB, BOB, content, roomVersion('8'))).toContain(stateKey('m.room.member', CAROL));
    expect(authEventKeys('m.room.member', BOB, BOB, content, roomVersion('7'))).not.toContain(stateKey('m.room.member', CAROL));
  });
  it('leaves out what the state lacks and lists nothing for m.room.create', () => {
    const r = room('10');
    const sel = selectAuthEvents('m.room.member', ALICE, ALICE, { membership: 'join' }, r.stateMap, roomVersion('10'));
    expect(sel.eventIds).toEqual([r.create.event_id]);
    expect(authEventKeys('m.room.create', '', ALICE, {}, roomVersion('10'))).toEqual([]);
  });
});

describe('rules after the membership rules', () => {
  describe.each(ALL_VERSIONS)('room version %s', (v) => {
    it('m.federate: rejects a sender of another server when false, allows the creator server', () => {
      const r = room(v, ALICE, { 'm.federate': false }).join(ALICE).joinRules(ALICE, 'public');
      expect(r.check(r.member(BOB, BOB, 'join'))).toMatchObject({ rule: 'federate' });
      expect(r.check(r.member('@dave:a.test', '@dave:a.test', 'join'))).toEqual(ALLOWED);
      const open = room(v, ALICE, { 'm.federate': true }).join(ALICE).joinRules(ALICE, 'public');
      expect(open.check(open.member(BOB, BOB, 'join'))).toEqual(ALLOWED);
    });
    it('rejects events from a sender who is not joined, allows joined ones', () => {
      const r = standardRoom(v).invite(ALICE, BOB);
      expect(r.check({ sender: BOB, type: 'm.room.message', content: {} })).toMatchObject({ rule: 'sender.not_joined' });
      expect(r.check({ sender: ALICE, type: 'm.room.message', content: {} })).toEqual(ALLOWED);
    });
    it('m.room.third_party_invite needs the invite level', () => {
      const r = standardRoom(v, 'public', { invite: 10, users: { [BOB]: 10 } }).join(BOB).join(CAROL);
      const tpi = (sender: string) => r.check({ sender, type: 'm.room.third_party_invite', state_key: 'tok', content: {} });
      expect(tpi(BOB)).toEqual(ALLOWED);
      expect(tpi(CAROL)).toMatchObject({ rule: 'third_party_invite.power' });
    });
    it('the required power level: events entry, state_default, events_default', () => {
      const r = standardRoom(v, 'public', { events: { 'm.room.message': 10 }, events_default: 5, users: { [BOB]: 10 } })
        .join(BOB)
        .join(CAROL);
      expect(r.check({ sender: BOB, type: 'm.room.message', content: {} })).toEqual(ALLOWED);
      expect(r.check({ sender: CAROL, type: 'm.room.message', content: {} })).toMatchObject({ rule: 'power.required_level' });
      expect(r.check({ sender: CAROL, type: 'm.reaction', content: {} })).toMatchObject({ rule: 'power.required_level' });
      expect(r.check({ sender: BOB, type: 'm.reaction', content: {} })).toEqual(ALLOWED);
      expect(r.check({ sender: BOB, type: 'm.room.topic', state_key: '', content: {} })).toMatchObject({
        rule: 'power.required_level',
      });
      expect(r.check({ sender: ALICE, type: 'm.room.topic', state_key: '', content: {} })).toEqual(ALLOWED);
    });
    it('without power levels, state needs 50 and the creator has 100', () => {
      const r = room(v).join(ALICE).joinRules(ALICE, 'public').join(BOB);
      expect(r.check({ sender: BOB, type: 'm.room.topic', state_key: '', content: {} })).toMatchObject({
        rule: 'power.required_level',
      });
      expect(r.check({ sender: BOB, type: 'm.room.message', content: {} })).toEqual(ALLOWED);
      expect(r.check({ sender: ALICE, type: 'm.room.topic', state_key: '', content: {} })).toEqual(ALLOWED);
    });
    it('a state_key that is a user id must be the sender', () => {
      const r = standardRoom(v, 'public', { state_default: 0 }).join(BOB);
      expect(r.check({ sender: BOB, type: 'org.example.x', state_key: BOB, content: {} })).toEqual(ALLOWED);
      expect(r.check({ sender: BOB, type: 'org.example.x', state_key: ALICE, content: {} })).toMatchObject({
        rule: 'state_key.user_id',
      });
      expect(r.check({ sender: ALICE, type: 'org.example.x', state_key: BOB, content: {} })).toMatchObject({
        rule: 'state_key.user_id',
      });
    });
  });

  describe.each(versionsWhere((r) => r.specialCaseAliasesAuth))('room version %s: m.room.aliases', (v) => {
    it('allows a sender whose domain is the state_key, even when not joined', () => {
      const r = standardRoom(v);
      expect(r.check({ sender: BOB, type: 'm.room.aliases', state_key: 'b.test', content: { aliases: [] } })).toEqual(ALLOWED);
    });
    it('rejects another domain and a missing state_key', () => {
      const r = standardRoom(v);
      expect(r.check({ sender: ALICE, type: 'm.room.aliases', state_key: 'b.test', content: {} })).toMatchObject({
        rule: 'aliases.sender_domain',
      });
      expect(r.check({ sender: ALICE, type: 'm.room.aliases', content: {} })).toMatchObject({ rule: 'aliases.state_key' });
    });
  });
  describe.each(versionsWhere((r) => !r.specialCaseAliasesAuth))('room version %s: m.room.aliases is ordinary state', (v) => {
    it('is checked like any state event', () => {
      const r = standardRoom(v).join(BOB);
      expect(r.check({ sender: BOB, type: 'm.room.aliases', state_key: 'b.test', content: {} })).toMatchObject({
        rule: 'power.required_level',
      });
      expect(r.check({ sender: ALICE, type: 'm.room.aliases', state_key: 'b.test', content: {} })).toEqual(ALLOWED);
    });
  });

  describe.each(versionsWhere((r) => r.redactionSenderDomainAuth))('room version %s: m.room.redaction', (v) => {
    it('allows the redact level, or an event id of the same domain; rejects otherwise', () => {
      const r = standardRoom(v).join(BOB).add({ sender: ALICE, type: 'm.room.message', content: {} });
      const aliceMsg = r.event({ sender: ALICE, type: 'm.room.message', content: {} });
      const bobMsg = r.event({ sender: BOB, type: 'm.room.message', content: {} });
      expect(aliceMsg.event_id.endsWith(':a.test')).toBe(true);
      const redact = (sender: string, target: string) => r.check({ sender, type: 'm.room.redaction', content: {}, redacts: target });
      expect(redact(ALICE, bobMsg.event_id)).toEqual(ALLOWED);
      expect(redact(BOB, bobMsg.event_id)).toEqual(ALLOWED);
      expect(redact(BOB, aliceMsg.event_id)).toMatchObject({ rule: 'redaction.domain' });
    });
  });
  describe.each(versionsWhere((r) => !r.redactionSenderDomainAuth))('room version %s: m.room.redaction', (v) => {
    it('is checked like any message event (the redact level is not an auth rule)', () => {
      const r = standardRoom(v, 'public', { events: { 'm.room.redaction': 10 }, users: { [BOB]: 10 } }).join(BOB).join(CAROL);
      const redact = (sender: string) =>
        r.check({ sender, type: 'm.room.redaction', content: {}, redacts: '$someone-elses' });
      expect(redact(BOB)).toEqual(ALLOWED);
      expect(redact(CAROL)).toMatchObject({ rule: 'power.required_level' });
    });
  });
});
