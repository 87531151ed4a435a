/**
 * Validation of filter definitions (definitions/sync_filter.yaml, event_filter.yaml,
 * room_event_filter.yaml). Known keys must have the documented shapes; unknown keys are
 * kept, so filters from newer clients still upload.
 */
import { AccountsError } from './errors';
import { isJsonValue } from './profile-rules';

export interface EventFilter {
  limit?: number;
  not_senders?: string[];
  not_types?: string[];
  senders?: string[];
  types?: string[];
  [key: string]: unknown;
}

export interface RoomEventFilter extends EventFilter {
  unread_thread_notifications?: boolean;
  lazy_load_members?: boolean;
  include_redundant_members?: boolean;
  not_rooms?: string[];
  rooms?: string[];
  contains_url?: boolean;
}

export interface RoomFilter {
  not_rooms?: string[];
  rooms?: string[];
  ephemeral?: RoomEventFilter;
  include_leave?: boolean;
  state?: RoomEventFilter;
  timeline?: RoomEventFilter;
  account_data?: RoomEventFilter;
  [key: string]: unknown;
}

export interface Filter {
  event_fields?: string[];
  event_format?: 'client' | 'federation';
  presence?: EventFilter;
  account_data?: EventFilter;
  room?: RoomFilter;
  [key: string]: unknown;
}

/** Largest filter definition accepted, in bytes of JSON. */
export const MAX_FILTER_BYTES = 64 * 1024;

function fail(path: string, message: string): never {
  throw new AccountsError('M_BAD_JSON', `Invalid filter: ${path} ${message}`);
}

function object(value: unknown, path: string): Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) fail(path, 'must be an object');
  return value as Record<string, unknown>;
}

function stringList(value: unknown, path: string, sigil?: string): void {
  if (!Array.isArray(value)) fail(path, 'must be an array of strings');
  value.forEach((item, index) => {
    if (typeof item !== 'string') fail(`${path}[${index}]`, 'must be a string');
    if (sigil !== undefined && !item.startsWith(sigil)) fail(`${path}[${index}]`, `must start with ${sigil}`);
  });
}

function bool(value: unknown, path: string): void {
  if (typeof value !== 'boolean') fail(path, 'must be a boolean');
}

/**
 * Checks an event filter (also the base of room event filters). A `limit` of 0 is accepted:
 * the schema's text says "greater than 0", but clients send 0 to get no events (a sync
 * without timeline events: `limited` tells whether there were any), and Synapse and Dendrite
 * accept it.
 */
function checkEventFilter(value: unknown, path: string): Record<string, unknown> {
  const filter = object(value, path);
  if (filter.limit !== undefined) {
    if (typeof filter.limit !== 'number' || !Number.isSafeInteger(filter.limit) || filter.limit < 0) {
      fail(`${path}.limit`, 'must be an integer, 0 or more');
    }
  }
  for (const key of ['not_types', 'types'] as const) {
    if (filter[key] !== undefined) stringList(filter[key], `${path}.${key}`);
  }
  for (const key of ['not_senders', 'senders'] as const) {
    if (filter[key] !== undefined) stringList(filter[key], `${path}.${key}`, '@');
  }
  return filter;
}

function checkRoomEventFilter(value: unknown, path: string): void {
  const filter = checkEventFilter(value, path);
  for (const key of ['unread_thread_notifications', 'lazy_load_members', 'include_redundant_members', 'contains_url'] as const) {
    if (filter[key] !== undefined) bool(filter[key], `${path}.${key}`);
  }
  for (const key of ['not_rooms', 'rooms'] as const) {
    if (filter[key] !== undefined) stringList(filter[key], `${path}.${key}`, '!');
  }
}

/** Checks a filter definition; returns it typed, or throws M_BAD_JSON naming the offending path. */
export function validateFilter(value: unknown): Filter {
  const filter = object(value, 'filter');
  if (!isJsonValue(filter)) fail('filter', 'is not valid JSON');
  if (Buffer.byteLength(JSON.stringify(filter), 'utf8') > MAX_FILTER_BYTES) fail('filter', 'is too large');
  if (filter.event_fields !== undefined) stringList(filter.event_fields, 'event_fields');
  if (filter.event_format !== undefined && filter.event_format !== 'client' && filter.event_format !== 'federation') {
    fail('event_format', 'must be "client" or "federation"');
  }
  if (filter.presence !== undefined) checkEventFilter(filter.presence, 'presence');
  if (filter.account_data !== undefined) checkEventFilter(filter.account_data, 'account_data');
  if (filter.room !== undefined) {
    const room = object(filter.room, 'room');
    for (const key of ['not_rooms', 'rooms'] as const) {
      if (room[key] !== undefined) stringList(room[key], `room.${key}`, '!');
    }
    if (room.include_leave !== undefined) bool(room.include_leave, 'room.include_leave');
    for (const key of ['ephemeral', 'state', 'timeline', 'account_data'] as const) {
      if (room[key] !== undefined) checkRoomEventFilter(room[key], `room.${key}`);
    }
  }
  return filter as Filter;
}
