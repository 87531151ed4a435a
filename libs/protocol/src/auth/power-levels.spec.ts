import { roomVersion } from '../room-versions';
import { parsePowerLevel, PowerLevels } from './power-levels';
import { ALICE, ALL_VERSIONS, BOB, CAROL, room, standardRoom, versionsWhere } from './testing/test-room';
import type { TestRoom } from './testing/test-room';
import type { JsonObject } from '../events/types';

const pl = (r: TestRoom, sender: string, content: JsonObject) =>
  r.check({ sender, type: 'm.room.power_levels', state_key: '', content });

/** ALICE 100 (creator in v12), BOB 50, CAROL 0; every level given explicitly. */
function base(v: string): { r: TestRoom; content: JsonObject } {
  const users: JsonObject = roomVersion(v).privilegedCreators ? { [BOB]: 50 } : { [ALICE]: 100, [BOB]: 50 };
  const content: JsonObject = {
    users,
    users_default: 0,
    events_default: 0,
    state_default: 50,
    ban: 50,
    kick: 50,
    redact: 50,
    invite: 0,
    events: { 'm.room.name': 50, 'm.room.power_levels': 50 },
    notifications: { room: 50 },
  };
  const r = room(v).join(ALICE).powerLevels(ALICE, content).joinRules(ALICE, 'public').join(BOB).join(CAROL);
  return { r, content };
}

describe('m.room.power_levels (rule 10 in v1-5 and v12, rule 9 in v6-11)', () => {
  describe.each(ALL_VERSIONS)('room version %s', (v) => {
    it('x.5 allows the first power levels event', () => {
      const r = room(v).join(ALICE);
      expect(pl(r, ALICE, { users: { [BOB]: 100 } })).toEqual({ allowed: true });
    });
    it('x.3 rejects users that is not an object of valid user ids', () => {
      const r = room(v).join(ALICE);
      expect(pl(r, ALICE, { users: [] })).toMatchObject({ rule: 'power_levels.users' });
      expect(pl(r, ALICE, { users: { 'not-a-user': 1 } })).toMatchObject({ rule: 'power_levels.users' });
      expect(pl(r, ALICE, { users: { [BOB]: 'high' } })).toMatchObject({ rule: 'power_levels.users' });
      expect(pl(r, ALICE, { users: { [BOB]: true } })).toMatchObject({ rule: 'power_levels.users' });
    });
    it('x.6 a sender may change a named level within their own power', () => {
      const { r, content } = base(v);
      expect(pl(r, BOB, { ...content, kick: 40 })).toEqual({ allowed: true });
      expect(pl(r, BOB, { ...content, invite: 50 })).toEqual({ allowed: true });
    });
    it('x.6.1 rejects changing a named level currently above the sender', () => {
      const { r, content } = base(v);
      const withHighBan = { ...content, ban: 60 };
      const r2 = r.powerLevels(ALICE, withHighBan);
      expect(pl(r2, BOB, { ...withHighBan, ban: 40 })).toMatchObject({ rule: 'power_levels.named_old' });
      const { ban: _b, ...removed } = withHighBan;
      expect(pl(r2, BOB, removed)).toMatchObject({ rule: 'power_levels.named_old' });
    });
    it('x.6.2 rejects setting a named level above the sender', () => {
      const { r, content } = base(v);
      expect(pl(r, BOB, { ...content, kick: 51 })).toMatchObject({ rule: 'power_levels.named_new' });
      const { redact: _r, ...withoutRedact } = content;
      const r2 = r.powerLevels(ALICE, withoutRedact);
      expect(pl(r2, BOB, { ...withoutRedact, redact: 75 })).toMatchObject({ rule: 'power_levels.named_new' });
    });
    it('x.7 rejects changing or removing an events entry currently above the sender', () => {
      const { r, content } = base(v);
      const high = { ...content, events: { 'm.room.name': 50, 'm.room.tombstone': 100 } };
      const r2 = r.powerLevels(ALICE, high);
      expect(pl(r2, BOB, { ...high, events: { 'm.room.name': 50, 'm.room.tombstone': 10 } })).toMatchObject({
        rule: 'power_levels.events_old',
      });
      expect(pl(r2, BOB, { ...high, events: { 'm.room.name': 50 } })).toMatchObject({ rule: 'power_levels.events_old' });
      expect(pl(r2, BOB, { ...high, events: { 'm.room.name': 10, 'm.room.tombstone': 100 } })).toEqual({ allowed: true });
    });
    it('x.8 rejects adding or changing an events entry above the sender', () => {
      const { r, content } = base(v);
      expect(pl(r, BOB, { ...content, events: { ...(content.events as JsonObject), 'm.room.topic': 51 } })).toMatchObject({
        rule: 'power_levels.events_new',
      });
      expect(pl(r, BOB, { ...content, events: { ...(content.events as JsonObject), 'm.room.topic': 50 } })).toEqual({
        allowed: true,
      });
    });
    it('x.9 rejects changing or removing a user at or above the sender, but a sender may change their own entry', () => {
      const { r, content } = base(v);
      const users = content.users as JsonObject;
      const r2 = r.powerLevels(ALICE, { ...content, users: { ...users, [CAROL]: 50 } });
      expect(pl(r2, BOB, { ...content, users: { ...users, [CAROL]: 10 } })).toMatchObject({ rule: 'power_levels.users_old' });
      expect(pl(r2, BOB, { ...content, users })).toMatchObject({ rule: 'power_levels.users_old' });
      expect(pl(r2, BOB, { ...content, users: { ...users, [CAROL]: 50, [BOB]: 10 } })).toEqual({ allowed: true });
    });
    it('x.10 rejects giving a user more than the sender has', () => {
      const { r, content } = base(v);
      const users = content.users as JsonObject;
      expect(pl(r, BOB, { ...content, users: { ...users, [CAROL]: 51 } })).toMatchObject({ rule: 'power_levels.users_new' });
      expect(pl(r, BOB, { ...content, users: { ...users, [BOB]: 51 } })).toMatchObject({ rule: 'power_levels.users_new' });
      expect(pl(r, BOB, { ...content, users: { ...users, [CAROL]: 50 } })).toEqual({ allowed: true });
    });
  });

  describe.each(versionsWhere((r) => r.limitNotificationsPowerLevels))('room version %s: notifications', (v) => {
    it('x.7/x.8 notifications entries are limited by the sender level', () => {
      const { r, content } = base(v);
      expect(pl(r, BOB, { ...content, notifications: { room: 60 } })).toMatchObject({ rule: 'power_levels.notifications_new' });
      expect(pl(r, BOB, { ...content, notifications: { room: 40 } })).toEqual({ allowed: true });
      const r2 = r.powerLevels(ALICE, { ...content, notifications: { room: 80 } });
      expect(pl(r2, BOB, { ...content, notifications: { room: 40 } })).toMatchObject({ rule: 'power_levels.notifications_old' });
    });
  });

  describe.each(versionsWhere((r) => !r.limitNotificationsPowerLevels))('room version %s: notifications unchecked', (v) => {
    it('notifications may be changed freely', () => {
      const { r, content } = base(v);
      expect(pl(r, BOB, { ...content, notifications: { room: 100 } })).toEqual({ allowed: true });
    });
  });

  describe.each(versionsWhere((r) => r.integerPowerLevels))('room version %s: integers only', (v) => {
    it('x.1 rejects named levels that are not integers', () => {
      const { r, content } = base(v);
      for (const bad of ['50', 50.5, null, true]) {
        expect(pl(r, ALICE, { ...content, ban: bad })).toMatchObject({ rule: 'power_levels.integer_level' });
      }
      expect(pl(r, ALICE, { ...content, ban: 50 })).toEqual({ allowed: true });
    });
    it('x.2 rejects events / notifications that are not objects of integers', () => {
      const { r, content } = base(v);
      expect(pl(r, ALICE, { ...content, events: { 'm.room.name': '50' } })).toMatchObject({ rule: 'power_levels.integer_map' });
      expect(pl(r, ALICE, { ...content, events: [] })).toMatchObject({ rule: 'power_levels.integer_map' });
      expect(pl(r, ALICE, { ...content, notifications: { room: '50' } })).toMatchObject({ rule: 'power_levels.integer_map' });
    });
    it('x.3 rejects string user levels', () => {
      const { r, content } = base(v);
      expect(pl(r, ALICE, { ...content, users: { [BOB]: '50' } })).toMatchObject({ rule: 'power_levels.users' });
    });
  });

  describe.each(versionsWhere((r) => !r.integerPowerLevels))('room version %s: string levels', (v) => {
    const rules = roomVersion(v);
    it('accepts integer strings as levels and uses their value', () => {
      const r = room(v).join(ALICE).powerLevels(ALICE, { users: { [ALICE]: ' +100 ', [BOB]: '0050' }, kick: '50' }).joinRules(ALICE, 'public').join(BOB).join(CAROL);
      expect(r.check(r.member(BOB, CAROL, 'leave'))).toEqual({ allowed: true });
      expect(pl(r, BOB, { users: { [ALICE]: 100, [BOB]: '50', [CAROL]: '51' } })).toMatchObject({ rule: 'power_levels.users_new' });
      // 50 and "50" are the same value: not a change.
      expect(pl(r, BOB, { users: { [ALICE]: ' +100 ', [BOB]: 50 }, kick: 50 })).toEqual({ allowed: true });
    });
    it('parses the string forms the spec lists and refuses others', () => {
      expect(parsePowerLevel('100', rules)).toBe(100);
      expect(parsePowerLevel('000100', rules)).toBe(100);
      expect(parsePowerLevel('+100', rules)).toBe(100);
      expect(parsePowerLevel(' -100 ', rules)).toBe(-100);
      expect(parsePowerLevel('1.5', rules)).toBeUndefined();
      expect(parsePowerLevel('1e3', rules)).toBeUndefined();
      expect(parsePowerLevel('', rules)).toBeUndefined();
    });
  });

  describe.each(versionsWhere((r) => !r.strictCanonicalJson))('room version %s: float levels', (v) => {
    it('truncates floats', () => {
      expect(parsePowerLevel(50.57, roomVersion(v))).toBe(50);
      expect(parsePowerLevel(5.114698e4, roomVersion(v))).toBe(51146);
      const r = room(v).join(ALICE);
      expect(pl(r, ALICE, { users: { [BOB]: 50.5 } })).toEqual({ allowed: true });
    });
  });
  describe.each(versionsWhere((r) => r.strictCanonicalJson))('room version %s: no float levels', (v) => {
    it('refuses floats', () => {
      expect(parsePowerLevel(50.5, roomVersion(v))).toBeUndefined();
      const r = room(v).join(ALICE);
      expect(pl(r, ALICE, { users: { [BOB]: 50.5 } })).toMatchObject({ rule: 'power_levels.users' });
    });
  });

  describe('room version 12: creators', () => {
    it('x.4 rejects listing the create sender or an additional creator in users', () => {
      const r = room('12', ALICE, { additional_creators: [BOB] }).join(ALICE);
      expect(pl(r, ALICE, { users: { [ALICE]: 100 } })).toMatchObject({ rule: 'power_levels.users_creator' });
      expect(pl(r, ALICE, { users: { [BOB]: 100 } })).toMatchObject({ rule: 'power_levels.users_creator' });
      expect(pl(r, ALICE, { users: { [CAROL]: 100 } })).toEqual({ allowed: true });
    });
    it('a creator may set any level; creators keep infinite power whatever the levels say', () => {
      const { r, content } = base('12');
      expect(pl(r, ALICE, { ...content, users: { [BOB]: 9_007_199_254_740_991 }, ban: 9_000_000 })).toEqual({ allowed: true });
      const levels = PowerLevels.fromAuthEvents(r.lookup, roomVersion('12'));
      expect(levels.userLevel(ALICE)).toBe(Number.POSITIVE_INFINITY);
      expect(levels.userLevel(BOB)).toBe(50);
    });
    it('before v12 the creator may be listed in users', () => {
      const r = room('11').join(ALICE);
      expect(pl(r, ALICE, { users: { [ALICE]: 100 } })).toEqual({ allowed: true });
    });
  });
});

describe('PowerLevels defaults', () => {
  it.each(versionsWhere((r) => !r.privilegedCreators))('v%s: without power levels the creator has 100 and others 0', (v) => {
    const levels = PowerLevels.fromAuthEvents(room(v).lookup, roomVersion(v));
    expect(levels.exists).toBe(false);
    expect(levels.userLevel(ALICE)).toBe(100);
    expect(levels.userLevel(BOB)).toBe(0);
    expect(levels.requiredLevel('m.room.name', true)).toBe(50);
    expect(levels.requiredLevel('m.room.message', false)).toBe(0);
    expect([levels.level('ban'), levels.level('kick'), levels.level('redact'), levels.level('invite')]).toEqual([50, 50, 50, 0]);
  });
  it('v12: without power levels creators are infinite and others 0', () => {
    const levels = PowerLevels.fromAuthEvents(room('12', ALICE, { additional_creators: [BOB] }).lookup, roomVersion('12'));
    expect(levels.userLevel(ALICE)).toBe(Number.POSITIVE_INFINITY);
    expect(levels.userLevel(BOB)).toBe(Number.POSITIVE_INFINITY);
    expect(levels.userLevel(CAROL)).toBe(0);
  });
  it('users_default applies to unlisted users', () => {
    const r = standardRoom('10', 'public', { users_default: 7 });
    expect(PowerLevels.fromAuthEvents(r.lookup, roomVersion('10')).userLevel(BOB)).toBe(7);
  });
});
