/**
 * Events of type m.room.power_levels: rule 10 of rooms v1-5, rule 9 of v6-11, rule 10 of v12.
 * Sub-rule numbers below are those of v12 (v10-11 lack x.4; v1-9 lack x.1, x.2 and x.4).
 */
import type { JsonObject, JsonValue } from '../../events/types';
import type { AuthContext } from '../context';
import { NAMED_LEVELS, parsePowerLevel, parsePowerLevelsContent, roomCreators } from '../power-levels';
import { ALLOW, type AuthResult, deny } from '../types';
import { isValidUserId } from '../user-id';

function isObject(v: JsonValue | undefined): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** x.1-x.4: the shape of the new content. */
function checkPowerLevelsShape(ctx: AuthContext): AuthResult {
  const { event, rules } = ctx;
  const content = event.content;
  if (rules.integerPowerLevels) {
    // x.1 (v10+) Named levels present and not an integer, reject.
    for (const name of NAMED_LEVELS) {
      if (name in content && !Number.isInteger(content[name])) {
        return deny('power_levels.integer_level', `${name} must be an integer`);
      }
    }
    // x.2 (v10+) events / notifications present and not an object of integers, reject.
    for (const name of ['events', 'notifications'] as const) {
      if (!(name in content)) continue;
      const map = content[name];
      if (!isObject(map) || !Object.values(map).every((v) => Number.isInteger(v))) {
        return deny('power_levels.integer_map', `${name} must be an object of integers`);
      }
    }
  }
  // x.3 users must be an object with valid user id keys and integer values (or, before v10, integer strings).
  if ('users' in content) {
    const users = content.users;
    if (!isObject(users)) return deny('power_levels.users', 'users must be an object');
    for (const [userId, level] of Object.entries(users)) {
      if (!isValidUserId(userId)) return deny('power_levels.users', `${JSON.stringify(userId)} is not a valid user id`);
      if (parsePowerLevel(level, rules) === undefined) {
        return deny('power_levels.users', `the power level of ${userId} is not an integer`);
      }
    }
    // x.4 (v12+) users must not contain a room creator.
    if (rules.privilegedCreators) {
      for (const creator of roomCreators(ctx.create, rules)) {
        if (creator in users) return deny('power_levels.users_creator', `room creator ${creator} may not be listed in users`);
      }
    }
  }
  return ALLOW;
}

/** Entries of two maps whose values differ (added, changed or removed). */
function* changedEntries(
  before: ReadonlyMap<string, number>,
  after: ReadonlyMap<string, number>,
): Generator<[key: string, oldValue: number | undefined, newValue: number | undefined]> {
  const keys = new Set([...before.keys(), ...after.keys()]);
  for (const k of keys) {
    const o = before.get(k);
    const n = after.get(k);
    if (o !== n) yield [k, o, n];
  }
}

export function checkPowerLevels(ctx: AuthContext): AuthResult {
  const shape = checkPowerLevelsShape(ctx);
  if (!shape.allowed) return shape;
  const { event, rules } = ctx;

  // x.5 If there is no previous m.room.power_levels event in the room, allow.
  const previous = ctx.lookup('m.room.power_levels', '');
  if (!previous) return ALLOW;

  const oldLevels = parsePowerLevelsContent(previous.content, rules);
  const newLevels = parsePowerLevelsContent(event.content, rules);
  const senderLevel = ctx.senderLevel;

  // x.6 Named levels added, changed or removed: neither the old nor the new value may exceed the sender's level.
  for (const name of NAMED_LEVELS) {
    const o = oldLevels.named.get(name);
    const n = newLevels.named.get(name);
    if (o === n) continue;
    if (o !== undefined && o > senderLevel) {
      return deny('power_levels.named_old', `the current ${name} level ${o} is above the sender's level`);
    }
    if (n !== undefined && n > senderLevel) {
      return deny('power_levels.named_new', `the new ${name} level ${n} is above the sender's level`);
    }
  }

  // x.7 / x.8 events (and, v6+, notifications) entries: old values of changed or removed entries
  // and new values of added or changed entries may not exceed the sender's level.
  const maps: Array<['events' | 'notifications', ReadonlyMap<string, number>, ReadonlyMap<string, number>]> = [
    ['events', oldLevels.events, newLevels.events],
  ];
  if (rules.limitNotificationsPowerLevels) maps.push(['notifications', oldLevels.notifications, newLevels.notifications]);
  for (const [name, before, after] of maps) {
    for (const [key, o, n] of changedEntries(before, after)) {
      if (o !== undefined && o > senderLevel) {
        return deny(`power_levels.${name}_old`, `the current level of ${name}[${key}] is above the sender's level`);
      }
      if (n !== undefined && n > senderLevel) {
        return deny(`power_levels.${name}_new`, `the new level of ${name}[${key}] is above the sender's level`);
      }
    }
  }

  // x.9 users entries changed or removed, other than the sender's own: the old value must be below the sender's level.
  // x.10 users entries added or changed: the new value may not exceed the sender's level.
  for (const [userId, o, n] of changedEntries(oldLevels.users, newLevels.users)) {
    if (o !== undefined && userId !== event.sender && o >= senderLevel) {
      return deny('power_levels.users_old', `the sender may not change the level of ${userId}`);
    }
    if (n !== undefined && n > senderLevel) {
      return deny('power_levels.users_new', `the new level of ${userId} is above the sender's level`);
    }
  }

  // x.11 Otherwise, allow.
  return ALLOW;
}
