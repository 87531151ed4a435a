/**
 * The content repository: uploads (direct, or to a media id reserved with `create`),
 * downloads, thumbnails (generated once per size and kept), and the admin actions
 * (quarantine, delete, listing). Each change is a fact appended to the media item's stream
 * (`media-<serverName>/<mediaId>`); the metadata is read from the media projection, after the
 * read barrier, so a read sees every upload acknowledged before it. The bytes are kept in a
 * {@link MediaStorage} under their SHA-256.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import {
  MEDIA_CREATED,
  MEDIA_DELETED,
  MEDIA_QUARANTINED,
  MEDIA_UPLOADED,
  mediaStream,
  type MediaCreated,
  type MediaDeleted,
  type MediaQuarantined,
  type MediaUploaded,
} from '@hs/contracts';
import { isValidServerName } from '@hs/protocol';
import { WrongExpectedRevisionError, type EventStore, type JsonValue, type ReadBarrier } from '@hs/eventstore';
import { SYNC_PROJECTION, mxcUrisInRoom } from '@hs/projections/sync';
import { MEDIA_PROJECTION, contentInUse, countPendingCreates, getMedia, listUserMedia, type MediaRecord } from '@hs/projections/media';
import type { CommonQueryMethods } from 'slonik';
import { normaliseContentType, safeFileName } from './content-disposition';
import { MediaError } from './errors';
import { contentKey, sha256Hex, thumbnailsKey, type MediaStorage } from './storage';
import { chooseThumbnailSize, isThumbnailable, makeThumbnail, parseThumbnailSizes, reducedSource, type ThumbnailMethod, type ThumbnailSize } from './thumbnails';

export interface MediaSettings {
  max_upload_size_bytes: number;
  thumbnail_sizes: readonly string[];
  /** Make every configured thumbnail of an uploaded image in the background after the upload. */
  pregenerate_thumbnails?: boolean;
  max_thumbnail_source_pixels: number;
  legacy_unauthenticated_frozen_at_ms: number | null;
  max_pending_creates_per_user: number;
  unused_expires_after_ms: number;
  max_stall_ms: number;
}

/** Fetches media of other servers (over federation); none: remote media is not found. */
export interface RemoteMediaSource {
  download(serverName: string, mediaId: string, maxBytes: number): Promise<{ bytes: Buffer; contentType: string; fileName?: string } | undefined>;
}

export interface MediaServiceDependencies {
  serverName: string;
  settings: MediaSettings;
  store: Pick<EventStore, 'append'>;
  pool: CommonQueryMethods;
  storage: MediaStorage;
  /** Reads wait here until the media projection has applied every acknowledged write. */
  readBarrier?: ReadBarrier | null;
  remote?: RemoteMediaSource;
  clock?: () => number;
  /** How often a download waiting for reserved media looks again, in ms. */
  stallPollMs?: number;
}

export interface Upload {
  userId: string;
  bytes: Buffer;
  contentType?: string;
  fileName?: string;
}

export interface ServeOptions {
  /** The unauthenticated legacy paths: media uploaded after the configured freeze is not served there. */
  legacy?: boolean;
  /** Longest wait for reserved media that is not uploaded yet, in ms. */
  timeoutMs?: number;
  /** Serve this server's own media only (the federation endpoints). */
  localOnly?: boolean;
  /** `allow_remote=false` of the legacy paths: remote media is served when already cached, never fetched. */
  allowRemote?: boolean;
}

export interface MediaContent {
  bytes: Buffer;
  contentType: string;
  fileName?: string;
}

const MEDIA_ID = /^[A-Za-z0-9_-]{1,255}$/;
const ID_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/** A fresh media id: 24 letters (about 137 bits). */
export function newMediaId(): string {
  return [...randomBytes(24)].map((byte) => ID_ALPHABET[byte % ID_ALPHABET.length]).join('');
}

/** Whether a media id has the form this server accepts (the spec's opaque id, `[A-Za-z0-9_-]`). */
export function isValidMediaId(mediaId: string): boolean {
  return MEDIA_ID.test(mediaId);
}

export class MediaService {
  private readonly sizes: ThumbnailSize[];
  private readonly clock: () => number;
  /** Thumbnails being generated, by storage key: concurrent requests share one. */
  private readonly generating = new Map<string, Promise<{ bytes: Buffer; contentType: string }>>();

  constructor(private readonly deps: MediaServiceDependencies) {
    this.sizes = parseThumbnailSizes(deps.settings.thumbnail_sizes);
    this.clock = deps.clock ?? Date.now;
  }

  get serverName(): string {
    return this.deps.serverName;
  }

  /** GET /media/config */
  config(): { 'm.upload.size': number } {
    return { 'm.upload.size': this.deps.settings.max_upload_size_bytes };
  }

  /**
   * The metadata of an item, as of every write acknowledged before the call. Names that are no
   * server name or media id name nothing (and never reach the database).
   */
  async metadata(serverName: string, mediaId: string): Promise<MediaRecord | undefined> {
    if (!isValidServerName(serverName) || !isValidMediaId(mediaId)) return undefined;
    await this.deps.readBarrier?.ready([MEDIA_PROJECTION]);
    return getMedia(this.deps.pool, serverName, mediaId);
  }

  /** POST /media/v3/upload: stores the bytes and records the upload under a new media id. */
  async upload(upload: Upload): Promise<{ content_uri: string }> {
    const mediaId = newMediaId();
    await this.record(upload, mediaId, 'no_stream');
    return { content_uri: `mxc://${this.serverName}/${mediaId}` };
  }

  /** POST /media/v1/create: reserves a media id for a later upload by the same user. */
  async create(userId: string): Promise<{ content_uri: string; unused_expires_at: number }> {
    const now = this.clock();
    await this.deps.readBarrier?.ready([MEDIA_PROJECTION]);
    const pending = await countPendingCreates(this.deps.pool, userId, now);
    if (pending >= this.deps.settings.max_pending_creates_per_user) {
      throw new MediaError('M_LIMIT_EXCEEDED', 'Too many media ids reserved and not uploaded yet', { retry_after_ms: 60_000 });
    }
    const mediaId = newMediaId();
    const fact: MediaCreated = { v: 1, server_name: this.serverName, media_id: mediaId, user_id: userId, ts: now, unused_expires_at: now + this.deps.settings.unused_expires_after_ms };
    await this.deps.store.append(mediaStream(this.serverName, mediaId), 'no_stream', [{ id: randomUUID(), type: MEDIA_CREATED, data: fact as unknown as JsonValue }]);
    return { content_uri: `mxc://${this.serverName}/${mediaId}`, unused_expires_at: fact.unused_expires_at };
  }

  /** PUT /media/v3/upload/{serverName}/{mediaId}: the content of a reserved media id, once, by its creator. */
  async uploadTo(serverName: string, mediaId: string, upload: Upload): Promise<void> {
    if (serverName !== this.serverName) throw new MediaError('M_FORBIDDEN', 'Media can only be uploaded to this server');
    if (!isValidMediaId(mediaId)) throw MediaError.notFound('Unknown media id');
    const item = await this.metadata(serverName, mediaId);
    if (!item || item.deleted || item.quarantinedBy !== null) throw MediaError.notFound('Unknown media id');
    if (item.userId !== upload.userId) throw new MediaError('M_FORBIDDEN', 'This media id was reserved by another user');
    if (item.sha256 !== null) throw new MediaError('M_CANNOT_OVERWRITE_MEDIA', 'This media id already has content');
    if (item.unusedExpiresAt !== null && item.unusedExpiresAt <= this.clock()) throw MediaError.notFound('This media id expired before it was uploaded');
    // The reservation is revision 0 of the stream: of two uploads racing, one wins.
    await this.record(upload, mediaId, 0n);
  }

  private async record(upload: Upload, mediaId: string, expected: 'no_stream' | bigint): Promise<void> {
    if (upload.bytes.length > this.deps.settings.max_upload_size_bytes) {
      throw new MediaError('M_TOO_LARGE', `The upload is larger than ${this.deps.settings.max_upload_size_bytes} bytes`);
    }
    const sha256 = await this.storeContent(upload.bytes);
    const fileName = safeFileName(upload.fileName);
    const fact: MediaUploaded = {
      v: 1,
      server_name: this.serverName,
      media_id: mediaId,
      user_id: upload.userId,
      content_type: normaliseContentType(upload.contentType),
      ...(fileName !== undefined ? { upload_name: fileName } : {}),
      size: upload.bytes.length,
      sha256,
      ts: this.clock(),
    };
    try {
      await this.deps.store.append(mediaStream(this.serverName, mediaId), expected, [{ id: randomUUID(), type: MEDIA_UPLOADED, data: fact as unknown as JsonValue }]);
    } catch (error) {
      if (error instanceof WrongExpectedRevisionError) throw new MediaError('M_CANNOT_OVERWRITE_MEDIA', 'This media id already has content');
      throw error;
    }
    if (this.deps.settings.pregenerate_thumbnails && isThumbnailable(fact.content_type)) this.pregenerate(sha256, fact.content_type);
  }

  /** Keeps the bytes under their SHA-256 (once: equal content is stored once); answers the hash. */
  private async storeContent(bytes: Buffer): Promise<string> {
    const sha256 = sha256Hex(bytes);
    const key = contentKey(sha256);
    if (!(await this.deps.storage.has(key))) await this.deps.storage.put(key, bytes);
    return sha256;
  }

  /**
   * Makes every configured thumbnail of new content, one after the other, after the upload was
   * answered; a request meanwhile shares the generation of its size. Failures (an image that
   * does not decode) are left to the requests, which answer them.
   */
  private pregenerate(sha256: string, contentType: string): void {
    void (async () => {
      const source = await this.deps.storage.get(contentKey(sha256));
      if (!source) return;
      // Decoded once: every size is made from one reduced copy (GIF and WebP animations are
      // made on request, from the original).
      const reduced = await reducedSource(source, contentType, this.sizes, this.deps.settings.max_thumbnail_source_pixels);
      for (const size of this.sizes) await this.cachedOrGenerated(sha256, contentType, size, false, reduced);
    })().catch(() => undefined);
  }

  /** The content of a media item (fetched from its server and cached when remote). */
  async download(serverName: string, mediaId: string, options: ServeOptions = {}): Promise<MediaContent> {
    const item = await this.available(serverName, mediaId, options);
    const bytes = await this.deps.storage.get(contentKey(item.sha256!));
    if (!bytes) throw MediaError.notFound('The content of this media is missing from the media store');
    return { bytes, contentType: item.contentType!, ...(item.uploadName !== null ? { fileName: item.uploadName } : {}) };
  }

  /** A thumbnail of a media item at the configured size that fits the request, generated once. */
  async thumbnail(
    serverName: string,
    mediaId: string,
    request: { width: number; height: number; method: ThumbnailMethod; animated: boolean },
    options: ServeOptions = {},
  ): Promise<MediaContent> {
    const item = await this.available(serverName, mediaId, options);
    const contentType = item.contentType!;
    if (!isThumbnailable(contentType)) throw new MediaError('M_UNKNOWN', `Cannot generate thumbnails for ${contentType}`, {}, 400);
    const size = chooseThumbnailSize(this.sizes, request.width, request.height, request.method);
    return this.cachedOrGenerated(item.sha256!, contentType, size, request.animated);
  }

  private async cachedOrGenerated(sha256: string, contentType: string, size: ThumbnailSize, animated: boolean, source?: Buffer): Promise<MediaContent> {
    const key = `${thumbnailsKey(sha256)}/${size.width}x${size.height}-${size.method}${animated ? '-animated' : ''}`;
    const pending = this.generating.get(key);
    if (pending) return pending;
    const cached = await this.cachedThumbnail(key);
    if (cached) return cached;
    let generation = this.generating.get(key);
    if (!generation) {
      generation = this.generate(sha256, contentType, size, animated, key, source).finally(() => this.generating.delete(key));
      this.generating.set(key, generation);
    }
    return generation;
  }

  private async cachedThumbnail(key: string): Promise<MediaContent | undefined> {
    for (const [suffix, contentType] of THUMBNAIL_SUFFIXES) {
      const bytes = await this.deps.storage.get(`${key}.${suffix}`);
      if (bytes) return { bytes, contentType };
    }
    return undefined;
  }

  private async generate(sha256: string, contentType: string, size: ThumbnailSize, animated: boolean, key: string, given?: Buffer): Promise<MediaContent> {
    const source = given ?? (await this.deps.storage.get(contentKey(sha256)));
    if (!source) throw MediaError.notFound('The content of this media is missing from the media store');
    const thumbnail = await makeThumbnail(source, contentType, size, { animated, maxSourcePixels: this.deps.settings.max_thumbnail_source_pixels });
    const suffix = THUMBNAIL_SUFFIXES.find(([, type]) => type === thumbnail.contentType)![0];
    await this.deps.storage.put(`${key}.${suffix}`, thumbnail.bytes);
    return thumbnail;
  }

  /** The item with content, waiting (bounded) for reserved media; 404 for what may not be served. */
  private async available(serverName: string, mediaId: string, options: ServeOptions): Promise<MediaRecord> {
    if (!isValidMediaId(mediaId) || !isValidServerName(serverName)) throw MediaError.notFound();
    if (options.localOnly && serverName !== this.serverName) throw MediaError.notFound();
    let item = await this.metadata(serverName, mediaId);
    if (!item && serverName !== this.serverName && options.allowRemote !== false) item = await this.fetchRemote(serverName, mediaId);
    if (!item || item.deleted || item.quarantinedBy !== null) throw MediaError.notFound();
    if (item.sha256 === null) {
      if (item.unusedExpiresAt !== null && item.unusedExpiresAt <= this.clock()) throw MediaError.notFound();
      item = await this.waitForUpload(item, Math.min(options.timeoutMs ?? this.deps.settings.max_stall_ms, this.deps.settings.max_stall_ms));
    }
    const frozenAt = this.deps.settings.legacy_unauthenticated_frozen_at_ms;
    if (options.legacy && frozenAt !== null && item.serverName === this.serverName && (item.createdTs ?? 0) > frozenAt) {
      throw MediaError.notFound('This media is only served on the authenticated media endpoints (/_matrix/client/v1/media)');
    }
    return item;
  }

  private async waitForUpload(item: MediaRecord, timeoutMs: number): Promise<MediaRecord> {
    const deadline = this.clock() + timeoutMs;
    const poll = this.deps.stallPollMs ?? 250;
    for (;;) {
      const remaining = deadline - this.clock();
      if (remaining <= 0) throw new MediaError('M_NOT_YET_UPLOADED', 'The media has not been uploaded yet');
      await new Promise((resolve) => setTimeout(resolve, Math.min(poll, remaining)));
      const now = await this.metadata(item.serverName, item.mediaId);
      if (!now || now.deleted || now.quarantinedBy !== null) throw MediaError.notFound();
      if (now.sha256 !== null) return now;
    }
  }

  /** Fetches a remote item once and caches it as a fact of its own stream. */
  private async fetchRemote(serverName: string, mediaId: string): Promise<MediaRecord | undefined> {
    const remote = this.deps.remote;
    if (!remote) return undefined;
    const fetched = await remote.download(serverName, mediaId, this.deps.settings.max_upload_size_bytes);
    if (!fetched) return undefined;
    const sha256 = await this.storeContent(fetched.bytes);
    const fileName = safeFileName(fetched.fileName);
    const fact: MediaUploaded = {
      v: 1,
      server_name: serverName,
      media_id: mediaId,
      content_type: normaliseContentType(fetched.contentType),
      ...(fileName !== undefined ? { upload_name: fileName } : {}),
      size: fetched.bytes.length,
      sha256,
      ts: this.clock(),
    };
    // Two requests may fetch the same item at once: the first fact is kept.
    await this.deps.store
      .append(mediaStream(serverName, mediaId), 'no_stream', [{ id: randomUUID(), type: MEDIA_UPLOADED, data: fact as unknown as JsonValue }])
      .catch((error: unknown) => {
        if (!(error instanceof WrongExpectedRevisionError)) throw error;
      });
    return this.metadata(serverName, mediaId);
  }

  /** Admin: quarantines an item (it is no longer served to anyone). */
  async quarantine(adminId: string, serverName: string, mediaId: string): Promise<void> {
    const item = await this.metadata(serverName, mediaId);
    if (!item || item.deleted) throw MediaError.notFound();
    if (item.quarantinedBy !== null) return;
    const fact: MediaQuarantined = { v: 1, server_name: serverName, media_id: mediaId, by: adminId, ts: this.clock() };
    await this.deps.store.append(mediaStream(serverName, mediaId), 'stream_exists', [{ id: randomUUID(), type: MEDIA_QUARANTINED, data: fact as unknown as JsonValue }]);
  }

  /** Admin: quarantines every media item the room's events refer to; answers how many were. */
  async quarantineRoom(adminId: string, roomId: string): Promise<number> {
    await this.deps.readBarrier?.ready([SYNC_PROJECTION]);
    let count = 0;
    for (const uri of await mxcUrisInRoom(this.deps.pool, roomId)) {
      const match = /^mxc:\/\/([^/]+)\/([^/?#]+)$/.exec(uri);
      if (!match || !isValidMediaId(match[2]!)) continue;
      const item = await this.metadata(match[1]!, match[2]!);
      if (!item || item.deleted || item.quarantinedBy !== null) continue;
      await this.quarantine(adminId, match[1]!, match[2]!);
      count++;
    }
    return count;
  }

  /** Admin: deletes an item; its file goes when no other item refers to the same content. */
  async delete(adminId: string, serverName: string, mediaId: string): Promise<void> {
    const item = await this.metadata(serverName, mediaId);
    if (!item || item.deleted) throw MediaError.notFound();
    const fact: MediaDeleted = { v: 1, server_name: serverName, media_id: mediaId, by: adminId, ts: this.clock() };
    await this.deps.store.append(mediaStream(serverName, mediaId), 'stream_exists', [{ id: randomUUID(), type: MEDIA_DELETED, data: fact as unknown as JsonValue }]);
    if (item.sha256 !== null) {
      await this.deps.readBarrier?.ready([MEDIA_PROJECTION]);
      if (!(await contentInUse(this.deps.pool, item.sha256))) {
        await this.deps.storage.delete(contentKey(item.sha256));
        await this.deps.storage.delete(thumbnailsKey(item.sha256));
      }
    }
  }

  /** Admin: a user's media, newest first. */
  async listUserMedia(userId: string, limit: number, offset: number): Promise<MediaRecord[]> {
    await this.deps.readBarrier?.ready([MEDIA_PROJECTION]);
    return listUserMedia(this.deps.pool, userId, limit, offset);
  }
}

const THUMBNAIL_SUFFIXES: ReadonlyArray<readonly [string, string]> = [
  ['jpg', 'image/jpeg'],
  ['png', 'image/png'],
  ['webp', 'image/webp'],
  ['gif', 'image/gif'],
];
