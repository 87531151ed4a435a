/**
 * The audit log over HTTP: GET /_hs/admin/v1/audit, this server's own endpoint (Synapse has
 * none), for server admins. Filters: actor, action, target, from_ts/to_ts (ms since the
 * epoch, from inclusive, to exclusive); paging: from (a next_token), limit, dir.
 */
import { Controller, Get, Inject, Query } from '@nestjs/common';
import { AuditLog, type AuditEntry } from '@hs/admin';
import { queryParam } from '../validation';
import { HS_ADMIN_V1, RequireServerAdmin, directionQueryParam, numberQueryParam } from './server-admin';

@Controller()
@RequireServerAdmin()
export class AuditController {
  constructor(@Inject(AuditLog) private readonly audit: AuditLog) {}

  /** GET /_hs/admin/v1/audit */
  @Get(`${HS_ADMIN_V1}/audit`)
  async list(@Query() query: unknown): Promise<{ entries: AuditEntry[]; next_token?: number }> {
    const { entries, nextToken } = await this.audit.list({
      actor: queryParam(query, 'actor'),
      action: queryParam(query, 'action'),
      target: queryParam(query, 'target'),
      fromTs: numberQueryParam(query, 'from_ts', 0, Number.MAX_SAFE_INTEGER),
      toTs: numberQueryParam(query, 'to_ts', 0, Number.MAX_SAFE_INTEGER),
      from: numberQueryParam(query, 'from', 0, Number.MAX_SAFE_INTEGER),
      limit: numberQueryParam(query, 'limit', 1, 1000, 100),
      dir: directionQueryParam(query, 'f'),
    });
    return { entries, ...(nextToken !== undefined ? { next_token: nextToken } : {}) };
  }
}
