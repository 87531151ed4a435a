/**
 * Path prefixes of the client-server API. Endpoints of the spec's `v3` are also served under
 * the legacy `r0` prefix, which widely used clients still call; endpoints the spec defines
 * under `v1` are served there.
 */

/** Prefixes of the spec's `/_matrix/client/v3` endpoints (and their legacy `r0` twins). */
export const CLIENT_V3_PREFIXES = ['_matrix/client/v3', '_matrix/client/r0'] as const;

/** Prefix of the spec's `/_matrix/client/v1` endpoints. */
export const CLIENT_V1_PREFIXES = ['_matrix/client/v1'] as const;

function join(prefix: string, path: string): string {
  const rest = path.replace(/^\/+/, '');
  return rest.length === 0 ? prefix : `${prefix}/${rest}`;
}

/**
 * The full paths of a v3 endpoint for a controller method, e.g.
 * `@Get(clientPaths('account/whoami'))` serves `/_matrix/client/v3/account/whoami` and
 * `/_matrix/client/r0/account/whoami`. Use it with `@Controller()` (no controller prefix).
 */
export function clientPaths(path: string): string[] {
  return CLIENT_V3_PREFIXES.map((prefix) => join(prefix, path));
}

/** The full path(s) of an endpoint the spec defines under `/_matrix/client/v1`. */
export function clientV1Paths(path: string): string[] {
  return CLIENT_V1_PREFIXES.map((prefix) => join(prefix, path));
}
