import { InvalidAppendError } from './errors';
import type { ExpectedRevision, NewEvent } from './types';

/** Checks an append's arguments before it reaches any adapter. */
export function validateAppend(stream: string, expected: ExpectedRevision, events: NewEvent[]): void {
  if (typeof stream !== 'string' || stream.length === 0) throw new InvalidAppendError('stream name must be a non-empty string');
  if (typeof expected === 'bigint') {
    if (expected < 0n) throw new InvalidAppendError(`expected revision must be >= 0, got ${expected}`);
  } else if (expected !== 'any' && expected !== 'no_stream' && expected !== 'stream_exists') {
    throw new InvalidAppendError(`unknown expected revision ${String(expected)}`);
  }
  if (!Array.isArray(events)) throw new InvalidAppendError('events must be an array');
  const ids = new Set<string>();
  for (const event of events) {
    if (typeof event.id !== 'string' || event.id.length === 0) throw new InvalidAppendError('event id must be a non-empty string');
    if (typeof event.type !== 'string' || event.type.length === 0) throw new InvalidAppendError(`event ${event.id} has no type`);
    if (event.data === undefined) throw new InvalidAppendError(`event ${event.id} has no data`);
    if (ids.has(event.id)) throw new InvalidAppendError(`event id ${event.id} appears twice in one append`);
    ids.add(event.id);
  }
}

/** A non-negative finite number of milliseconds (0 when undefined). */
export function validateInterval(ms: number | undefined): number {
  if (ms === undefined) return 0;
  if (!Number.isFinite(ms) || ms < 0) throw new RangeError(`interval must be a non-negative number of milliseconds, got ${ms}`);
  return ms;
}

export function validateLimit(limit: number | undefined, fallback: number): number {
  if (limit === undefined) return fallback;
  if (!Number.isSafeInteger(limit) || limit < 1) throw new RangeError(`limit must be a positive integer, got ${limit}`);
  return limit;
}
