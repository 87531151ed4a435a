/**
 * Splitting state sets into the unconflicted state map and the conflicted state set.
 */
import type { StateKey, StateMap } from '../events/types';

export interface ConflictSplit {
  /** Entries every state set agrees on. */
  readonly unconflicted: Map<StateKey, string>;
  /** For each conflicted key, the distinct event ids the state sets hold for it. */
  readonly conflicted: Map<StateKey, Set<string>>;
}

/**
 * State resolution v2 and v2.1 (rooms/v2.md, "Unconflicted state map and conflicted state set"):
 * a key is unconflicted when it is present in every state set with the same event; otherwise
 * (including when some state sets lack the key) every event held for it is conflicted.
 */
export function splitConflictedState(stateSets: readonly StateMap[]): ConflictSplit {
  const unconflicted = new Map<StateKey, string>();
  const conflicted = new Map<StateKey, Set<string>>();
  if (stateSets.length === 0) return { unconflicted, conflicted };
  const keys = new Set<StateKey>();
  for (const set of stateSets) for (const key of set.keys()) keys.add(key);
  for (const key of keys) {
    const ids = new Set<string>();
    let missing = false;
    for (const set of stateSets) {
      const id = set.get(key);
      if (id === undefined) missing = true;
      else ids.add(id);
    }
    if (!missing && ids.size === 1) unconflicted.set(key, ids.values().next().value as string);
    else conflicted.set(key, ids);
  }
  return { unconflicted, conflicted };
}

/**
 * State resolution v1 (rooms/v1.md): a conflict is only a key for which state sets hold
 * *different* event ids; a key some state sets lack is not a conflict and its one event is kept.
 */
export function splitConflictedStateV1(stateSets: readonly StateMap[]): ConflictSplit {
  const unconflicted = new Map<StateKey, string>();
  const conflicted = new Map<StateKey, Set<string>>();
  for (const set of stateSets) {
    for (const [key, id] of set) {
      const known = conflicted.get(key);
      if (known) {
        known.add(id);
        continue;
      }
      const agreed = unconflicted.get(key);
      if (agreed === undefined) unconflicted.set(key, id);
      else if (agreed !== id) {
        unconflicted.delete(key);
        conflicted.set(key, new Set([agreed, id]));
      }
    }
  }
  return { unconflicted, conflicted };
}

/** Every event id of the conflicted state set. */
export function conflictedEventIds(conflicted: ReadonlyMap<StateKey, ReadonlySet<string>>): Set<string> {
  const out = new Set<string>();
  for (const ids of conflicted.values()) for (const id of ids) out.add(id);
  return out;
}
