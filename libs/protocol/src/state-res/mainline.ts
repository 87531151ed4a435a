/**
 * Step 3 of state resolution v2: the mainline ordering (rooms/v2.md, "Mainline ordering").
 */
import type { RoomVersionRules } from '../room-versions';
import { compareEventIds, findAuthEvent, requireEvent, type EventLookup } from './events';

/**
 * The mainline of an m.room.power_levels event P0: [P0, P1, …, Pn] where P(i+1) is the
 * m.room.power_levels event among the auth events of Pi. Empty when there is no P0.
 */
export function mainline(powerLevelsId: string | undefined, getEvent: EventLookup, rules: RoomVersionRules): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  let current = powerLevelsId === undefined ? undefined : requireEvent(getEvent, powerLevelsId);
  while (current && !seen.has(current.event_id)) {
    seen.add(current.event_id);
    out.push(current.event_id);
    current = findAuthEvent(current, 'm.room.power_levels', getEvent, rules);
  }
  return out;
}

/**
 * The mainline position of an event: the index i of the first event e_j (j ≥ 1) of its own
 * power levels chain that belongs to the mainline (e_j = P_i), or Infinity when none does.
 * `positions` maps each mainline event id to its index.
 */
export function mainlinePosition(
  eventId: string,
  positions: ReadonlyMap<string, number>,
  getEvent: EventLookup,
  rules: RoomVersionRules,
): number {
  const seen = new Set<string>([eventId]);
  let current = findAuthEvent(requireEvent(getEvent, eventId), 'm.room.power_levels', getEvent, rules);
  while (current && !seen.has(current.event_id)) {
    const position = positions.get(current.event_id);
    if (position !== undefined) return position;
    seen.add(current.event_id);
    current = findAuthEvent(current, 'm.room.power_levels', getEvent, rules);
  }
  return Infinity;
}

/**
 * The mainline ordering based on `powerLevelsId` of the given events, smallest first: greater
 * mainline position first (based on an earlier power levels event), then smaller
 * origin_server_ts, then smaller event id.
 */
export function mainlineOrdering(
  eventIds: Iterable<string>,
  powerLevelsId: string | undefined,
  getEvent: EventLookup,
  rules: RoomVersionRules,
): string[] {
  const ids = [...eventIds];
  if (ids.length === 0) return ids;
  const line = mainline(powerLevelsId, getEvent, rules);
  const positions = new Map(line.map((id, i) => [id, i] as const));
  const keys = new Map<string, { position: number; ts: number }>();
  for (const id of ids) {
    keys.set(id, {
      position: mainlinePosition(id, positions, getEvent, rules),
      ts: requireEvent(getEvent, id).origin_server_ts,
    });
  }
  return ids.sort((a, b) => {
    const x = keys.get(a) as { position: number; ts: number };
    const y = keys.get(b) as { position: number; ts: number };
    if (x.position !== y.position) return x.position > y.position ? -1 : 1;
    if (x.ts !== y.ts) return x.ts < y.ts ? -1 : 1;
    return compareEventIds(a, b);
  });
}
