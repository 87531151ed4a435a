/** Query parameters of downloads and thumbnails, shared by the client and federation endpoints (M_INVALID_PARAM / M_MISSING_PARAM). */
import { MediaError } from './errors';
import type { ThumbnailMethod } from './thumbnails';

/** Reads one query parameter (the first, when repeated). */
export function mediaQueryParam(query: unknown, name: string): string | undefined {
  if (typeof query !== 'object' || query === null) return undefined;
  const value = (query as Record<string, unknown>)[name];
  const first = Array.isArray(value) ? value[0] : value;
  return typeof first === 'string' ? first : undefined;
}

/** A whole number query parameter within [min, max]; `fallback` when absent (required without one). */
export function integerQueryParam(query: unknown, name: string, min: number, max: number, fallback?: number): number {
  const value = mediaQueryParam(query, name);
  if (value === undefined) {
    if (fallback === undefined) throw new MediaError('M_MISSING_PARAM', `Missing query parameter ${name}`);
    return fallback;
  }
  if (!/^[0-9]{1,15}$/.test(value) || Number(value) < min || Number(value) > max) {
    throw MediaError.invalidParam(`${name} must be a whole number from ${min} to ${max}`);
  }
  return Number(value);
}

export interface ThumbnailQuery {
  width: number;
  height: number;
  method: ThumbnailMethod;
  animated: boolean;
  timeoutMs: number | undefined;
}

/** `timeout_ms` of downloads and thumbnails (the server caps it). */
export function timeoutQuery(query: unknown): number | undefined {
  return mediaQueryParam(query, 'timeout_ms') === undefined ? undefined : integerQueryParam(query, 'timeout_ms', 0, Number.MAX_SAFE_INTEGER);
}

/** `width`, `height`, `method` (default scale), `animated` (default false) and `timeout_ms`. */
export function thumbnailQuery(query: unknown): ThumbnailQuery {
  const width = integerQueryParam(query, 'width', 1, 10_000);
  const height = integerQueryParam(query, 'height', 1, 10_000);
  const method = mediaQueryParam(query, 'method') ?? 'scale';
  if (method !== 'crop' && method !== 'scale') throw MediaError.invalidParam('method must be crop or scale');
  const animated = mediaQueryParam(query, 'animated') ?? 'false';
  if (animated !== 'true' && animated !== 'false') throw MediaError.invalidParam('animated must be true or false');
  return { width, height, method, animated: animated === 'true', timeoutMs: timeoutQuery(query) };
}

/** `allow_remote` of the legacy download and thumbnail paths (default true). */
export function allowRemoteQuery(query: unknown): boolean {
  const value = mediaQueryParam(query, 'allow_remote') ?? 'true';
  if (value !== 'true' && value !== 'false') throw MediaError.invalidParam('allow_remote must be true or false');
  return value === 'true';
}
