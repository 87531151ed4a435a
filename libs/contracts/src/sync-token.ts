/**
 * Sync and pagination tokens. A sync token (`next_batch`, `since`) is built from positions
 * that never change: the event store's global position of room events, the account data
 * stream position, the in-memory typing counter, the event store's position of receipts, the
 * in-memory presence counter and the position of the e2ee stream (device list changes and
 * to-device messages). Rebuilding a projection therefore never invalidates a client's token.
 *
 *   sync token:        s<events>_<accountData>_<typing>_<receipts>_<presence>_<e2ee>
 *
 * Tokens issued before presence existed (four parts) are still accepted, with presence 0, and
 * so are tokens issued before the e2ee stream existed (five parts), with e2ee 0.
 *   stream pagination token:       t<events>          (`prev_batch` of /sync)
 *   topological pagination token:  t<depth>-<events>  (`start`/`end` of /messages and /context)
 *
 * A pagination position P stands between the event at P and the next one: paginating
 * backwards from P returns events at P and before, forwards returns events after P. A stream
 * position orders by the event store's position (what /sync has delivered); a topological one
 * by (depth, position), the room's DAG order that /messages and /context follow. Events fetched
 * from other servers by backfill are held at their store position negated, so a stream
 * position can be below 0 (`t-12`, `t3--12`).
 */

export interface SyncToken {
  /** Global event-store position of room events included. */
  events: bigint;
  /** Account data stream position included. */
  accountData: number;
  /** Typing counter included (resets when the process restarts). */
  typing: number;
  /** Global event-store position of receipts included. */
  receipts: bigint;
  /** Presence counter included (in memory, never lower after a restart: see the presence store). */
  presence: number;
  /** Position of the e2ee stream included (device list changes, to-device messages). */
  e2ee: number;
}

/** A token that cannot be parsed: the client gets 400 M_INVALID_PARAM. */
export class SyncTokenError extends Error {
  readonly errcode = 'M_INVALID_PARAM' as const;
  readonly httpStatus = 400;

  constructor(readonly token: string) {
    super(`Invalid token: ${token.length > 64 ? `${token.slice(0, 64)}…` : token}`);
    this.name = 'SyncTokenError';
  }

  toJSON(): { errcode: string; error: string } {
    return { errcode: this.errcode, error: this.message };
  }
}

const SYNC_TOKEN = /^s(0|[1-9][0-9]{0,18})_(0|[1-9][0-9]{0,15})_(0|[1-9][0-9]{0,15})_(0|[1-9][0-9]{0,18})(?:_(0|[1-9][0-9]{0,15})(?:_(0|[1-9][0-9]{0,15}))?)?$/;
const PAGINATION_TOKEN = /^t(0|-?[1-9][0-9]{0,18})$/;
const TOPOLOGICAL_TOKEN = /^t(0|[1-9][0-9]{0,18})-(0|-?[1-9][0-9]{0,18})$/;
const MAX_POSITION = 2n ** 63n - 1n;

export const ZERO_SYNC_TOKEN: SyncToken = Object.freeze({ events: 0n, accountData: 0, typing: 0, receipts: 0n, presence: 0, e2ee: 0 });

export function encodeSyncToken(token: SyncToken): string {
  return `s${token.events}_${token.accountData}_${token.typing}_${token.receipts}_${token.presence}_${token.e2ee}`;
}

function position(text: string, raw: string): bigint {
  const value = BigInt(text);
  if (value > MAX_POSITION || value < -MAX_POSITION) throw new SyncTokenError(raw);
  return value;
}

/** Below every room-event position (history fetched from other servers is held below 0). */
export const FIRST_PAGINATION_POSITION = -MAX_POSITION;

function counter(text: string, raw: string): number {
  const value = Number(text);
  if (!Number.isSafeInteger(value)) throw new SyncTokenError(raw);
  return value;
}

/** Parses a `since` token; throws SyncTokenError for anything this server did not issue. */
export function parseSyncToken(raw: string): SyncToken {
  const match = SYNC_TOKEN.exec(raw);
  if (!match) throw new SyncTokenError(raw);
  return {
    events: position(match[1], raw),
    accountData: counter(match[2], raw),
    typing: counter(match[3], raw),
    receipts: position(match[4], raw),
    presence: match[5] === undefined ? 0 : counter(match[5], raw),
    e2ee: match[6] === undefined ? 0 : counter(match[6], raw),
  };
}

export function encodePaginationToken(eventsPosition: bigint): string {
  if (eventsPosition < -MAX_POSITION || eventsPosition > MAX_POSITION) throw new RangeError('pagination position out of range');
  return `t${eventsPosition}`;
}

/** A point of a room's timeline that pagination starts or stops at. */
export type PaginationPoint =
  /** Between the events at or below `stream` in store order and those above it. */
  | { kind: 'stream'; stream: bigint }
  /** Between the events at or below (`depth`, `stream`) in topological order and those above it. */
  | { kind: 'topological'; depth: bigint; stream: bigint };

export function encodeTopologicalToken(depth: bigint, stream: bigint): string {
  if (depth < 0n || depth > MAX_POSITION) throw new RangeError('pagination depth out of range');
  if (stream < -MAX_POSITION || stream > MAX_POSITION) throw new RangeError('pagination position out of range');
  return `t${depth}-${stream}`;
}

export function encodePaginationPoint(point: PaginationPoint): string {
  return point.kind === 'stream' ? encodePaginationToken(point.stream) : encodeTopologicalToken(point.depth, point.stream);
}

/**
 * A `from`/`to` token of /messages: a topological token (`start`/`end` of /messages and
 * /context), a stream token (`prev_batch` of /sync) or a sync token (`next_batch` of /sync,
 * whose room-event position is used as a stream point).
 */
export function parsePaginationPoint(raw: string): PaginationPoint {
  const topological = TOPOLOGICAL_TOKEN.exec(raw);
  if (topological) return { kind: 'topological', depth: position(topological[1], raw), stream: position(topological[2], raw) };
  const match = PAGINATION_TOKEN.exec(raw);
  if (match) return { kind: 'stream', stream: position(match[1], raw) };
  return { kind: 'stream', stream: parseSyncToken(raw).events };
}

/**
 * The room-event (store) position of a pagination or sync token: a stream token's position,
 * or the position part of a topological one (`at` of /members).
 */
export function parsePaginationToken(raw: string): bigint {
  return parsePaginationPoint(raw).stream;
}
