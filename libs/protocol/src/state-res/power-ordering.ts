/**
 * Step 1 of state resolution v2: select the power events of the full conflicted set with the
 * parts of their auth chains inside that set, and sort them by the reverse topological power
 * ordering (rooms/v2.md, "Reverse topological power ordering").
 */
import type { RoomEvent } from '../events/types';
import type { RoomVersionRules } from '../room-versions';
import { authEventIds, compareEventIds, isPowerEvent, requireEvent, type EventLookup } from './events';
import { MinHeap } from './heap';
import { senderPowerLevel } from './power-level';

/** node -> the nodes it points at (for auth DAGs: its auth events within the graph). */
export type Graph = ReadonlyMap<string, ReadonlySet<string>>;

/**
 * The lexicographically smallest topological ordering of `graph` in which a node comes after
 * every node it points at (Kahn's algorithm, picking the smallest ready node under `compare` at
 * each step). Nodes on a cycle, which an auth DAG cannot have, are left out.
 */
export function lexicographicalTopologicalSort(graph: Graph, compare: (a: string, b: string) => number): string[] {
  const pending = new Map<string, number>();
  const pointedAtBy = new Map<string, string[]>();
  const ready = new MinHeap<string>(compare);
  for (const [node, edges] of graph) {
    let count = 0;
    for (const target of edges) {
      if (!graph.has(target)) continue;
      count += 1;
      const back = pointedAtBy.get(target);
      if (back) back.push(node);
      else pointedAtBy.set(target, [node]);
    }
    pending.set(node, count);
    if (count === 0) ready.push(node);
  }
  const out: string[] = [];
  for (let node = ready.pop(); node !== undefined; node = ready.pop()) {
    out.push(node);
    for (const parent of pointedAtBy.get(node) ?? []) {
      const left = (pending.get(parent) ?? 0) - 1;
      pending.set(parent, left);
      if (left === 0) ready.push(parent);
    }
  }
  return out;
}

/**
 * The comparison of the reverse topological power ordering: x < y if x's sender has the greater
 * power level, then the smaller origin_server_ts, then the smaller event id.
 */
export function powerOrderingCompare(
  events: ReadonlyMap<string, { readonly event: RoomEvent; readonly power: number }>,
): (a: string, b: string) => number {
  return (a, b) => {
    const x = events.get(a);
    const y = events.get(b);
    if (!x || !y) return compareEventIds(a, b);
    if (x.power !== y.power) return x.power > y.power ? -1 : 1;
    if (x.event.origin_server_ts !== y.event.origin_server_ts) {
      return x.event.origin_server_ts < y.event.origin_server_ts ? -1 : 1;
    }
    return compareEventIds(a, b);
  };
}

/**
 * The auth DAG over `roots` and the events of `within` reachable from them through auth events
 * that are themselves in `within` (the edges are the `auth_events` links between those events).
 */
export function authGraphWithin(
  roots: Iterable<string>,
  within: ReadonlySet<string>,
  getEvent: EventLookup,
  rules: RoomVersionRules,
): Map<string, Set<string>> {
  const graph = new Map<string, Set<string>>();
  const stack: string[] = [];
  for (const id of roots) {
    if (!graph.has(id)) {
      graph.set(id, new Set());
      stack.push(id);
    }
  }
  for (let id = stack.pop(); id !== undefined; id = stack.pop()) {
    const edges = graph.get(id) as Set<string>;
    for (const authId of authEventIds(requireEvent(getEvent, id), rules)) {
      if (!within.has(authId)) continue;
      edges.add(authId);
      if (!graph.has(authId)) {
        graph.set(authId, new Set());
        stack.push(authId);
      }
    }
  }
  return graph;
}

/** Sorts the given events by the reverse topological power ordering of the auth DAG among them. */
export function reverseTopologicalPowerOrdering(
  eventIds: Iterable<string>,
  getEvent: EventLookup,
  rules: RoomVersionRules,
): string[] {
  const ids = new Set(eventIds);
  const graph = authGraphWithin(ids, ids, getEvent, rules);
  return sortGraphByPower(graph, getEvent, rules);
}

function sortGraphByPower(graph: Graph, getEvent: EventLookup, rules: RoomVersionRules): string[] {
  const info = new Map<string, { event: RoomEvent; power: number }>();
  for (const id of graph.keys()) {
    const event = requireEvent(getEvent, id);
    info.set(id, { event, power: senderPowerLevel(event, getEvent, rules) });
  }
  return lexicographicalTopologicalSort(graph, powerOrderingCompare(info));
}

/**
 * Step 1: the power events of the full conflicted set, enlarged by the events of their auth
 * chains that belong to the full conflicted set, sorted by the reverse topological power
 * ordering. Auth chains are followed through events of the full conflicted set, as the
 * established implementations do, so that every server builds the same graph.
 */
export function sortedConflictedPowerEvents(
  fullConflictedSet: ReadonlySet<string>,
  getEvent: EventLookup,
  rules: RoomVersionRules,
): string[] {
  const powerEvents: string[] = [];
  for (const id of fullConflictedSet) if (isPowerEvent(requireEvent(getEvent, id))) powerEvents.push(id);
  const graph = authGraphWithin(powerEvents, fullConflictedSet, getEvent, rules);
  return sortGraphByPower(graph, getEvent, rules);
}
