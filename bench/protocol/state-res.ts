/**
 * State resolution benchmark: a synthetic room of 5,000 joined members whose state forked into
 * two branches of 500 conflicting state events each (power level changes, kicks, display name
 * changes and custom state), resolved once per room version family (v2 in room version 11,
 * v2.1 in room version 12). Prints the time of each resolution.
 *
 * Run: npm run build && node dist/bench/protocol/state-res.js
 */
import { performance } from 'node:perf_hooks';
import {
  resolveState,
  roomVersion,
  stateKey,
  type JsonObject,
  type RoomEvent,
  type RoomVersionRules,
  type StateKey,
} from '@hs/protocol';

const MEMBERS = 5000;
const FORK_EVENTS = 500;

interface SyntheticRoom {
  readonly events: Map<string, RoomEvent>;
  readonly forks: [Map<StateKey, string>, Map<StateKey, string>];
  readonly rules: RoomVersionRules;
}

function buildRoom(version: string): SyntheticRoom {
  const rules = roomVersion(version);
  const v12 = rules.roomIdFromCreateEvent;
  const events = new Map<string, RoomEvent>();
  const createId = '$create:bench.example';
  const roomId = v12 ? `!${createId.slice(1)}` : '!bench:bench.example';
  const alice = '@alice:bench.example';
  const user = (i: number): string => `@user${i}:bench.example`;
  let ts = 0;
  let depth = 0;
  const add = (
    id: string,
    sender: string,
    type: string,
    key: string,
    content: JsonObject,
    auth: string[],
    state: Map<StateKey, string>,
  ): string => {
    const event: RoomEvent = {
      event_id: id,
      room_id: roomId,
      sender,
      type,
      state_key: key,
      content,
      origin_server_ts: ++ts,
      depth: ++depth,
      prev_events: [],
      auth_events: v12 ? auth.filter((a) => a !== createId) : auth,
      hashes: { sha256: '' },
      signatures: {},
      room_version: rules.id,
    };
    events.set(id, event);
    state.set(stateKey(type, key), id);
    return id;
  };
  const adminUsers = (extra: Record<string, number>): JsonObject => ({ users: v12 ? extra : { [alice]: 100, ...extra } });

  const base = new Map<StateKey, string>();
  add(createId, alice, 'm.room.create', '', { room_version: version, creator: alice }, [], base);
  const aliceJoin = add('$alice-join:bench.example', alice, 'm.room.member', alice, { membership: 'join' }, [createId], base);
  const pl0 = add('$pl0:bench.example', alice, 'm.room.power_levels', '', adminUsers({ [user(0)]: 50 }), [createId, aliceJoin], base);
  const jr = add('$jr:bench.example', alice, 'm.room.join_rules', '', { join_rule: 'public' }, [createId, aliceJoin, pl0], base);
  const joins: string[] = [];
  for (let i = 0; i < MEMBERS; i++) {
    joins.push(add(`$join${i}:bench.example`, user(i), 'm.room.member', user(i), { membership: 'join' }, [createId, pl0, jr], base));
  }

  const fork = (name: string): Map<StateKey, string> => {
    const state = new Map(base);
    let pl = pl0;
    for (let n = 0; n < FORK_EVENTS; n++) {
      const id = `$${name}-${n}:bench.example`;
      const kind = n % 5;
      if (kind === 0 && n % 25 === 0) {
        // A power level change by alice.
        pl = add(id, alice, 'm.room.power_levels', '', adminUsers({ [user(0)]: 50, [user(n + 1)]: 10 }), [createId, aliceJoin, pl], state);
      } else if (kind === 1 && n % 50 === 1) {
        // A kick by alice (a power event).
        const target = 1000 + n + (name === 'a' ? 0 : 1);
        add(id, alice, 'm.room.member', user(target), { membership: 'leave' }, [createId, aliceJoin, pl, joins[target] as string], state);
      } else if (kind < 3) {
        // A display name change.
        const u = 2000 + n;
        add(id, user(u), 'm.room.member', user(u), { membership: 'join', displayname: `${name}${n}` }, [createId, pl, joins[u] as string, jr], state);
      } else {
        // Custom state by alice.
        add(id, alice, 'org.example.state', `k${n}`, { fork: name }, [createId, aliceJoin, pl], state);
      }
    }
    return state;
  };
  return { events, forks: [fork('a'), fork('b')], rules };
}

function main(): void {
  for (const version of ['11', '12']) {
    const room = buildRoom(version);
    const getEvent = (id: string): RoomEvent | undefined => room.events.get(id);
    // One warm-up run so the figures measure the algorithm, not the JIT.
    resolveState(room.forks, getEvent, room.rules);
    const runs = 5;
    const times: number[] = [];
    let size = 0;
    for (let i = 0; i < runs; i++) {
      const started = performance.now();
      size = resolveState(room.forks, getEvent, room.rules).size;
      times.push(performance.now() - started);
    }
    times.sort((a, b) => a - b);
    const conflicted = [...room.forks[0]].filter(([k, v]) => room.forks[1].get(k) !== v).length;
    console.log(
      `state-res ${room.rules.stateResolution} (room version ${version}): ${MEMBERS} members, 2 forks x ${FORK_EVENTS} state events, ` +
        `${conflicted} conflicted keys, ${room.events.size} events, resolved ${size} entries: ` +
        `median ${(times[Math.floor(runs / 2)] as number).toFixed(1)} ms, min ${(times[0] as number).toFixed(1)} ms, max ${(times[runs - 1] as number).toFixed(1)} ms`,
    );
  }
}

main();
