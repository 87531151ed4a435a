import fc from 'fast-check';
import { stateKey, type RoomEvent, type StateMap } from '../events/types';
import { roomVersion } from '../room-versions';
import { EventRoomMismatchError, InvalidStateSetError, MissingEventsError, StateResolutionError } from './errors';
import { CLASSIC_CASES } from './fixtures/classic';
import { ALICE, BOB, buildDag, changedState, eventId, nodesOf, stateOf, type FixtureRoom } from './fixtures/dsl';
import { PROBLEM_A_EXPECTED, PROBLEM_B_EXPECTED, problemA, problemB } from './fixtures/msc4297';
import { missingEventIdsForResolution, resolveState } from './resolve';
import { eventIdSha1 } from './v1';

describe('resolveState: classic DAGs (state resolution v2)', () => {
  for (const version of ['2', '6', '11']) {
    describe(`room version ${version}`, () => {
      for (const c of CLASSIC_CASES) {
        it(c.name, () => {
          const room = buildDag({ roomVersion: version, events: c.events, edges: c.edges });
          expect(changedState(room, 'END', 'START', c.expected)).toEqual([...c.expected].sort());
        });
      }
    });
  }
});

describe('resolveState: the state resets v2.1 prevents', () => {
  const resolve = (fixture: { room: FixtureRoom; stateSets: string[][] }): string[] =>
    nodesOf(
      resolveState(
        fixture.stateSets.map((s) => stateOf(fixture.room, s)),
        fixture.room.getEvent,
        fixture.room.rules,
      ),
    );

  it('problem A: v2 (room 11) loses the join rules', () => {
    expect(resolve(problemA('11'))).toEqual([...PROBLEM_A_EXPECTED.v2]);
  });
  it('problem A: v2.1 (room 12) keeps the newer join rules', () => {
    expect(resolve(problemA('12'))).toEqual([...PROBLEM_A_EXPECTED['v2.1']]);
  });
  it('problem B: v2 (room 11) resets the power levels', () => {
    expect(resolve(problemB('11'))).toEqual([...PROBLEM_B_EXPECTED.v2]);
  });
  it('problem B: v2.1 (room 12) replays the conflicted subgraph and keeps the newest power levels', () => {
    expect(resolve(problemB('12'))).toEqual([...PROBLEM_B_EXPECTED['v2.1']]);
  });
});

describe('resolveState: state resolution v1 (room version 1)', () => {
  it('prefers the deeper of two conflicting topics (v2 prefers the later one)', () => {
    const events = [
      ['T1', ALICE, 'm.room.topic', '', { topic: 'a' }],
      ['T2', ALICE, 'm.room.topic', '', { topic: 'b' }],
      ['T3', ALICE, 'm.room.topic', '', { topic: 'c' }],
    ] as const;
    const edges = [
      ['END', 'T2', 'T1', 'START'],
      ['END', 'T3', 'START'],
    ];
    // T2 has depth 10, T3 depth 9 but the later origin_server_ts.
    const v1 = buildDag({ roomVersion: '1', events, edges });
    expect(v1.event('T2').depth).toBeGreaterThan(v1.event('T3').depth);
    expect(v1.event('T3').origin_server_ts).toBeGreaterThan(v1.event('T2').origin_server_ts);
    expect(changedState(v1, 'END', 'START', ['T2'])).toEqual(['T2']);
    const v2 = buildDag({ roomVersion: '2', events, edges });
    expect(changedState(v2, 'END', 'START', ['T3'])).toEqual(['T3']);
  });

  it('breaks a depth tie by the lowest sha1 of the event id', () => {
    // sha1('$T1:example.com') = 5d9d88f3…, sha1('$TA:example.com') = 29b6e1ae…,
    // sha1('$TD:example.com') = eaa76948…: TA has the lowest hash, while T1 has the smallest id
    // and TD the latest origin_server_ts (which v2 would pick).
    for (const [node, hash] of [['T1', '5d9d88f3'], ['TA', '29b6e1ae'], ['TD', 'eaa76948']] as const) {
      expect(eventIdSha1(eventId(node)).startsWith(hash)).toBe(true);
    }
    const events = [
      ['T1', ALICE, 'm.room.topic', '', { topic: '1' }],
      ['TA', ALICE, 'm.room.topic', '', { topic: 'a' }],
      ['TD', ALICE, 'm.room.topic', '', { topic: 'd' }],
    ] as const;
    const edges = [['END', 'T1', 'START'], ['END', 'TA', 'START'], ['END', 'TD', 'START']];
    const room = buildDag({ roomVersion: '1', events, edges });
    expect(new Set(['T1', 'TA', 'TD'].map((n) => room.event(n).depth)).size).toBe(1);
    expect(changedState(room, 'END', 'START', ['TA'])).toEqual(['TA']);
    expect(changedState(buildDag({ roomVersion: '2', events, edges }), 'END', 'START', ['TD'])).toEqual(['TD']);
  });

  it('replays power levels from the shallowest and stops at the first that fails (a reset v2 avoids)', () => {
    // Alice promotes bob (PA), bob changes the power levels (PB); the other fork never saw
    // either. v1 starts from the shallowest conflicting event, IPOWER, against which PB fails:
    // the power levels reset to IPOWER. v2 replays PA from the auth difference and keeps PB.
    const events = [
      ['PA', ALICE, 'm.room.power_levels', '', { users: { [ALICE]: 100, [BOB]: 50 } }],
      ['PB', BOB, 'm.room.power_levels', '', { users: { [ALICE]: 100, [BOB]: 50, '@charlie:example.com': 50 } }],
      ['MSG', ALICE, 'm.room.message', null, {}],
    ] as const;
    const edges = [
      ['END', 'PB', 'PA', 'START'],
      ['END', 'MSG', 'START'],
    ];
    expect(changedState(buildDag({ roomVersion: '1', events, edges }), 'END', 'START', ['IPOWER'])).toEqual(['IPOWER']);
    expect(changedState(buildDag({ roomVersion: '2', events, edges }), 'END', 'START', ['PB'])).toEqual(['PB']);
  });

  it('keeps a ban over a deeper membership change of the banned user', () => {
    const room = buildDag({
      roomVersion: '1',
      events: [
        ['MB', ALICE, 'm.room.member', BOB, { membership: 'ban' }],
        ['MSG', BOB, 'm.room.message', null, {}],
        ['MB2', BOB, 'm.room.member', BOB, { membership: 'join', displayname: 'bob' }],
      ],
      edges: [
        ['END', 'MB', 'START'],
        ['END', 'MB2', 'MSG', 'START'],
      ],
    });
    expect(room.event('MB2').depth).toBeGreaterThan(room.event('MB').depth);
    expect(changedState(room, 'END', 'START', ['MB'])).toEqual(['MB']);
  });

  it('keeps a key that only some state sets hold (it is not a conflict in v1)', () => {
    const room = buildDag({
      roomVersion: '1',
      events: [['T1', ALICE, 'm.room.topic', '', {}], ['MSG', ALICE, 'm.room.message', null, {}]],
      edges: [
        ['END', 'T1', 'START'],
        ['END', 'MSG', 'START'],
      ],
    });
    expect(changedState(room, 'END', 'START', ['T1'])).toEqual(['T1']);
  });
});

function allStates(room: FixtureRoom): StateMap[] {
  return [...room.stateAfter.values()];
}

describe('resolveState: properties', () => {
  const rooms = CLASSIC_CASES.map((c) => buildDag({ roomVersion: '11', events: c.events, edges: c.edges }));
  const v1Rooms = CLASSIC_CASES.map((c) => buildDag({ roomVersion: '1', events: c.events, edges: c.edges }));
  const pick = (pool: FixtureRoom[]) =>
    fc
      .integer({ min: 0, max: pool.length - 1 })
      .chain((i) => {
        const states = allStates(pool[i] as FixtureRoom);
        return fc.tuple(fc.constant(pool[i] as FixtureRoom), fc.array(fc.constantFrom(...states), { minLength: 1, maxLength: 4 }));
      });

  it('keeps every unconflicted entry', () => {
    fc.assert(
      fc.property(pick(rooms), ([room, sets]) => {
        const resolved = resolveState(sets, room.getEvent, room.rules);
        const first = sets[0] as StateMap;
        for (const [key, id] of first) {
          if (sets.every((s) => s.get(key) === id)) expect(resolved.get(key)).toBe(id);
        }
      }),
      { numRuns: 60 },
    );
  });

  it('resolves a single state set to itself', () => {
    for (const pool of [rooms, v1Rooms]) {
      for (const room of pool) {
        for (const state of allStates(room)) expect(new Map(resolveState([state], room.getEvent, room.rules))).toEqual(new Map(state));
      }
    }
  });

  it('does not depend on the order of the state sets', () => {
    fc.assert(
      fc.property(pick([...rooms, ...v1Rooms]), fc.integer(), ([room, sets], seed) => {
        const shuffled = [...sets].sort((a, b) => ((a.size * 31 + seed) % 7) - ((b.size * 17 + seed) % 5));
        const reversed = [...sets].reverse();
        const base = new Map(resolveState(sets, room.getEvent, room.rules));
        expect(new Map(resolveState(reversed, room.getEvent, room.rules))).toEqual(base);
        expect(new Map(resolveState(shuffled, room.getEvent, room.rules))).toEqual(base);
      }),
      { numRuns: 60 },
    );
  });

  it('only ever holds events of the state sets', () => {
    fc.assert(
      fc.property(pick(rooms), ([room, sets]) => {
        const resolved = resolveState(sets, room.getEvent, room.rules);
        for (const [key, id] of resolved) {
          const event = room.getEvent(id) as RoomEvent;
          expect(stateKey(event.type, event.state_key ?? '')).toBe(key);
        }
      }),
      { numRuns: 40 },
    );
  });
});

describe('resolveState: input errors and loading', () => {
  const c = CLASSIC_CASES.find((x) => x.name === 'topic basic');
  if (!c) throw new Error('fixture missing');
  const room = buildDag({ roomVersion: '11', events: c.events, edges: c.edges });
  const sets = [room.stateAfter.get('PA2') as StateMap, room.stateAfter.get('T3') as StateMap];

  it('returns the unconflicted state without loading anything when nothing conflicts', () => {
    const state = room.stateAfter.get('START') as StateMap;
    expect(missingEventIdsForResolution([state, state], () => undefined, room.rules)).toEqual([]);
    expect(new Map(resolveState([state, new Map(state)], () => undefined, room.rules))).toEqual(new Map(state));
    expect(resolveState([], () => undefined, room.rules).size).toBe(0);
  });

  it('names what to load, then the auth chains once those are loaded', () => {
    const loaded = new Map<string, RoomEvent>();
    const getEvent = (id: string): RoomEvent | undefined => loaded.get(id);
    let rounds = 0;
    for (;;) {
      const missing = missingEventIdsForResolution(sets, getEvent, room.rules);
      if (missing.length === 0) break;
      rounds += 1;
      for (const id of missing) loaded.set(id, room.getEvent(id) as RoomEvent);
    }
    expect(rounds).toBeGreaterThan(1);
    // Everything in the state sets and their auth chains, nothing else (not the messages).
    expect(loaded.has(eventId('START'))).toBe(false);
    expect(loaded.has(eventId('CREATE'))).toBe(true);
    expect(nodesOf(resolveState(sets, getEvent, room.rules))).toEqual(nodesOf(resolveState(sets, room.getEvent, room.rules)));
  });

  it('throws MissingEventsError naming the missing events', () => {
    const without = (missing: string) => (id: string) => (id === missing ? undefined : room.getEvent(id));
    expect(() => resolveState(sets, without(eventId('PB')), room.rules)).toThrow(MissingEventsError);
    try {
      resolveState(sets, without(eventId('IPOWER')), room.rules);
      throw new Error('expected an error');
    } catch (e) {
      expect(e).toBeInstanceOf(StateResolutionError);
      expect((e as MissingEventsError).eventIds).toEqual([eventId('IPOWER')]);
    }
  });

  it('throws EventRoomMismatchError for an event of another room', () => {
    const foreign = { ...(room.getEvent(eventId('T3')) as RoomEvent), room_id: '!other:example.com' };
    const getEvent = (id: string): RoomEvent | undefined => (id === foreign.event_id ? foreign : room.getEvent(id));
    expect(() => resolveState(sets, getEvent, room.rules)).toThrow(EventRoomMismatchError);
  });

  it('throws InvalidStateSetError for an entry filed under another key', () => {
    const bad = new Map(sets[1]);
    bad.set(stateKey('m.room.name', ''), eventId('T3'));
    expect(() => resolveState([sets[0] as StateMap, bad], room.getEvent, room.rules)).toThrow(InvalidStateSetError);
  });

  it('dispatches on the room version: v1 rooms use v1', () => {
    expect(roomVersion('1').stateResolution).toBe('v1');
    expect(roomVersion('12').stateResolution).toBe('v2.1');
  });
});
