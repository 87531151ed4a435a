/**
 * Media administration as Synapse's admin API offers it (`/_synapse/admin/v1/...`), for server
 * admins only: quarantine one item or every item of a room, delete an item, list a user's
 * media. Each action is a fact in the item's stream.
 */
import { Controller, Delete, Get, HttpCode, Inject, Param, Post, Query } from '@nestjs/common';
import { UserService } from '@hs/accounts';
import { AuditLog } from '@hs/admin';
import { MatrixError } from '@hs/http';
import { MediaService, integerQueryParam } from '@hs/media';
import { RequestId } from '../admin/server-admin';
import { AuthUser, RequireAuth, type AuthenticatedUser } from '../auth';
import { roomIdParam, userIdParam } from '../rooms/params';

const ADMIN = '_synapse/admin/v1';

@Controller()
@RequireAuth()
export class MediaAdminController {
  constructor(
    @Inject(MediaService) private readonly media: MediaService,
    @Inject(UserService) private readonly users: UserService,
    @Inject(AuditLog) private readonly audit: AuditLog,
  ) {}

  private async requireAdmin(user: AuthenticatedUser): Promise<void> {
    if (!(await this.users.isAdmin(user.userId))) throw MatrixError.forbidden('You are not a server admin');
  }

  /** POST /_synapse/admin/v1/media/quarantine/{serverName}/{mediaId} */
  @Post(`${ADMIN}/media/quarantine/:serverName/:mediaId`)
  @HttpCode(200)
  async quarantine(
    @AuthUser() user: AuthenticatedUser,
    @Param('serverName') serverName: string,
    @Param('mediaId') mediaId: string,
    @RequestId() requestId: string | null,
  ): Promise<Record<string, never>> {
    await this.requireAdmin(user);
    await this.media.quarantine(user.userId, serverName, mediaId);
    await this.audit.record({ actor: user.userId, action: 'media.quarantined', target: `mxc://${serverName}/${mediaId}`, requestId });
    return {};
  }

  /** POST /_synapse/admin/v1/room/{roomId}/media/quarantine */
  @Post(`${ADMIN}/room/:roomId/media/quarantine`)
  @HttpCode(200)
  async quarantineRoom(@AuthUser() user: AuthenticatedUser, @Param('roomId') roomId: string, @RequestId() requestId: string | null): Promise<{ num_quarantined: number }> {
    await this.requireAdmin(user);
    const quarantined = await this.media.quarantineRoom(user.userId, roomIdParam(roomId));
    await this.audit.record({ actor: user.userId, action: 'media.quarantined', target: roomId, requestId, details: { num_quarantined: quarantined } });
    return { num_quarantined: quarantined };
  }

  /** DELETE /_synapse/admin/v1/media/{serverName}/{mediaId} */
  @Delete(`${ADMIN}/media/:serverName/:mediaId`)
  async delete(
    @AuthUser() user: AuthenticatedUser,
    @Param('serverName') serverName: string,
    @Param('mediaId') mediaId: string,
    @RequestId() requestId: string | null,
  ): Promise<{ deleted_media: string[]; total: number }> {
    await this.requireAdmin(user);
    await this.media.delete(user.userId, serverName, mediaId);
    await this.audit.record({ actor: user.userId, action: 'media.deleted', target: `mxc://${serverName}/${mediaId}`, requestId });
    return { deleted_media: [mediaId], total: 1 };
  }

  /** GET /_synapse/admin/v1/users/{userId}/media */
  @Get(`${ADMIN}/users/:userId/media`)
  async listUserMedia(@AuthUser() user: AuthenticatedUser, @Param('userId') rawUserId: string, @Query() query: unknown): Promise<{ media: unknown[]; total: number; next_token?: number }> {
    await this.requireAdmin(user);
    const userId = userIdParam(rawUserId, 'userId');
    const from = integerQueryParam(query, 'from', 0, 1_000_000_000, 0);
    const limit = integerQueryParam(query, 'limit', 1, 1000, 100);
    const items = await this.media.listUserMedia(userId, limit + 1, from);
    const page = items.slice(0, limit).map((item) => ({
      media_id: item.mediaId,
      media_type: item.contentType,
      media_length: item.size,
      upload_name: item.uploadName,
      created_ts: item.createdTs,
      quarantined_by: item.quarantinedBy,
      deleted: item.deleted,
    }));
    return { media: page, total: page.length, ...(items.length > limit ? { next_token: from + limit } : {}) };
  }
}
