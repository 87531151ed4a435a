/**
 * Reading m.room.power_levels and m.room.create the way the authorization rules need them
 * (server-server API, "Definitions"; client-server API, m.room.power_levels; rooms/v1.md,
 * "m.room.power_levels events accept values as strings" and "... as floats").
 */
import type { JsonValue, RoomEvent } from '../events/types';
import type { RoomVersionRules } from '../room-versions';
import type { AuthEventLookup } from './types';

/** The level properties that hold a single integer. */
export const NAMED_LEVELS = [
  'users_default',
  'events_default',
  'state_default',
  'ban',
  'redact',
  'kick',
  'invite',
] as const;
export type NamedLevel = (typeof NAMED_LEVELS)[number];

/** Defaults when a property is missing or there is no m.room.power_levels event at all. */
const NAMED_DEFAULTS: Readonly<Record<NamedLevel, number>> = {
  users_default: 0,
  events_default: 0,
  state_default: 50,
  ban: 50,
  redact: 50,
  kick: 50,
  invite: 0,
};

/** Power level of a creator when the room has no power levels event (room versions 1-11). */
export const CREATOR_DEFAULT_LEVEL = 100;

const INTEGER_STRING = /^\s*[+-]?[0-9]+\s*$/;

/**
 * One power level value as a number, or undefined when the room version does not accept it.
 * v10+: only JSON integers. v6-9: integers or strings holding an integer. v1-5: also floats,
 * truncated at the decimal point.
 */
export function parsePowerLevel(value: JsonValue | undefined, rules: RoomVersionRules): number | undefined {
  if (typeof value === 'number') {
    if (Number.isInteger(value)) return value;
    if (!rules.integerPowerLevels && !rules.strictCanonicalJson && Number.isFinite(value)) return Math.trunc(value);
    return undefined;
  }
  if (typeof value === 'string' && !rules.integerPowerLevels && INTEGER_STRING.test(value)) {
    const n = Number(value.trim());
    return Number.isFinite(n) ? n : undefined;
  }
  return undefined;
}

function isObject(value: JsonValue | undefined): value is { [key: string]: JsonValue } {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A map property of power levels (`users`, `events`, `notifications`), values parsed; unparseable entries are left out. */
export function parseLevelMap(value: JsonValue | undefined, rules: RoomVersionRules): Map<string, number> {
  const out = new Map<string, number>();
  if (!isObject(value)) return out;
  for (const [k, v] of Object.entries(value)) {
    const n = parsePowerLevel(v, rules);
    if (n !== undefined) out.set(k, n);
  }
  return out;
}

/** The parsed content of an m.room.power_levels event; `named` holds only the properties present and valid. */
export interface PowerLevelsContent {
  readonly named: ReadonlyMap<NamedLevel, number>;
  readonly users: ReadonlyMap<string, number>;
  readonly events: ReadonlyMap<string, number>;
  readonly notifications: ReadonlyMap<string, number>;
}

export function parsePowerLevelsContent(
  content: { [key: string]: JsonValue },
  rules: RoomVersionRules,
): PowerLevelsContent {
  const named = new Map<NamedLevel, number>();
  for (const name of NAMED_LEVELS) {
    const n = parsePowerLevel(content[name], rules);
    if (n !== undefined) named.set(name, n);
  }
  return {
    named,
    users: parseLevelMap(content.users, rules),
    events: parseLevelMap(content.events, rules),
    notifications: parseLevelMap(content.notifications, rules),
  };
}

/**
 * The room creators. v12+: the sender of m.room.create plus its `additional_creators`;
 * v11: the sender of m.room.create; v1-10: `content.creator` of m.room.create.
 */
export function roomCreators(create: RoomEvent | undefined, rules: RoomVersionRules): Set<string> {
  const creators = new Set<string>();
  if (!create) return creators;
  if (rules.implicitRoomCreator) {
    creators.add(create.sender);
    if (rules.privilegedCreators) {
      const extra = create.content.additional_creators;
      if (Array.isArray(extra)) for (const u of extra) if (typeof u === 'string') creators.add(u);
    }
  } else if (typeof create.content.creator === 'string') {
    creators.add(create.content.creator);
  }
  return creators;
}

/** The power levels in effect for a given state, with the spec's defaults applied. */
export class PowerLevels {
  private constructor(
    private readonly rules: RoomVersionRules,
    private readonly content: PowerLevelsContent | undefined,
    private readonly creators: ReadonlySet<string>,
  ) {}

  static fromAuthEvents(authEvents: AuthEventLookup, rules: RoomVersionRules): PowerLevels {
    const pl = authEvents('m.room.power_levels', '');
    const create = authEvents('m.room.create', '');
    return new PowerLevels(rules, pl ? parsePowerLevelsContent(pl.content, rules) : undefined, roomCreators(create, rules));
  }

  /** Whether the room has an m.room.power_levels event in this state. */
  get exists(): boolean {
    return this.content !== undefined;
  }

  /** A named level (`ban`, `kick`, `invite`, `redact`, `state_default`, ...), defaulted per the spec. */
  level(name: NamedLevel): number {
    return this.content?.named.get(name) ?? NAMED_DEFAULTS[name];
  }

  /**
   * A user's power level. v12+: creators are infinitely powerful. Otherwise `users[user]`, else
   * `users_default`; with no power levels event, the creator has 100 and everyone else 0.
   */
  userLevel(userId: string): number {
    if (this.rules.privilegedCreators && this.creators.has(userId)) return Number.POSITIVE_INFINITY;
    if (this.content) return this.content.users.get(userId) ?? this.level('users_default');
    return this.creators.has(userId) ? CREATOR_DEFAULT_LEVEL : 0;
  }

  /** The required power level to send an event of this type: `events[type]`, else `state_default` or `events_default`. */
  requiredLevel(eventType: string, isState: boolean): number {
    return this.content?.events.get(eventType) ?? this.level(isState ? 'state_default' : 'events_default');
  }
}
