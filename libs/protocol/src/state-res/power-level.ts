/**
 * The power level of an event's sender "when looking at their respective auth_events"
 * (rooms/v2.md, "Reverse topological power ordering").
 */
import type { JsonValue, RoomEvent } from '../events/types';
import type { RoomVersionRules } from '../room-versions';
import { findAuthEvent, type EventLookup } from './events';

/** Power level of a room creator when the room has no m.room.power_levels event (v1-11). */
const CREATOR_LEVEL_WITHOUT_POWER_LEVELS = 100;

const INTEGER_STRING = /^\s*[+-]?[0-9]+\s*$/;

/**
 * A power level value as a number, or undefined when the room version does not accept it:
 * v10+ integers only; earlier versions also integer strings (rooms/v1.md, "... accept values as
 * strings") and, before v6, floats truncated at the decimal point.
 */
function powerLevelValue(value: JsonValue | undefined, rules: RoomVersionRules): number | undefined {
  if (typeof value === 'number') {
    if (Number.isInteger(value)) return value;
    return !rules.strictCanonicalJson && Number.isFinite(value) ? Math.trunc(value) : undefined;
  }
  if (typeof value === 'string' && !rules.integerPowerLevels && INTEGER_STRING.test(value)) return Number(value.trim());
  return undefined;
}

/** The room creators an m.room.create event names: its sender plus `additional_creators` (v12). */
function isCreator(create: RoomEvent, userId: string, rules: RoomVersionRules): boolean {
  if (rules.privilegedCreators) {
    if (create.sender === userId) return true;
    const additional = create.content['additional_creators'];
    return Array.isArray(additional) && additional.includes(userId);
  }
  const creator = rules.implicitRoomCreator ? create.sender : create.content['creator'];
  return creator === userId;
}

/**
 * The sender's power level according to the m.room.power_levels and m.room.create events among
 * the event's auth events. From room version 12 creators have infinite power (`Infinity`).
 */
export function senderPowerLevel(event: RoomEvent, getEvent: EventLookup, rules: RoomVersionRules): number {
  const create = findAuthEvent(event, 'm.room.create', getEvent, rules);
  if (rules.privilegedCreators && create && isCreator(create, event.sender, rules)) return Infinity;
  const powerLevels = findAuthEvent(event, 'm.room.power_levels', getEvent, rules);
  if (powerLevels) {
    const users = powerLevels.content['users'];
    if (typeof users === 'object' && users !== null && !Array.isArray(users)) {
      const own = powerLevelValue(users[event.sender], rules);
      if (own !== undefined) return own;
    }
    return powerLevelValue(powerLevels.content['users_default'], rules) ?? 0;
  }
  return create && isCreator(create, event.sender, rules) ? CREATOR_LEVEL_WITHOUT_POWER_LEVELS : 0;
}
