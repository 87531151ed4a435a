import { roomVersion } from '../room-versions';
import { ALICE, ALL_VERSIONS, BOB, room } from '../auth/testing/test-room';
import { initialPowerLevelsContent, V12_TOMBSTONE_LEVEL } from './initial-power-levels';

describe('initialPowerLevelsContent', () => {
  it.each(ALL_VERSIONS)('v%s: passes the auth rules as the first power levels of a new room', (v) => {
    const r = room(v).join(ALICE);
    const content = initialPowerLevelsContent(v, ALICE);
    expect(r.check({ sender: ALICE, type: 'm.room.power_levels', state_key: '', content })).toEqual({ allowed: true });
    r.powerLevels(ALICE, content).joinRules(ALICE, 'public').join(BOB);
    // The creator may upgrade (send m.room.tombstone); a user at 100 only before v12.
    const rules = roomVersion(v);
    expect(r.check({ sender: ALICE, type: 'm.room.tombstone', state_key: '', content: {} })).toEqual({ allowed: true });
    r.powerLevels(ALICE, { ...content, users: { ...(content.users as object), [BOB]: 100 } });
    const bobTombstone = r.check({ sender: BOB, type: 'm.room.tombstone', state_key: '', content: {} });
    expect(bobTombstone.allowed).toBe(!rules.privilegedCreators);
  });
  it('v12 lists no creator in users and sets the tombstone above state_default', () => {
    const content = initialPowerLevelsContent('12', ALICE);
    expect(content.users).toEqual({});
    expect((content.events as Record<string, number>)['m.room.tombstone']).toBe(V12_TOMBSTONE_LEVEL);
    expect(initialPowerLevelsContent('11', ALICE).users).toEqual({ [ALICE]: 100 });
  });
});
