/**
 * The federation media endpoints (server-server API, "Content repository"): another server
 * fetches our local media and thumbnails, authenticated with X-Matrix (the listener's guard),
 * as `multipart/mixed` (a JSON metadata part, then the content). Media this server only
 * caches for another server is not served from here.
 */
import { Controller, DynamicModule, Get, Inject, Module, Param, Query, Res } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { MEDIA_SECURITY_HEADERS, MediaService, contentDisposition, encodeMediaMultipart, thumbnailQuery, timeoutQuery, type MediaContent } from '@hs/media';

function sendMultipart(reply: FastifyReply, content: MediaContent): void {
  const answer = encodeMediaMultipart({ bytes: content.bytes, contentType: content.contentType, disposition: contentDisposition(content.contentType, content.fileName) });
  for (const [name, value] of Object.entries(MEDIA_SECURITY_HEADERS)) reply.header(name, value);
  reply.status(200).header('Content-Type', answer.contentType).send(answer.body);
}

@Controller('_matrix/federation/v1/media')
export class FederationMediaController {
  constructor(@Inject(MediaService) private readonly media: MediaService) {}

  /** GET /_matrix/federation/v1/media/download/{mediaId} */
  @Get('download/:mediaId')
  async download(@Param('mediaId') mediaId: string, @Query() query: unknown, @Res() reply: FastifyReply): Promise<void> {
    const timeoutMs = timeoutQuery(query);
    sendMultipart(reply, await this.media.download(this.media.serverName, mediaId, { localOnly: true, ...(timeoutMs === undefined ? {} : { timeoutMs }) }));
  }

  /** GET /_matrix/federation/v1/media/thumbnail/{mediaId} */
  @Get('thumbnail/:mediaId')
  async thumbnail(@Param('mediaId') mediaId: string, @Query() query: unknown, @Res() reply: FastifyReply): Promise<void> {
    const { timeoutMs, ...request } = thumbnailQuery(query);
    sendMultipart(reply, await this.media.thumbnail(this.media.serverName, mediaId, request, { localOnly: true, ...(timeoutMs === undefined ? {} : { timeoutMs }) }));
  }
}

/** The federation media endpoints on the host's media service. */
@Module({})
export class FederationMediaApiModule {
  static forService(media: MediaService): DynamicModule {
    return { module: FederationMediaApiModule, controllers: [FederationMediaController], providers: [{ provide: MediaService, useValue: media }] };
  }
}
