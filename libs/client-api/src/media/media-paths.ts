/** Paths of the legacy `/_matrix/media/v3` endpoints. */

/** Prefixes of the legacy `/_matrix/media/v3` endpoints (and their `r0` twins). */
const MEDIA_V3_PREFIXES = ['_matrix/media/v3', '_matrix/media/r0'] as const;

/** The full paths of a `/_matrix/media/v3/...` endpoint. */
export function mediaPaths(path: string): string[] {
  return MEDIA_V3_PREFIXES.map((prefix) => `${prefix}/${path}`);
}
