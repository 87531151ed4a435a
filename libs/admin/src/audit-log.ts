/**
 * The audit log: admin and moderation actions appended to the `audit` stream of the event
 * store, and read back from it. Entries are never changed or deleted; an entry's id is its
 * revision in the stream. Reads go to the store itself, so an action is listed as soon as the
 * request that did it has been answered.
 */
import { randomUUID } from 'node:crypto';
import { AUDIT_ENTRY_RECORDED, AUDIT_STREAM, type AuditAction, type AuditEntryRecorded, type AuditValue } from '@hs/contracts';
import type { EventStore, JsonValue, RecordedEvent } from '@hs/eventstore';

/** What the caller says about an action; the time is the log's clock. */
export interface AuditRecord {
  actor: string;
  action: AuditAction;
  target: string;
  requestId?: string | null;
  before?: AuditValue;
  after?: AuditValue;
  details?: { [key: string]: AuditValue };
}

/** An entry as listed: the stored fact with its id. */
export interface AuditEntry extends Omit<AuditEntryRecorded, 'v'> {
  id: number;
}

export interface AuditQuery {
  actor?: string;
  action?: string;
  target?: string;
  /** Entries at or after this time (ms since the epoch). */
  fromTs?: number;
  /** Entries before this time (ms since the epoch). */
  toTs?: number;
  /** The id to start at (a `next_token`); default the first (forwards) or last (backwards) entry. */
  from?: number;
  limit: number;
  dir: 'f' | 'b';
}

/** Entries read from the store per round trip while looking for matches. */
const SCAN_PAGE = 500;

function toEntry(record: RecordedEvent): AuditEntry | undefined {
  if (record.type !== AUDIT_ENTRY_RECORDED) return undefined;
  const data = record.data as unknown as AuditEntryRecorded;
  const { v: _version, ...rest } = data;
  return { id: Number(record.revision), ...rest };
}

function matches(entry: AuditEntry, query: AuditQuery): boolean {
  return (
    (query.actor === undefined || entry.actor === query.actor) &&
    (query.action === undefined || entry.action === query.action) &&
    (query.target === undefined || entry.target === query.target) &&
    (query.fromTs === undefined || entry.ts >= query.fromTs) &&
    (query.toTs === undefined || entry.ts < query.toTs)
  );
}

export class AuditLog {
  constructor(
    private readonly store: EventStore,
    private readonly clock: () => number = Date.now,
  ) {}

  /** Appends one entry; resolves once it is stored. */
  async record(record: AuditRecord): Promise<void> {
    const entry: AuditEntryRecorded = {
      v: 1,
      actor: record.actor,
      action: record.action,
      target: record.target,
      ts: this.clock(),
      request_id: record.requestId ?? null,
      ...(record.before !== undefined ? { before: record.before } : {}),
      ...(record.after !== undefined ? { after: record.after } : {}),
      ...(record.details !== undefined ? { details: record.details } : {}),
    };
    await this.store.append(AUDIT_STREAM, 'any', [{ id: randomUUID(), type: AUDIT_ENTRY_RECORDED, data: entry as unknown as JsonValue }]);
  }

  /**
   * A page of entries matching the query, in stream order (`dir` f) or newest first (b), and
   * the id to continue from when there may be more.
   */
  async list(query: AuditQuery): Promise<{ entries: AuditEntry[]; nextToken?: number }> {
    const entries: AuditEntry[] = [];
    const backwards = query.dir === 'b';
    let cursor: bigint | undefined = query.from !== undefined ? BigInt(query.from) : undefined;
    for (;;) {
      if (cursor !== undefined && cursor < 0n) return { entries };
      const page = await this.store.readStream(AUDIT_STREAM, {
        direction: backwards ? 'backwards' : 'forwards',
        ...(cursor !== undefined ? { fromRevision: cursor } : {}),
        limit: SCAN_PAGE,
      });
      for (const record of page) {
        cursor = backwards ? record.revision - 1n : record.revision + 1n;
        const entry = toEntry(record);
        if (entry && matches(entry, query)) {
          entries.push(entry);
          if (entries.length === query.limit) return { entries, nextToken: Number(cursor) };
        }
      }
      if (page.length < SCAN_PAGE) return { entries };
    }
  }

  /** Every entry in stream order, a page at a time (for exports). */
  async *all(): AsyncGenerator<AuditEntry> {
    let from = 0n;
    for (;;) {
      const page = await this.store.readStream(AUDIT_STREAM, { fromRevision: from, limit: SCAN_PAGE });
      for (const record of page) {
        const entry = toEntry(record);
        if (entry) yield entry;
        from = record.revision + 1n;
      }
      if (page.length < SCAN_PAGE) return;
    }
  }
}
