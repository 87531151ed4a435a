/**
 * Projections over HTTP, for server admins (this server's own endpoints): each read model with
 * its live generation, checkpoint and lag, and the latest rebuild; an online rebuild started
 * with POST (the live generation serves until the new one has caught up and is swapped in).
 */
import { ProjectionRebuilds, RebuildRunning, UnknownProjection, type RebuildStatus } from '@hs/admin';
import { MatrixError } from '@hs/http';
import { Controller, Get, HttpCode, Inject, Param, Post } from '@nestjs/common';
import { AuthUser, type AuthenticatedUser } from '../auth';
import { HS_ADMIN_V1, RequestId, RequireServerAdmin } from './server-admin';

interface ProjectionView {
  name: string;
  version?: number;
  generation?: number;
  checkpoint?: string;
  lag?: string;
  failing?: boolean;
  rebuild?: RebuildStatus;
}

@Controller()
@RequireServerAdmin()
export class ProjectionsController {
  constructor(@Inject(ProjectionRebuilds) private readonly rebuilds: ProjectionRebuilds) {}

  /** GET /_hs/admin/v1/projections */
  @Get(`${HS_ADMIN_V1}/projections`)
  async list(): Promise<{ projections: ProjectionView[] }> {
    const live = new Map((await this.rebuilds.live()).map((status) => [status.name, status]));
    return {
      projections: this.rebuilds.names().map((name) => {
        const status = live.get(name);
        const rebuild = this.rebuilds.status(name);
        return {
          name,
          ...(status
            ? { version: status.version, generation: status.generation, checkpoint: status.checkpoint.toString(), lag: status.lag.toString(), failing: status.failing }
            : {}),
          ...(rebuild ? { rebuild } : {}),
        };
      }),
    };
  }

  /** POST /_hs/admin/v1/projections/{name}/rebuild: 202 with the rebuild's status; its progress is in GET /projections. */
  @Post(`${HS_ADMIN_V1}/projections/:name/rebuild`)
  @HttpCode(202)
  async rebuild(@AuthUser() user: AuthenticatedUser, @Param('name') name: string, @RequestId() requestId: string | null): Promise<RebuildStatus> {
    try {
      return await this.rebuilds.start(name, user.userId, requestId ?? undefined);
    } catch (error) {
      if (error instanceof UnknownProjection) throw MatrixError.notFound(`No projection ${name}; known: ${this.rebuilds.names().join(', ')}`);
      if (error instanceof RebuildRunning) throw new MatrixError(409, 'M_UNKNOWN', error.message);
      throw error;
    }
  }
}
