import { checkAuth } from '../auth';
import { stateKey, type RoomEvent, type StateMap } from '../events/types';
import { authChain } from './auth-chain';
import { authDifference } from './auth-difference';
import { splitConflictedState, splitConflictedStateV1 } from './conflicted';
import { conflictedStateSubgraph } from './conflicted-subgraph';
import { MissingEventsError } from './errors';
import { authEventIds, isPowerEvent } from './events';
import { ALICE, BOB, CHARLIE, ZARA, buildExplicit, eventId, join, nodeOf, stateOf, type ExplicitEventSpec } from './fixtures/dsl';
import { iterativeAuthChecks } from './iterative-auth-checks';
import { mainline, mainlineOrdering, mainlinePosition } from './mainline';
import { senderPowerLevel } from './power-level';
import { lexicographicalTopologicalSort, reverseTopologicalPowerOrdering } from './power-ordering';
import { v1AuthEventOrder } from './v1';

const k = (type: string, key = ''): ReturnType<typeof stateKey> => stateKey(type, key);
const ids = (nodes: string[]): string[] => nodes.map(eventId);
const nodes = (list: Iterable<string>): string[] => [...list].map(nodeOf);

/** A small room: create, alice joined, power levels (bob 50, charlie 50), public, bob/charlie/zara joined. */
const BASE: ExplicitEventSpec[] = [
  ['CREATE', ALICE, 'm.room.create', '', { creator: ALICE }, [], [], 0],
  ['MA', ALICE, 'm.room.member', ALICE, join, ['CREATE'], ['CREATE'], 1],
  ['P0', ALICE, 'm.room.power_levels', '', { users: { [ALICE]: 100, [BOB]: 50, [CHARLIE]: 50 } }, ['CREATE', 'MA'], ['MA'], 2],
  ['JR', ALICE, 'm.room.join_rules', '', { join_rule: 'public' }, ['CREATE', 'MA', 'P0'], ['P0'], 3],
  ['MB', BOB, 'm.room.member', BOB, join, ['CREATE', 'P0', 'JR'], ['JR'], 4],
  ['MC', CHARLIE, 'm.room.member', CHARLIE, join, ['CREATE', 'P0', 'JR'], ['MB'], 5],
  ['MZ', ZARA, 'm.room.member', ZARA, join, ['CREATE', 'P0', 'JR'], ['MC'], 6],
];

describe('splitting conflicted state', () => {
  const s1 = new Map([[k('a'), '$1'], [k('b'), '$2'], [k('c'), '$3']]);
  const s2 = new Map([[k('a'), '$1'], [k('b'), '$4']]);

  it('v2: a key missing from a state set is conflicted', () => {
    const { unconflicted, conflicted } = splitConflictedState([s1, s2]);
    expect([...unconflicted]).toEqual([[k('a'), '$1']]);
    expect(conflicted.get(k('b'))).toEqual(new Set(['$2', '$4']));
    expect(conflicted.get(k('c'))).toEqual(new Set(['$3']));
  });

  it('v1: only differing event ids conflict', () => {
    const { unconflicted, conflicted } = splitConflictedStateV1([s1, s2]);
    expect(new Map(unconflicted)).toEqual(new Map([[k('a'), '$1'], [k('c'), '$3']]));
    expect([...conflicted.keys()]).toEqual([k('b')]);
  });
});

describe('auth chain and auth difference', () => {
  const room = buildExplicit('10', [
    ...BASE,
    ['PB', BOB, 'm.room.power_levels', '', { users: { [ALICE]: 100, [BOB]: 50 } }, ['CREATE', 'P0', 'MB'], ['MZ'], 7],
    ['T', CHARLIE, 'm.room.topic', '', {}, ['CREATE', 'P0', 'MC'], ['MZ'], 8],
  ]);

  it('follows auth_events recursively, without the starting event', () => {
    expect(nodes(authChain([eventId('PB')], room.getEvent, room.rules)).sort()).toEqual(['CREATE', 'JR', 'MA', 'MB', 'P0']);
  });

  it('is the events in some but not all full auth chains', () => {
    const a = stateOf(room, ['CREATE', 'MA', 'PB', 'JR', 'MB']);
    const b = stateOf(room, ['CREATE', 'MA', 'P0', 'JR', 'MB', 'T']);
    // a's chain: CREATE, MA, P0, JR, MB (via PB). b's chain: CREATE, MA, P0, JR, MC (via T).
    expect(nodes(authDifference([a, b], room.getEvent, room.rules)).sort()).toEqual(['MB', 'MC']);
  });

  it('names every missing event', () => {
    const getEvent = (id: string): RoomEvent | undefined => (id === eventId('P0') ? undefined : room.getEvent(id));
    expect(() => authChain([eventId('PB')], getEvent, room.rules)).toThrow(MissingEventsError);
  });

  it('adds the create event implied by a room version 12 room id', () => {
    const v12 = buildExplicit('12', [
      ['CREATE', ALICE, 'm.room.create', '', {}, [], [], 0],
      ['MA', ALICE, 'm.room.member', ALICE, join, [], ['CREATE'], 1],
    ]);
    expect(authEventIds(v12.event('MA'), v12.rules)).toEqual([eventId('CREATE')]);
    expect(authEventIds(v12.event('CREATE'), v12.rules)).toEqual([]);
  });
});

describe('conflicted state subgraph (v2.1)', () => {
  // P3 -> P2 -> P1 -> P0 and a side branch X -> P1; T -> P0.
  const room = buildExplicit('12', [
    ['CREATE', ALICE, 'm.room.create', '', {}, [], [], 0],
    ['MA', ALICE, 'm.room.member', ALICE, join, [], ['CREATE'], 1],
    ['P0', ALICE, 'm.room.power_levels', '', { users: {} }, ['MA'], ['MA'], 2],
    ['P1', ALICE, 'm.room.power_levels', '', { users: { [BOB]: 1 } }, ['MA', 'P0'], ['P0'], 3],
    ['P2', ALICE, 'm.room.power_levels', '', { users: { [BOB]: 2 } }, ['MA', 'P1'], ['P1'], 4],
    ['P3', ALICE, 'm.room.power_levels', '', { users: { [BOB]: 3 } }, ['MA', 'P2'], ['P2'], 5],
    ['X', ALICE, 'm.room.join_rules', '', { join_rule: 'public' }, ['MA', 'P1'], ['P1'], 6],
  ]);

  it('holds every event on a path between two conflicted events, endpoints included', () => {
    const sub = conflictedStateSubgraph(new Set(ids(['P3', 'P0'])), room.getEvent, room.rules);
    expect(nodes(sub).sort()).toEqual(['P0', 'P1', 'P2', 'P3']);
  });

  it('leaves out events that do not lead to another conflicted event', () => {
    const sub = conflictedStateSubgraph(new Set(ids(['P3', 'X'])), room.getEvent, room.rules);
    // P1 is below both but leads to neither; MA and CREATE likewise.
    expect(nodes(sub).sort()).toEqual(['P3', 'X']);
    const sub2 = conflictedStateSubgraph(new Set(ids(['P3', 'X', 'P1'])), room.getEvent, room.rules);
    expect(nodes(sub2).sort()).toEqual(['P1', 'P2', 'P3', 'X']);
  });
});

describe('lexicographical topological sort', () => {
  it('puts pointed-at nodes first and breaks ties with the comparison', () => {
    const graph = new Map([
      ['l', new Set(['o'])],
      ['m', new Set(['n', 'o'])],
      ['n', new Set(['o'])],
      ['o', new Set<string>()],
      ['p', new Set(['o'])],
    ]);
    expect(lexicographicalTopologicalSort(graph, (a, b) => (a < b ? -1 : a > b ? 1 : 0))).toEqual(['o', 'l', 'n', 'm', 'p']);
    // Reversing the tiebreak changes the order among ready nodes only.
    expect(lexicographicalTopologicalSort(graph, (a, b) => (a < b ? 1 : a > b ? -1 : 0))).toEqual(['o', 'p', 'n', 'm', 'l']);
  });
});

describe('reverse topological power ordering', () => {
  // Independent join rules events citing P0, by senders of different power.
  const room = buildExplicit('10', [
    ...BASE,
    ['J_CHARLIE_5', CHARLIE, 'm.room.join_rules', '', {}, ['CREATE', 'P0', 'MC'], ['MZ'], 5],
    ['J_ALICE_9', ALICE, 'm.room.join_rules', '', {}, ['CREATE', 'P0', 'MA'], ['MZ'], 9],
    ['J_BOB_7', BOB, 'm.room.join_rules', '', {}, ['CREATE', 'P0', 'MB'], ['MZ'], 7],
    ['J_BOB_3', BOB, 'm.room.join_rules', '', {}, ['CREATE', 'P0', 'MB'], ['MZ'], 3],
    ['J_BOB_3B', BOB, 'm.room.join_rules', '', {}, ['CREATE', 'P0', 'MB'], ['MZ'], 3],
    ['J_ZARA_1', ZARA, 'm.room.join_rules', '', {}, ['CREATE', 'P0', 'MZ'], ['MZ'], 1],
    // Cites J_ZARA_1: must come after it whatever the power.
    ['J_ALICE_AFTER', ALICE, 'm.room.join_rules', '', {}, ['CREATE', 'P0', 'MA', 'J_ZARA_1'], ['MZ'], 10],
  ]);

  it('orders by greater sender power, then earlier origin_server_ts, then smaller event id', () => {
    const sorted = reverseTopologicalPowerOrdering(
      ids(['J_ZARA_1', 'J_BOB_3B', 'J_BOB_7', 'J_CHARLIE_5', 'J_BOB_3', 'J_ALICE_9']),
      room.getEvent,
      room.rules,
    );
    // alice 100; bob and charlie 50 (ts 3, 3, 5, 7; the ts-3 tie by id); zara 0.
    expect(nodes(sorted)).toEqual(['J_ALICE_9', 'J_BOB_3', 'J_BOB_3B', 'J_CHARLIE_5', 'J_BOB_7', 'J_ZARA_1']);
  });

  it('never puts an event before its auth events', () => {
    const sorted = reverseTopologicalPowerOrdering(ids(['J_ALICE_AFTER', 'J_ZARA_1', 'J_BOB_7']), room.getEvent, room.rules);
    expect(nodes(sorted)).toEqual(['J_BOB_7', 'J_ZARA_1', 'J_ALICE_AFTER']);
  });
});

describe('sender power level', () => {
  it('reads the power levels among the auth events, else users_default', () => {
    const room = buildExplicit('10', [
      ...BASE,
      ['PD', ALICE, 'm.room.power_levels', '', { users: { [ALICE]: 100 }, users_default: 7 }, ['CREATE', 'P0', 'MA'], ['MZ'], 7],
      ['EZ', ZARA, 'm.room.topic', '', {}, ['CREATE', 'PD', 'MZ'], ['PD'], 8],
      ['EB', BOB, 'm.room.topic', '', {}, ['CREATE', 'P0', 'MB'], ['MZ'], 8],
    ]);
    expect(senderPowerLevel(room.event('EZ'), room.getEvent, room.rules)).toBe(7);
    expect(senderPowerLevel(room.event('EB'), room.getEvent, room.rules)).toBe(50);
  });

  it('gives the creator 100 without power levels, and accepts string levels before room version 10', () => {
    const room = buildExplicit('6', [
      ['CREATE', ALICE, 'm.room.create', '', { creator: ALICE }, [], [], 0],
      ['MA', ALICE, 'm.room.member', ALICE, join, ['CREATE'], ['CREATE'], 1],
      ['P', ALICE, 'm.room.power_levels', '', { users: { [ALICE]: 100, [BOB]: ' 42 ' } }, ['CREATE', 'MA'], ['MA'], 2],
      ['EB', BOB, 'm.room.topic', '', {}, ['CREATE', 'P'], ['P'], 3],
    ]);
    expect(senderPowerLevel(room.event('MA'), room.getEvent, room.rules)).toBe(100);
    expect(senderPowerLevel(room.event('EB'), room.getEvent, room.rules)).toBe(42);
  });

  it('gives room version 12 creators infinite power', () => {
    const room = buildExplicit('12', [
      ['CREATE', ALICE, 'm.room.create', '', { additional_creators: [BOB] }, [], [], 0],
      ['MA', ALICE, 'm.room.member', ALICE, join, [], ['CREATE'], 1],
      ['P', ALICE, 'm.room.power_levels', '', { users: { [CHARLIE]: 60 } }, ['MA'], ['MA'], 2],
      ['EB', BOB, 'm.room.topic', '', {}, ['P'], ['P'], 3],
      ['EC', CHARLIE, 'm.room.topic', '', {}, ['P'], ['P'], 3],
    ]);
    expect(senderPowerLevel(room.event('EB'), room.getEvent, room.rules)).toBe(Infinity);
    expect(senderPowerLevel(room.event('EC'), room.getEvent, room.rules)).toBe(60);
  });
});

describe('mainline ordering', () => {
  // Mainline P3 -> P2 -> P1 -> P0; PX cites P1 but is off the mainline.
  const pl = (n: number): { users: Record<string, number> } => ({ users: { [ALICE]: 100, [BOB]: n } });
  const room = buildExplicit('10', [
    ['CREATE', ALICE, 'm.room.create', '', { creator: ALICE }, [], [], 0],
    ['MA', ALICE, 'm.room.member', ALICE, join, ['CREATE'], ['CREATE'], 1],
    ['P0', ALICE, 'm.room.power_levels', '', pl(0), ['CREATE', 'MA'], ['MA'], 2],
    ['P1', ALICE, 'm.room.power_levels', '', pl(1), ['CREATE', 'MA', 'P0'], ['P0'], 3],
    ['P2', ALICE, 'm.room.power_levels', '', pl(2), ['CREATE', 'MA', 'P1'], ['P1'], 4],
    ['P3', ALICE, 'm.room.power_levels', '', pl(3), ['CREATE', 'MA', 'P2'], ['P2'], 5],
    ['PX', ALICE, 'm.room.power_levels', '', pl(9), ['CREATE', 'MA', 'P1'], ['P1'], 6],
    ['T_P2', ALICE, 'm.room.topic', '', {}, ['CREATE', 'MA', 'P2'], ['P3'], 10],
    ['T_P1', ALICE, 'm.room.topic', '', {}, ['CREATE', 'MA', 'P1'], ['P3'], 20],
    ['T_PX', ALICE, 'm.room.topic', '', {}, ['CREATE', 'MA', 'PX'], ['P3'], 15],
    ['T_NONE_B', ALICE, 'm.room.topic', '', {}, ['CREATE', 'MA'], ['P3'], 30],
    ['T_NONE_A', ALICE, 'm.room.topic', '', {}, ['CREATE', 'MA'], ['P3'], 30],
  ]);
  const positions = new Map(mainline(eventId('P3'), room.getEvent, room.rules).map((id, i) => [id, i] as const));

  it('builds the mainline from the power levels event down', () => {
    expect(nodes(mainline(eventId('P3'), room.getEvent, room.rules))).toEqual(['P3', 'P2', 'P1', 'P0']);
    expect(mainline(undefined, room.getEvent, room.rules)).toEqual([]);
  });

  it('gives the index of the closest mainline power levels event, or Infinity', () => {
    expect(mainlinePosition(eventId('T_P2'), positions, room.getEvent, room.rules)).toBe(1);
    expect(mainlinePosition(eventId('T_P1'), positions, room.getEvent, room.rules)).toBe(2);
    expect(mainlinePosition(eventId('T_PX'), positions, room.getEvent, room.rules)).toBe(2);
    expect(mainlinePosition(eventId('T_NONE_A'), positions, room.getEvent, room.rules)).toBe(Infinity);
  });

  it('sorts by greater position, then origin_server_ts, then event id', () => {
    const sorted = mainlineOrdering(ids(['T_P2', 'T_P1', 'T_PX', 'T_NONE_B', 'T_NONE_A']), eventId('P3'), room.getEvent, room.rules);
    expect(nodes(sorted)).toEqual(['T_NONE_A', 'T_NONE_B', 'T_PX', 'T_P1', 'T_P2']);
  });
});

describe('iterative auth checks', () => {
  const room = buildExplicit('10', [
    ...BASE,
    ['BAN_B', ALICE, 'm.room.member', BOB, { membership: 'ban' }, ['CREATE', 'P0', 'MA', 'MB'], ['MZ'], 7],
    ['T_B', BOB, 'm.room.topic', '', {}, ['CREATE', 'P0', 'MB'], ['MZ'], 8],
    ['T_Z', ZARA, 'm.room.topic', '', {}, ['CREATE', 'P0', 'MZ'], ['MZ'], 9],
  ]);
  const base: StateMap = stateOf(room, ['CREATE', 'MA', 'P0', 'JR', 'MB', 'MC', 'MZ']);

  it('applies allowed events in order and ignores the others', () => {
    const out = iterativeAuthChecks(ids(['BAN_B', 'T_B', 'T_Z']), base, room.getEvent, room.rules, checkAuth);
    expect(out.get(k('m.room.member', BOB))).toBe(eventId('BAN_B'));
    // Bob is banned, zara lacks the power (state_default 50): the topic is not set.
    expect(out.has(k('m.room.topic'))).toBe(false);
    const reordered = iterativeAuthChecks(ids(['T_B', 'BAN_B']), base, room.getEvent, room.rules, checkAuth);
    expect(reordered.get(k('m.room.topic'))).toBe(eventId('T_B'));
  });

  it('falls back to the event\'s own auth events for keys missing from the state', () => {
    const out = iterativeAuthChecks(ids(['T_B']), new Map(), room.getEvent, room.rules, checkAuth);
    expect(out.get(k('m.room.topic'))).toBe(eventId('T_B'));
  });

  it('does not use rejected auth events', () => {
    const isRejected = (id: string): boolean => id === eventId('MB');
    const out = iterativeAuthChecks(ids(['T_B']), new Map(), room.getEvent, room.rules, checkAuth, { isRejected });
    expect(out.has(k('m.room.topic'))).toBe(false);
    // A rejected event in the state is skipped for the event's own (accepted) auth event.
    const withRejectedState = new Map(base);
    withRejectedState.set(k('m.room.member', BOB), eventId('BAN_B'));
    const out2 = iterativeAuthChecks(ids(['T_B']), withRejectedState, room.getEvent, room.rules, checkAuth, {
      isRejected: (id) => id === eventId('BAN_B'),
    });
    expect(out2.get(k('m.room.topic'))).toBe(eventId('T_B'));
  });
});

describe('power events and v1 order', () => {
  const room = buildExplicit('1', [
    ...BASE,
    ['KICK', ALICE, 'm.room.member', BOB, { membership: 'leave' }, ['CREATE', 'P0', 'MA', 'MB'], ['MZ'], 7],
    ['LEAVE', CHARLIE, 'm.room.member', CHARLIE, { membership: 'leave' }, ['CREATE', 'P0', 'MC'], ['MZ'], 7],
  ]);

  it('counts power levels, join rules, kicks and bans, not own leaves or joins', () => {
    expect(['P0', 'JR', 'KICK'].map((n) => isPowerEvent(room.event(n)))).toEqual([true, true, true]);
    expect(['LEAVE', 'MB', 'CREATE'].map((n) => isPowerEvent(room.event(n)))).toEqual([false, false, false]);
  });

  it('v1 replays auth events by ascending depth', () => {
    expect(nodes(v1AuthEventOrder([room.event('KICK'), room.event('MB'), room.event('CREATE')]).map((e) => e.event_id))).toEqual([
      'CREATE',
      'MB',
      'KICK',
    ]);
  });
});
