/**
 * The sync filter (definitions/sync_filter.yaml) as /sync applies it. The HTTP layer resolves
 * a filter id or inline JSON (the accounts library validates and stores filters) and passes
 * the definition here.
 */
import type { RoomEventFilter } from '@hs/projections/sync';

export interface EventFilter {
  limit?: number;
  types?: readonly string[];
  not_types?: readonly string[];
  senders?: readonly string[];
  not_senders?: readonly string[];
}

export interface RoomFilter {
  rooms?: readonly string[];
  not_rooms?: readonly string[];
  include_leave?: boolean;
  timeline?: RoomEventFilter;
  state?: RoomEventFilter;
  ephemeral?: RoomEventFilter;
  account_data?: RoomEventFilter;
}

export interface SyncFilter {
  event_fields?: readonly string[];
  event_format?: 'client' | 'federation';
  account_data?: EventFilter;
  presence?: EventFilter;
  room?: RoomFilter;
}

/** Default number of timeline events per room. */
export const DEFAULT_TIMELINE_LIMIT = 10;
export const MAX_TIMELINE_LIMIT = 1000;

/** Splits an `event_fields` entry on dots not escaped with a backslash. */
function fieldPath(field: string): string[] {
  const parts: string[] = [];
  let current = '';
  for (let i = 0; i < field.length; i++) {
    const c = field[i];
    if (c === '\\' && i + 1 < field.length) current += field[++i];
    else if (c === '.') {
      parts.push(current);
      current = '';
    } else current += c;
  }
  parts.push(current);
  return parts;
}

/** Keeps only the listed fields of an event (`event_fields`); no list keeps everything. */
export function applyEventFields<T extends object>(event: T, fields: readonly string[] | undefined): Partial<T> {
  if (!fields) return event;
  const out: Record<string, unknown> = {};
  for (const field of fields) {
    const path = fieldPath(field);
    let source: unknown = event;
    for (const key of path) {
      source = source && typeof source === 'object' && !Array.isArray(source) ? (source as Record<string, unknown>)[key] : undefined;
    }
    if (source === undefined) continue;
    let target = out;
    for (const key of path.slice(0, -1)) {
      const next = target[key];
      if (!next || typeof next !== 'object') target[key] = {};
      target = target[key] as Record<string, unknown>;
    }
    target[path[path.length - 1]] = source;
  }
  return out as Partial<T>;
}
