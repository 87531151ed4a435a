/** Parsing of the content repository's path and query parameters (M_INVALID_PARAM / M_MISSING_PARAM). */
import { MatrixError } from '@hs/http';
import type { ThumbnailMethod } from '@hs/media';
import { booleanQueryParam, queryParam, requireQueryParam } from '../validation';

/** Prefixes of the legacy `/_matrix/media/v3` endpoints (and their `r0` twins). */
const MEDIA_V3_PREFIXES = ['_matrix/media/v3', '_matrix/media/r0'] as const;

/** The full paths of a `/_matrix/media/v3/...` endpoint. */
export function mediaPaths(path: string): string[] {
  return MEDIA_V3_PREFIXES.map((prefix) => `${prefix}/${path}`);
}

/** A whole number query parameter within [min, max]; `fallback` when absent. */
export function integerQueryParam(query: unknown, name: string, min: number, max: number, fallback?: number): number {
  const value = fallback === undefined ? requireQueryParam(query, name) : queryParam(query, name);
  if (value === undefined) return fallback!;
  if (!/^[0-9]{1,15}$/.test(value) || Number(value) < min || Number(value) > max) {
    throw MatrixError.invalidParam(`${name} must be a whole number from ${min} to ${max}`);
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

export function thumbnailQuery(query: unknown): ThumbnailQuery {
  const width = integerQueryParam(query, 'width', 1, 10_000);
  const height = integerQueryParam(query, 'height', 1, 10_000);
  const method = queryParam(query, 'method') ?? 'scale';
  if (method !== 'crop' && method !== 'scale') throw MatrixError.invalidParam('method must be crop or scale');
  return { width, height, method, animated: booleanQueryParam(query, 'animated', false), timeoutMs: timeoutQuery(query) };
}

/** `timeout_ms` of downloads and thumbnails (the server caps it). */
export function timeoutQuery(query: unknown): number | undefined {
  const value = queryParam(query, 'timeout_ms');
  return value === undefined ? undefined : integerQueryParam(query, 'timeout_ms', 0, Number.MAX_SAFE_INTEGER);
}
