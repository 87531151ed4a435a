/**
 * The Matrix error format (client-server API, "Standard error response"): every error a
 * client sees is `{ "errcode": "M_…", "error": "…" }` with the right HTTP status, plus
 * extra fields such as `retry_after_ms` for some codes.
 */

/** Error codes of the spec; other namespaced codes are allowed too. */
export type MatrixErrcode =
  | 'M_FORBIDDEN'
  | 'M_UNKNOWN_TOKEN'
  | 'M_MISSING_TOKEN'
  | 'M_USER_LOCKED'
  | 'M_USER_SUSPENDED'
  | 'M_BAD_JSON'
  | 'M_NOT_JSON'
  | 'M_NOT_FOUND'
  | 'M_LIMIT_EXCEEDED'
  | 'M_UNRECOGNIZED'
  | 'M_UNKNOWN'
  | 'M_UNAUTHORIZED'
  | 'M_USER_DEACTIVATED'
  | 'M_USER_IN_USE'
  | 'M_INVALID_USERNAME'
  | 'M_ROOM_IN_USE'
  | 'M_INVALID_ROOM_STATE'
  | 'M_THREEPID_IN_USE'
  | 'M_THREEPID_NOT_FOUND'
  | 'M_THREEPID_AUTH_FAILED'
  | 'M_THREEPID_DENIED'
  | 'M_SERVER_NOT_TRUSTED'
  | 'M_UNSUPPORTED_ROOM_VERSION'
  | 'M_INCOMPATIBLE_ROOM_VERSION'
  | 'M_BAD_STATE'
  | 'M_GUEST_ACCESS_FORBIDDEN'
  | 'M_CAPTCHA_NEEDED'
  | 'M_CAPTCHA_INVALID'
  | 'M_MISSING_PARAM'
  | 'M_INVALID_PARAM'
  | 'M_TOO_LARGE'
  | 'M_EXCLUSIVE'
  | 'M_RESOURCE_LIMIT_EXCEEDED'
  | 'M_CANNOT_LEAVE_SERVER_NOTICE_ROOM'
  | 'M_THREEPID_MEDIUM_NOT_SUPPORTED'
  | 'M_WEAK_PASSWORD'
  | 'M_NOT_YET_UPLOADED'
  | 'M_CANNOT_OVERWRITE_MEDIA'
  | (string & { readonly __namespaced?: never });

/** The JSON body of an error response. */
export interface MatrixErrorBody {
  errcode: string;
  error: string;
  [extra: string]: unknown;
}

/**
 * An error answered to the client in the Matrix error format. Throw it from any handler;
 * the exception filter turns it into the response.
 */
export class MatrixError extends Error {
  constructor(
    /** HTTP status of the response. */
    readonly status: number,
    readonly errcode: MatrixErrcode,
    message: string,
    /** Extra body fields, e.g. `{ retry_after_ms: 2000 }` or `{ soft_logout: true }`. */
    readonly extra: Readonly<Record<string, unknown>> = {},
    /** Extra response headers, e.g. `Retry-After` or `Allow`. */
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
    this.name = 'MatrixError';
  }

  /** The response body. */
  toJSON(): MatrixErrorBody {
    return { ...this.extra, errcode: this.errcode, error: this.message };
  }

  static unrecognized(message = 'Unrecognized request'): MatrixError {
    return new MatrixError(404, 'M_UNRECOGNIZED', message);
  }

  /** A known path with a method it does not serve. */
  static methodNotAllowed(allowed: readonly string[]): MatrixError {
    return new MatrixError(405, 'M_UNRECOGNIZED', 'Unrecognized request', {}, { Allow: allowed.join(', ') });
  }

  static notJson(message = 'Content not JSON.'): MatrixError {
    return new MatrixError(400, 'M_NOT_JSON', message);
  }

  static badJson(message: string): MatrixError {
    return new MatrixError(400, 'M_BAD_JSON', message);
  }

  static tooLarge(message = 'Request body too large'): MatrixError {
    return new MatrixError(413, 'M_TOO_LARGE', message);
  }

  static notFound(message: string): MatrixError {
    return new MatrixError(404, 'M_NOT_FOUND', message);
  }

  static forbidden(message: string): MatrixError {
    return new MatrixError(403, 'M_FORBIDDEN', message);
  }

  static missingToken(message = 'Missing access token'): MatrixError {
    return new MatrixError(401, 'M_MISSING_TOKEN', message);
  }

  static unknownToken(message = 'Unrecognised access token', softLogout = false): MatrixError {
    return new MatrixError(401, 'M_UNKNOWN_TOKEN', message, softLogout ? { soft_logout: true } : {});
  }

  static missingParam(message: string): MatrixError {
    return new MatrixError(400, 'M_MISSING_PARAM', message);
  }

  static invalidParam(message: string): MatrixError {
    return new MatrixError(400, 'M_INVALID_PARAM', message);
  }

  /** 429 with `retry_after_ms` in the body and `Retry-After` (whole seconds) as a header. */
  static limitExceeded(retryAfterMs: number): MatrixError {
    const ms = Math.max(0, Math.ceil(retryAfterMs));
    return new MatrixError(429, 'M_LIMIT_EXCEEDED', 'Too many requests', { retry_after_ms: ms }, { 'Retry-After': String(Math.ceil(ms / 1000)) });
  }

  static unknown(message = 'Internal server error', status = 500): MatrixError {
    return new MatrixError(status, 'M_UNKNOWN', message);
  }
}
