/**
 * Thumbnails with sharp (libvips) for JPEG, PNG, GIF and WebP: the configured size to serve
 * for a request, and the image of that size. `crop` fills the box exactly (centred cut),
 * `scale` fits the image inside it keeping its aspect ratio; neither enlarges the image.
 */
import sharp from 'sharp';
import { baseContentType } from './content-disposition';
import { MediaError } from './errors';

export type ThumbnailMethod = 'crop' | 'scale';

export interface ThumbnailSize {
  width: number;
  height: number;
  method: ThumbnailMethod;
}

/** Types the server thumbnails. */
export const THUMBNAILABLE_TYPES = new Set(['image/jpeg', 'image/png', 'image/gif', 'image/webp']);

export function isThumbnailable(contentType: string): boolean {
  return THUMBNAILABLE_TYPES.has(baseContentType(contentType));
}

/** Parses the configuration's `WIDTHxHEIGHT method` entries. */
export function parseThumbnailSizes(entries: readonly string[]): ThumbnailSize[] {
  return entries.map((entry) => {
    const match = /^([0-9]+)x([0-9]+) (crop|scale)$/.exec(entry);
    if (!match) throw new TypeError(`not a thumbnail size: ${entry}`);
    return { width: Number(match[1]), height: Number(match[2]), method: match[3] as ThumbnailMethod };
  });
}

/**
 * The configured size to serve: of the asked method (else any), the smallest that is at
 * least as large as asked; when none is, the largest.
 */
export function chooseThumbnailSize(sizes: readonly ThumbnailSize[], width: number, height: number, method: ThumbnailMethod): ThumbnailSize {
  const same = sizes.filter((size) => size.method === method);
  const candidates = same.length > 0 ? same : [...sizes];
  const area = (size: ThumbnailSize) => size.width * size.height;
  const bigEnough = candidates.filter((size) => size.width >= width && size.height >= height).sort((a, b) => area(a) - area(b));
  if (bigEnough.length > 0) return bigEnough[0]!;
  return [...candidates].sort((a, b) => area(b) - area(a))[0]!;
}

export interface Thumbnail {
  bytes: Buffer;
  contentType: string;
}

export interface ThumbnailOptions {
  /** Keep the animation of an animated GIF or WebP. */
  animated: boolean;
  /** Larger images are refused (decompression bombs). */
  maxSourcePixels: number;
}

/** Makes the thumbnail of `source` (of type `contentType`) at `size`. */
export async function makeThumbnail(source: Buffer, contentType: string, size: ThumbnailSize, options: ThumbnailOptions): Promise<Thumbnail> {
  const type = baseContentType(contentType);
  if (!THUMBNAILABLE_TYPES.has(type)) throw new MediaError('M_UNKNOWN', `Cannot generate thumbnails for ${type}`, {}, 400);
  const animatable = options.animated && (type === 'image/gif' || type === 'image/webp');
  try {
    const image = sharp(source, { limitInputPixels: options.maxSourcePixels, animated: animatable, failOn: 'error' });
    // The header is read only when the animation matters: libvips decodes the rest once, shrinking JPEGs on load.
    const animatedSource = animatable && ((await image.metadata()).pages ?? 1) > 1;
    const pipeline = image.rotate().resize({
      width: size.width,
      height: size.height,
      fit: size.method === 'crop' ? 'cover' : 'inside',
      position: 'centre',
      withoutEnlargement: true,
    });
    if (animatedSource) {
      return type === 'image/gif'
        ? { bytes: await pipeline.gif().toBuffer(), contentType: 'image/gif' }
        : { bytes: await pipeline.webp({ quality: 80 }).toBuffer(), contentType: 'image/webp' };
    }
    if (type === 'image/jpeg') return { bytes: await pipeline.jpeg({ quality: 80, mozjpeg: false }).toBuffer(), contentType: 'image/jpeg' };
    if (type === 'image/webp') return { bytes: await pipeline.webp({ quality: 80 }).toBuffer(), contentType: 'image/webp' };
    return { bytes: await pipeline.png({ compressionLevel: 6 }).toBuffer(), contentType: 'image/png' };
  } catch (error) {
    if (error instanceof MediaError) throw error;
    throw new MediaError('M_UNKNOWN', `Cannot generate a thumbnail: the ${type} image cannot be decoded or is too large`, {}, 400);
  }
}

/**
 * The source scaled down once to cover every size in `sizes` (still in its own format), so
 * that all of them can be made from it without decoding the full image again; the source
 * itself when it is not larger. Animation is not kept.
 */
export async function reducedSource(source: Buffer, contentType: string, sizes: readonly ThumbnailSize[], maxSourcePixels: number): Promise<Buffer> {
  const type = baseContentType(contentType);
  const width = Math.max(...sizes.map((size) => size.width));
  const height = Math.max(...sizes.map((size) => size.height));
  const pipeline = sharp(source, { limitInputPixels: maxSourcePixels, failOn: 'error' })
    .rotate()
    .resize({ width, height, fit: 'outside', withoutEnlargement: true });
  if (type === 'image/jpeg') return pipeline.jpeg({ quality: 95 }).toBuffer();
  if (type === 'image/webp') return pipeline.webp({ lossless: true }).toBuffer();
  return pipeline.png({ compressionLevel: 1 }).toBuffer();
}
