/**
 * The content repository (client-server API, "Content repository"): uploads under
 * `/_matrix/media/v3`, downloads, thumbnails and the configuration under the authenticated
 * `/_matrix/client/v1/media` paths, and the legacy unauthenticated `/_matrix/media/v3`
 * download and thumbnail paths (which stop serving media uploaded after the configured
 * freeze). Bodies of uploads are the raw bytes, whatever their Content-Type, up to
 * `media.max_upload_size_bytes` (413 M_TOO_LARGE above).
 */
import { Controller, Get, HttpCode, Inject, Param, Post, Put, Query, Req, Res } from '@nestjs/common';
import { RouteConfig } from '@nestjs/platform-fastify';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { MatrixError } from '@hs/http';
import { MEDIA_SECURITY_HEADERS, MediaService, UrlPreviewService, allowRemoteQuery, contentDisposition, thumbnailQuery, timeoutQuery, type MediaContent, type Preview } from '@hs/media';
import { AuthUser, RequireAuth, type AuthenticatedUser } from '../auth';
import { clientV1Paths } from '../prefixes';
import { queryParam, requireQueryParam } from '../validation';
import { mediaPaths } from './media-paths';

const RAW_BODY = { rawBody: true };

/** Path parameters of downloads. */
interface MediaParams {
  serverName: string;
  mediaId: string;
  fileName?: string;
}

function uploadOf(user: AuthenticatedUser, request: FastifyRequest, query: unknown) {
  const body = request.body;
  const bytes = Buffer.isBuffer(body) ? body : Buffer.alloc(0);
  const type = request.headers['content-type'];
  const fileName = queryParam(query, 'filename');
  return { userId: user.userId, bytes, ...(typeof type === 'string' ? { contentType: type } : {}), ...(fileName !== undefined ? { fileName } : {}) };
}

/** Sends media bytes with the content type, disposition and sandboxing headers. */
function sendMedia(reply: FastifyReply, content: MediaContent, fileName?: string): void {
  reply.status(200);
  for (const [name, value] of Object.entries(MEDIA_SECURITY_HEADERS)) reply.header(name, value);
  reply.header('Content-Type', content.contentType);
  reply.header('Content-Disposition', contentDisposition(content.contentType, fileName ?? content.fileName));
  reply.header('Cache-Control', 'public, max-age=86400, immutable');
  reply.send(content.bytes);
}

function decodedFileName(fileName: string | undefined): string | undefined {
  if (fileName === undefined) return undefined;
  if (fileName.includes('\u0000')) throw MatrixError.invalidParam('The file name holds U+0000');
  return fileName;
}

@Controller()
export class MediaController {
  constructor(
    @Inject(MediaService) private readonly media: MediaService,
    @Inject(UrlPreviewService) private readonly previews: UrlPreviewService,
  ) {}

  /** GET /_matrix/client/v1/media/preview_url and GET /_matrix/media/v3/preview_url */
  @Get([...clientV1Paths('media/preview_url'), ...mediaPaths('preview_url')])
  @RequireAuth()
  previewUrl(@AuthUser() user: AuthenticatedUser, @Query() query: unknown): Promise<Preview> {
    return this.previews.preview(user.userId, requireQueryParam(query, 'url'));
  }

  /** POST /_matrix/media/v3/upload */
  @Post(mediaPaths('upload'))
  @RouteConfig(RAW_BODY)
  @RequireAuth()
  @HttpCode(200)
  upload(@AuthUser() user: AuthenticatedUser, @Req() request: FastifyRequest, @Query() query: unknown): Promise<{ content_uri: string }> {
    return this.media.upload(uploadOf(user, request, query));
  }

  /** POST /_matrix/media/v1/create */
  @Post(['_matrix/media/v1/create'])
  @RequireAuth()
  @HttpCode(200)
  create(@AuthUser() user: AuthenticatedUser): Promise<{ content_uri: string; unused_expires_at: number }> {
    return this.media.create(user.userId);
  }

  /** PUT /_matrix/media/v3/upload/{serverName}/{mediaId} */
  @Put(mediaPaths('upload/:serverName/:mediaId'))
  @RouteConfig(RAW_BODY)
  @RequireAuth()
  async uploadTo(
    @AuthUser() user: AuthenticatedUser,
    @Param('serverName') serverName: string,
    @Param('mediaId') mediaId: string,
    @Req() request: FastifyRequest,
    @Query() query: unknown,
  ): Promise<Record<string, never>> {
    await this.media.uploadTo(serverName, mediaId, uploadOf(user, request, query));
    return {};
  }

  /** GET /_matrix/client/v1/media/config */
  @Get(clientV1Paths('media/config'))
  @RequireAuth()
  config(): { 'm.upload.size': number } {
    return this.media.config();
  }

  /** GET /_matrix/media/v3/config (authenticated in the spec as well) */
  @Get(mediaPaths('config'))
  @RequireAuth()
  legacyConfig(): { 'm.upload.size': number } {
    return this.media.config();
  }

  /** GET /_matrix/client/v1/media/download/{serverName}/{mediaId}[/{fileName}] */
  @Get([...clientV1Paths('media/download/:serverName/:mediaId'), ...clientV1Paths('media/download/:serverName/:mediaId/:fileName')])
  @RequireAuth()
  async download(@Param() params: MediaParams, @Query() query: unknown, @Res() reply: FastifyReply): Promise<void> {
    await this.serveDownload(params, query, reply, false);
  }

  /** GET /_matrix/media/v3/download/{serverName}/{mediaId}[/{fileName}] (unauthenticated, frozen by configuration) */
  @Get([...mediaPaths('download/:serverName/:mediaId'), ...mediaPaths('download/:serverName/:mediaId/:fileName')])
  async legacyDownload(@Param() params: MediaParams, @Query() query: unknown, @Res() reply: FastifyReply): Promise<void> {
    await this.serveDownload(params, query, reply, true);
  }

  private async serveDownload(params: MediaParams, query: unknown, reply: FastifyReply, legacy: boolean): Promise<void> {
    const name = decodedFileName(params.fileName);
    const timeoutMs = timeoutQuery(query);
    const options = { legacy, allowRemote: allowRemoteQuery(query), ...(timeoutMs === undefined ? {} : { timeoutMs }) };
    sendMedia(reply, await this.media.download(params.serverName, params.mediaId, options), name);
  }

  /** GET /_matrix/client/v1/media/thumbnail/{serverName}/{mediaId} */
  @Get(clientV1Paths('media/thumbnail/:serverName/:mediaId'))
  @RequireAuth()
  async thumbnail(@Param('serverName') serverName: string, @Param('mediaId') mediaId: string, @Query() query: unknown, @Res() reply: FastifyReply): Promise<void> {
    await this.serveThumbnail(serverName, mediaId, query, reply, false);
  }

  /** GET /_matrix/media/v3/thumbnail/{serverName}/{mediaId} (unauthenticated, frozen by configuration) */
  @Get(mediaPaths('thumbnail/:serverName/:mediaId'))
  async legacyThumbnail(@Param('serverName') serverName: string, @Param('mediaId') mediaId: string, @Query() query: unknown, @Res() reply: FastifyReply): Promise<void> {
    await this.serveThumbnail(serverName, mediaId, query, reply, true);
  }

  private async serveThumbnail(serverName: string, mediaId: string, query: unknown, reply: FastifyReply, legacy: boolean): Promise<void> {
    const { timeoutMs, ...request } = thumbnailQuery(query);
    const options = { legacy, allowRemote: allowRemoteQuery(query), ...(timeoutMs === undefined ? {} : { timeoutMs }) };
    const thumbnail = await this.media.thumbnail(serverName, mediaId, request, options);
    sendMedia(reply, { bytes: thumbnail.bytes, contentType: thumbnail.contentType }, undefined);
  }
}
