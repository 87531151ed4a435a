/**
 * The power level of an event's sender "when looking at their respective auth_events"
 * (rooms/v2.md, "Reverse topological power ordering"), read with the auth rules' own
 * power-levels reading so both agree on every room version's value rules.
 */
import { PowerLevels } from '../auth/power-levels';
import type { RoomEvent } from '../events/types';
import type { RoomVersionRules } from '../room-versions';
import { findAuthEvent, type EventLookup } from './events';

/**
 * The sender's power level according to the m.room.power_levels and m.room.create events among
 * the event's auth events. From room version 12 creators have infinite power (`Infinity`).
 */
export function senderPowerLevel(event: RoomEvent, getEvent: EventLookup, rules: RoomVersionRules): number {
  const levels = PowerLevels.fromAuthEvents(
    (type, stateKey) => (stateKey === '' ? findAuthEvent(event, type, getEvent, rules) : undefined),
    rules,
  );
  return levels.userLevel(event.sender);
}
