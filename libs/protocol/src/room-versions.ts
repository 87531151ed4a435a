/**
 * The room-version table: which rules each room version uses.
 * Source: the Matrix spec v1.19, "Room versions" (rooms/v1.md … rooms/v12.md).
 */

/** How an event id is formed. v1-2: chosen by the origin server; v3: standard base64 reference hash; v4+: URL-safe base64. */
export type EventIdFormat = 'server-generated' | 'base64' | 'url-safe-base64';
export type StateResolutionAlgorithm = 'v1' | 'v2' | 'v2.1';
/** Which redaction algorithm applies (the kept keys differ). */
export type RedactionAlgorithm = 'v1' | 'v6' | 'v8' | 'v9' | 'v11';

export interface RoomVersionRules {
  readonly id: string;
  readonly stable: boolean;
  /** PDU schema in the federation spec: v1 (rooms 1-2), v3 (room 3), v4 (rooms 4-5), v6 (6-10), v11 (11), v12 (12+). */
  readonly pduFormat: 'v1' | 'v3' | 'v4' | 'v6' | 'v11' | 'v12';
  readonly eventIdFormat: EventIdFormat;
  readonly stateResolution: StateResolutionAlgorithm;
  readonly redaction: RedactionAlgorithm;
  /** v5+: a signing key must be used within its valid_until_ts. */
  readonly enforceKeyValidity: boolean;
  /** v1-5: the auth rules special-case m.room.aliases events. */
  readonly specialCaseAliasesAuth: boolean;
  /** v1-2: m.room.redaction events are checked against the sender's domain in the auth rules. */
  readonly redactionSenderDomainAuth: boolean;
  /** v6+: canonical JSON is strict (no floats, integers in [-(2^53)+1, 2^53-1]). */
  readonly strictCanonicalJson: boolean;
  /** v6+: `notifications` keys in power levels are checked when they change. */
  readonly limitNotificationsPowerLevels: boolean;
  /** v7+: the `knock` membership and join rule. */
  readonly knocking: boolean;
  /** v8+: the `restricted` join rule (join_authorised_via_users_server). */
  readonly restrictedJoins: boolean;
  /** v10+: the `knock_restricted` join rule. */
  readonly knockRestricted: boolean;
  /** v10+: power level values must be integers (not strings). */
  readonly integerPowerLevels: boolean;
  /** v11+: `redacts` lives in content; the create event has no `creator` (the sender is the creator). */
  readonly redactsInContent: boolean;
  readonly implicitRoomCreator: boolean;
  /** v12+: the room id is derived from the create event, which has no room_id and is not listed in auth_events. */
  readonly roomIdFromCreateEvent: boolean;
  /** v12+: creators (sender and additional_creators of m.room.create) have infinite power; they may not appear in users of power levels. */
  readonly privilegedCreators: boolean;
}

const base: Omit<RoomVersionRules, 'id'> = {
  stable: true,
  pduFormat: 'v1',
  eventIdFormat: 'server-generated',
  stateResolution: 'v1',
  redaction: 'v1',
  enforceKeyValidity: false,
  specialCaseAliasesAuth: true,
  redactionSenderDomainAuth: true,
  strictCanonicalJson: false,
  limitNotificationsPowerLevels: false,
  knocking: false,
  restrictedJoins: false,
  knockRestricted: false,
  integerPowerLevels: false,
  redactsInContent: false,
  implicitRoomCreator: false,
  roomIdFromCreateEvent: false,
  privilegedCreators: false,
};

function derive(parent: RoomVersionRules, id: string, changes: Partial<RoomVersionRules>): RoomVersionRules {
  return Object.freeze({ ...parent, ...changes, id });
}

const v1 = Object.freeze({ ...base, id: '1' });
const v2 = derive(v1, '2', { stateResolution: 'v2' });
const v3 = derive(v2, '3', { pduFormat: 'v3', eventIdFormat: 'base64', redactionSenderDomainAuth: false });
const v4 = derive(v3, '4', { pduFormat: 'v4', eventIdFormat: 'url-safe-base64' });
const v5 = derive(v4, '5', { enforceKeyValidity: true });
const v6 = derive(v5, '6', {
  pduFormat: 'v6',
  redaction: 'v6',
  specialCaseAliasesAuth: false,
  strictCanonicalJson: true,
  limitNotificationsPowerLevels: true,
});
const v7 = derive(v6, '7', { knocking: true });
const v8 = derive(v7, '8', { redaction: 'v8', restrictedJoins: true });
const v9 = derive(v8, '9', { redaction: 'v9' });
const v10 = derive(v9, '10', { knockRestricted: true, integerPowerLevels: true });
const v11 = derive(v10, '11', { pduFormat: 'v11', redaction: 'v11', redactsInContent: true, implicitRoomCreator: true });
const v12 = derive(v11, '12', {
  pduFormat: 'v12',
  stateResolution: 'v2.1',
  roomIdFromCreateEvent: true,
  privilegedCreators: true,
});

/** Every room version this server knows, by id. */
export const ROOM_VERSIONS: ReadonlyMap<string, RoomVersionRules> = new Map(
  [v1, v2, v3, v4, v5, v6, v7, v8, v9, v10, v11, v12].map((v) => [v.id, v]),
);

/** The version new rooms get unless configured otherwise. */
export const DEFAULT_ROOM_VERSION = '11';

export class UnsupportedRoomVersionError extends Error {
  constructor(readonly roomVersion: string) {
    super(`Unsupported room version: ${roomVersion}`);
    this.name = 'UnsupportedRoomVersionError';
  }
}

/** The rules of a room version; throws UnsupportedRoomVersionError for an unknown one. */
export function roomVersion(id: string): RoomVersionRules {
  const rules = ROOM_VERSIONS.get(id);
  if (!rules) throw new UnsupportedRoomVersionError(id);
  return rules;
}

export function isKnownRoomVersion(id: string): boolean {
  return ROOM_VERSIONS.has(id);
}
