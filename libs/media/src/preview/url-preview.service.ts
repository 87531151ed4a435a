/**
 * GET /preview_url: the OpenGraph tags of a page, its image stored in the content repository
 * (`og:image` becomes an `mxc://` URI, with `matrix:image:size` and the image's width and
 * height). Pages are fetched through {@link fetchPage} (deny list, limits); answers are kept
 * for an hour per URL.
 */
import sharp from 'sharp';
import { baseContentType } from '../content-disposition';
import { MediaError } from '../errors';
import type { MediaService } from '../media.service';
import { fetchPage, type FetchPageOptions } from './fetch-page';
import { parseCidr } from './ip-ranges';
import { openGraphTags } from './open-graph';

export interface UrlPreviewSettings {
  enabled: boolean;
  ip_deny_list: readonly string[];
  max_page_bytes: number;
}

export type Preview = Record<string, string | number>;

const CACHE_MS = 60 * 60 * 1000;
const MAX_CACHED = 1000;

export class UrlPreviewService {
  private readonly options: FetchPageOptions;
  private readonly cache = new Map<string, { at: number; preview: Promise<Preview> }>();

  constructor(
    private readonly settings: UrlPreviewSettings,
    private readonly media: MediaService,
    private readonly clock: () => number = Date.now,
  ) {
    this.options = { denied: settings.ip_deny_list.map(parseCidr), maxBytes: settings.max_page_bytes, timeoutMs: 10_000, userAgent: 'matrix-cqrs-homeserver URL preview' };
  }

  get enabled(): boolean {
    return this.settings.enabled;
  }

  async preview(userId: string, rawUrl: string): Promise<Preview> {
    if (!this.settings.enabled) throw new MediaError('M_UNRECOGNIZED', 'URL previews are disabled on this server');
    let url: URL;
    try {
      url = new URL(rawUrl);
    } catch {
      throw MediaError.invalidParam('url is not a URL');
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw MediaError.invalidParam('Only http and https URLs can be previewed');
    url.hash = '';
    const key = url.href;
    const now = this.clock();
    const cached = this.cache.get(key);
    if (cached && now - cached.at < CACHE_MS) return cached.preview;
    const preview = this.build(userId, url);
    this.cache.set(key, { at: now, preview });
    preview.catch(() => this.cache.delete(key));
    if (this.cache.size > MAX_CACHED) this.cache.delete(this.cache.keys().next().value!);
    return preview;
  }

  private async build(userId: string, url: URL): Promise<Preview> {
    const page = await fetchPage(url, this.options);
    if (page.status < 200 || page.status >= 300) throw new MediaError('M_UNKNOWN', `The page answered ${page.status}`, {}, 502);
    const type = baseContentType(page.contentType);
    if (type.startsWith('image/')) return this.image(userId, page.body, type, page.url);
    if (type !== 'text/html' && type !== 'application/xhtml+xml') return {};
    const tags: Preview = openGraphTags(page.body.toString('utf8'));
    const image = tags['og:image'];
    delete tags['og:image'];
    if (typeof image === 'string' && image.length > 0) {
      try {
        const imageUrl = new URL(image, page.url);
        const fetched = await fetchPage(imageUrl, this.options);
        const imageType = baseContentType(fetched.contentType);
        if (fetched.status >= 200 && fetched.status < 300 && imageType.startsWith('image/')) Object.assign(tags, await this.image(userId, fetched.body, imageType, fetched.url));
      } catch {
        // A preview without its image is still a preview.
      }
    }
    return tags;
  }

  /** Stores an image in the content repository and describes it. */
  private async image(userId: string, bytes: Buffer, contentType: string, url: URL): Promise<Preview> {
    const fileName = decodeURIComponent(url.pathname.split('/').pop() ?? '') || undefined;
    const { content_uri } = await this.media.upload({ userId, bytes, contentType, ...(fileName ? { fileName } : {}) });
    const out: Preview = { 'og:image': content_uri, 'og:image:type': contentType, 'matrix:image:size': bytes.length };
    try {
      const meta = await sharp(bytes).metadata();
      if (meta.width) out['og:image:width'] = meta.width;
      if (meta.height) out['og:image:height'] = meta.height;
    } catch {
      // Not an image sharp can read: no dimensions.
    }
    return out;
  }
}
