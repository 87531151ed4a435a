import { RoomCommandError } from '../../errors';
import { decideCreateRoom } from './decide';

const context = { serverName: 'hs.example', defaultRoomVersion: '11' };
const ALICE = '@alice:hs.example';
const BOB = '@bob:hs.example';

describe('decideCreateRoom', () => {
  it('uses the visibility to pick the preset when none is given', () => {
    const publicRoom = decideCreateRoom(ALICE, { visibility: 'public' }, undefined, context);
    expect(publicRoom.events.find((e) => e.type === 'm.room.join_rules')?.content).toEqual({ join_rule: 'public' });
    expect(publicRoom.visibility).toBe('public');
    const privateRoom = decideCreateRoom(ALICE, {}, undefined, context);
    expect(privateRoom.events.find((e) => e.type === 'm.room.join_rules')?.content).toEqual({ join_rule: 'invite' });
    expect(privateRoom.rules.id).toBe('11');
  });

  it('uses an m.room.power_levels of initial_state as the base of the override', () => {
    const decision = decideCreateRoom(
      ALICE,
      {
        initial_state: [{ type: 'm.room.power_levels', content: { users: { [ALICE]: 100 }, ban: 10 } }],
        power_level_content_override: { kick: 5 },
      },
      undefined,
      context,
    );
    const levels = decision.events.filter((e) => e.type === 'm.room.power_levels');
    expect(levels).toHaveLength(1);
    expect(levels[0].content).toEqual({ users: { [ALICE]: 100 }, ban: 10, kick: 5 });
  });

  it('drops initial_state name and topic when name and topic are given, and deduplicates invites', () => {
    const decision = decideCreateRoom(
      ALICE,
      { name: 'N', initial_state: [{ type: 'm.room.name', content: { name: 'old' } }], invite: [BOB, BOB] },
      undefined,
      context,
    );
    expect(decision.events.filter((e) => e.type === 'm.room.name').map((e) => e.content)).toEqual([{ name: 'N' }]);
    expect(decision.events.filter((e) => e.stateKey === BOB)).toHaveLength(1);
  });

  it('does not invite the creator', () => {
    const decision = decideCreateRoom(ALICE, { invite: [ALICE, BOB] }, undefined, context);
    expect(decision.events.filter((e) => e.type === 'm.room.member').map((e) => [e.stateKey, e.content.membership])).toEqual([
      [ALICE, 'join'],
      [BOB, 'invite'],
    ]);
  });

  it.each([
    [{ visibility: 'hidden' }, 'M_BAD_JSON'],
    [{ name: 5 }, 'M_BAD_JSON'],
    [{ is_direct: 'yes' }, 'M_BAD_JSON'],
    [{ invite: BOB }, 'M_BAD_JSON'],
    [{ initial_state: [{ type: 'x', content: [] }] }, 'M_BAD_JSON'],
    [{ initial_state: [{ type: 'x', state_key: 1, content: {} }] }, 'M_BAD_JSON'],
    [{ creation_content: [] }, 'M_BAD_JSON'],
    [{ room_version: 11 }, 'M_BAD_JSON'],
    [{ room_version: '0' }, 'M_UNSUPPORTED_ROOM_VERSION'],
    [{ room_alias_name: 'a:b' }, 'M_INVALID_PARAM'],
  ])('refuses %j with %s', (request, errcode) => {
    let error: unknown;
    try {
      decideCreateRoom(ALICE, request, undefined, context);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(RoomCommandError);
    expect((error as RoomCommandError).errcode).toBe(errcode);
  });
});
