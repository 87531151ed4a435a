/**
 * Event filters (definitions/event_filter.yaml, room_event_filter.yaml) applied to the sync
 * projection: as SQL conditions on the `events` view and as predicates in memory.
 * `types` and `not_types` accept `*` as a wildcard; `not_*` wins over the allow lists.
 */
import { sql, type FragmentSqlToken, type ListSqlToken } from 'slonik';

export interface RoomEventFilter {
  limit?: number;
  types?: readonly string[];
  not_types?: readonly string[];
  senders?: readonly string[];
  not_senders?: readonly string[];
  rooms?: readonly string[];
  not_rooms?: readonly string[];
  contains_url?: boolean;
  lazy_load_members?: boolean;
  include_redundant_members?: boolean;
  /** Accepted; unread counts are given per room only (no per-thread counts). */
  unread_thread_notifications?: boolean;
}

/** `m.room.*` -> `m.room.%` with LIKE's own wildcards escaped. */
export function typePattern(type: string): string {
  return type.replace(/[\\%_]/g, (c) => `\\${c}`).replace(/\*/g, '%');
}

function typeRegExp(type: string): RegExp {
  const escaped = type.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*');
  return new RegExp(`^${escaped}$`, 's');
}

export function typeMatches(type: string, patterns: readonly string[]): boolean {
  return patterns.some((p) => (p.includes('*') ? typeRegExp(p).test(type) : p === type));
}

/** SQL condition on the `events` view (alias `e`) for a filter's types, senders and contains_url. */
export function filterCondition(filter: RoomEventFilter | undefined): FragmentSqlToken | ListSqlToken {
  const parts: FragmentSqlToken[] = [sql.fragment`TRUE`];
  if (!filter) return parts[0];
  if (filter.types !== undefined) {
    parts.push(sql.fragment`e.type LIKE ANY(${sql.array(filter.types.map(typePattern), 'text')})`);
  }
  if (filter.not_types !== undefined && filter.not_types.length > 0) {
    parts.push(sql.fragment`NOT (e.type LIKE ANY(${sql.array(filter.not_types.map(typePattern), 'text')}))`);
  }
  if (filter.senders !== undefined) parts.push(sql.fragment`e.sender = ANY(${sql.array([...filter.senders], 'text')})`);
  if (filter.not_senders !== undefined && filter.not_senders.length > 0) {
    parts.push(sql.fragment`NOT (e.sender = ANY(${sql.array([...filter.not_senders], 'text')}))`);
  }
  if (filter.contains_url === true) parts.push(sql.fragment`e.contains_url`);
  if (filter.contains_url === false) parts.push(sql.fragment`NOT e.contains_url`);
  return sql.join(parts, sql.fragment` AND `);
}

/** The same test as `filterCondition`, in memory (for state events and ephemeral events). */
export function eventMatches(event: { type: string; sender?: string }, filter: RoomEventFilter | undefined): boolean {
  if (!filter) return true;
  if (filter.not_types && typeMatches(event.type, filter.not_types)) return false;
  if (filter.types && !typeMatches(event.type, filter.types)) return false;
  if (event.sender !== undefined) {
    if (filter.not_senders?.includes(event.sender)) return false;
    if (filter.senders && !filter.senders.includes(event.sender)) return false;
  }
  return true;
}

/** Whether a room passes a filter's `rooms` / `not_rooms`. */
export function roomMatches(roomId: string, filter: { rooms?: readonly string[]; not_rooms?: readonly string[] } | undefined): boolean {
  if (!filter) return true;
  if (filter.not_rooms?.includes(roomId)) return false;
  if (filter.rooms && !filter.rooms.includes(roomId)) return false;
  return true;
}
