/**
 * Reports of events, rooms and users: each one a `ReportSubmitted` fact of the `reports`
 * stream, its id the fact's revision; an admin deleting one appends `ReportDeleted`. The
 * admin API reads the stream itself, so a report is listed as soon as it was acknowledged.
 */
import { randomUUID } from 'node:crypto';
import { REPORT_DELETED, REPORT_SUBMITTED, REPORTS_STREAM, type ReportDeleted, type ReportSubmitted } from '@hs/contracts';
import type { EventStore, JsonValue } from '@hs/eventstore';

export interface Report extends Omit<ReportSubmitted, 'v'> {
  id: number;
}

export interface ReportQuery {
  from: number;
  limit: number;
  /** Newest first (b, the default) or oldest first (f). */
  dir: 'f' | 'b';
  /** Reports made by users whose id contains this. */
  userId?: string;
  /** Reports about rooms whose id contains this. */
  roomId?: string;
}

/** Reports read per round trip. */
const PAGE = 1000;

export class EventReports {
  constructor(
    private readonly store: EventStore,
    private readonly clock: () => number = Date.now,
  ) {}

  /** Stores a report; resolves with its id. */
  async submit(report: Omit<ReportSubmitted, 'v' | 'ts'>): Promise<number> {
    const data: ReportSubmitted = { v: 1, ...report, ts: this.clock() };
    const result = await this.store.append(REPORTS_STREAM, 'any', [{ id: randomUUID(), type: REPORT_SUBMITTED, data: data as unknown as JsonValue }]);
    return Number(result.events[0].revision);
  }

  /** Every report not deleted, oldest first. */
  async current(): Promise<Report[]> {
    const reports = new Map<number, Report>();
    let from = 0n;
    for (;;) {
      const page = await this.store.readStream(REPORTS_STREAM, { fromRevision: from, limit: PAGE });
      for (const record of page) {
        from = record.revision + 1n;
        if (record.type === REPORT_SUBMITTED) {
          const { v: _version, ...rest } = record.data as unknown as ReportSubmitted;
          reports.set(Number(record.revision), { id: Number(record.revision), ...rest });
        } else if (record.type === REPORT_DELETED) {
          reports.delete((record.data as unknown as ReportDeleted).report_id);
        }
      }
      if (page.length < PAGE) return [...reports.values()];
    }
  }

  /** A page of the reports matching the query and how many match. */
  async list(query: ReportQuery): Promise<{ reports: Report[]; total: number }> {
    const matching = (await this.current()).filter(
      (report) =>
        (query.userId === undefined || report.reporter.includes(query.userId)) &&
        (query.roomId === undefined || (report.room_id ?? '').includes(query.roomId)),
    );
    if (query.dir === 'b') matching.reverse();
    return { reports: matching.slice(query.from, query.from + query.limit), total: matching.length };
  }

  async get(id: number): Promise<Report | undefined> {
    return (await this.current()).find((report) => report.id === id);
  }

  /** Deletes a report (a `ReportDeleted` fact); false when there is no such report. */
  async delete(id: number, by: string): Promise<Report | undefined> {
    const report = await this.get(id);
    if (!report) return undefined;
    const data: ReportDeleted = { v: 1, report_id: id, by, ts: this.clock() };
    await this.store.append(REPORTS_STREAM, 'any', [{ id: randomUUID(), type: REPORT_DELETED, data: data as unknown as JsonValue }]);
    return report;
  }
}
