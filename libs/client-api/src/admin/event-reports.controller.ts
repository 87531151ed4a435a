/**
 * Reports in Synapse's admin API (`/_synapse/admin/v1/event_reports`): list, details, delete.
 * Reports of rooms and users (which Synapse lists elsewhere) are listed here too, with a null
 * `event_id` and the reported user in `target_user_id`.
 */
import { Controller, Delete, Get, Inject, Param, Query } from '@nestjs/common';
import { QueryBus } from '@nestjs/cqrs';
import { AuditLog, EventReports, type Report } from '@hs/admin';
import { MatrixError } from '@hs/http';
import { GetEvent, GetRoomForAdmin } from '@hs/room';
import { AuthUser, type AuthenticatedUser } from '../auth';
import { queryParam } from '../validation';
import { RequestId, RequireServerAdmin, SYNAPSE_ADMIN_V1, directionQueryParam, pagingQuery } from './server-admin';

const REPORTS = `${SYNAPSE_ADMIN_V1}/event_reports`;

interface ReportResponse {
  id: number;
  received_ts: number;
  room_id: string | null;
  name: string | null;
  canonical_alias: string | null;
  event_id: string | null;
  user_id: string;
  reason: string | null;
  score: number | null;
  sender: string | null;
  target_user_id: string | null;
  event_json?: unknown;
}

function reportId(raw: string): number {
  if (!/^[0-9]{1,15}$/.test(raw)) throw MatrixError.invalidParam('The report id must be a non-negative integer');
  return Number(raw);
}

@Controller()
@RequireServerAdmin()
export class EventReportsController {
  constructor(
    private readonly queryBus: QueryBus,
    @Inject(EventReports) private readonly reports: EventReports,
    @Inject(AuditLog) private readonly audit: AuditLog,
  ) {}

  /** GET /_synapse/admin/v1/event_reports */
  @Get(REPORTS)
  async list(@Query() query: unknown): Promise<{ event_reports: ReportResponse[]; total: number; next_token?: number }> {
    const { from, limit } = pagingQuery(query);
    const { reports, total } = await this.reports.list({
      from,
      limit,
      dir: directionQueryParam(query, 'b'),
      userId: queryParam(query, 'user_id'),
      roomId: queryParam(query, 'room_id'),
    });
    const page = await Promise.all(reports.map((report) => this.describe(report, false)));
    return { event_reports: page, total, ...(page.length > 0 && from + page.length < total ? { next_token: from + page.length } : {}) };
  }

  /** GET /_synapse/admin/v1/event_reports/{reportId} */
  @Get(`${REPORTS}/:reportId`)
  async get(@Param('reportId') rawId: string): Promise<ReportResponse> {
    const report = await this.reports.get(reportId(rawId));
    if (!report) throw MatrixError.notFound('Event report not found');
    return this.describe(report, true);
  }

  /** DELETE /_synapse/admin/v1/event_reports/{reportId} */
  @Delete(`${REPORTS}/:reportId`)
  async delete(@AuthUser() admin: AuthenticatedUser, @Param('reportId') rawId: string, @RequestId() requestId: string | null): Promise<Record<string, never>> {
    const id = reportId(rawId);
    const report = await this.reports.delete(id, admin.userId);
    if (!report) throw MatrixError.notFound('Event report not found');
    await this.audit.record({
      actor: admin.userId,
      action: 'event_report.deleted',
      target: String(id),
      requestId,
      before: { reporter: report.reporter, room_id: report.room_id, event_id: report.event_id, user_id: report.user_id, reason: report.reason },
    });
    return {};
  }

  /** A report with its room's name and alias and the reported event's sender (and, for details, the event). */
  private async describe(report: Report, withEvent: boolean): Promise<ReportResponse> {
    const room = report.room_id ? await this.queryBus.execute(new GetRoomForAdmin(report.room_id)).catch(() => undefined) : undefined;
    const event = report.event_id ? await this.queryBus.execute(new GetEvent(report.event_id)).catch(() => undefined) : undefined;
    return {
      id: report.id,
      received_ts: report.ts,
      room_id: report.room_id,
      name: room?.name ?? null,
      canonical_alias: room?.canonical_alias ?? null,
      event_id: report.event_id,
      user_id: report.reporter,
      reason: report.reason,
      score: report.score,
      sender: event?.event.sender ?? null,
      target_user_id: report.user_id,
      ...(withEvent && report.event_id ? { event_json: event?.pdu ?? null } : {}),
    };
  }
}
