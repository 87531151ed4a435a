/**
 * Typed errors of the accounts layer. Each carries the Matrix `errcode` and the HTTP status
 * the client-server API answers with, so the HTTP layer maps them 1:1 to `{ errcode, error }`.
 */
export type AccountsErrcode =
  | 'M_USER_IN_USE'
  | 'M_INVALID_USERNAME'
  | 'M_EXCLUSIVE'
  | 'M_FORBIDDEN'
  | 'M_USER_DEACTIVATED'
  | 'M_UNKNOWN_TOKEN'
  | 'M_UNAUTHORIZED'
  | 'M_NOT_FOUND'
  | 'M_WEAK_PASSWORD'
  | 'M_INVALID_PARAM'
  | 'M_MISSING_PARAM'
  | 'M_BAD_JSON'
  | 'M_NOT_JSON'
  | 'M_PROFILE_TOO_LARGE'
  | 'M_KEY_TOO_LARGE'
  | 'M_TOO_LARGE'
  | 'M_UNRECOGNIZED'
  | 'M_UNKNOWN';

/** The default HTTP status of each errcode; a thrower may override it (e.g. 405 for server-controlled account data). */
export const DEFAULT_HTTP_STATUS: Readonly<Record<AccountsErrcode, number>> = {
  M_USER_IN_USE: 400,
  M_INVALID_USERNAME: 400,
  M_EXCLUSIVE: 400,
  M_FORBIDDEN: 403,
  M_USER_DEACTIVATED: 403,
  M_UNKNOWN_TOKEN: 401,
  M_UNAUTHORIZED: 401,
  M_NOT_FOUND: 404,
  M_WEAK_PASSWORD: 400,
  M_INVALID_PARAM: 400,
  M_MISSING_PARAM: 400,
  M_BAD_JSON: 400,
  M_NOT_JSON: 400,
  M_PROFILE_TOO_LARGE: 400,
  M_KEY_TOO_LARGE: 400,
  M_TOO_LARGE: 413,
  M_UNRECOGNIZED: 400,
  M_UNKNOWN: 400,
};

/** The Matrix standard error response body. */
export interface MatrixErrorBody {
  errcode: string;
  error: string;
  [extra: string]: unknown;
}

export class AccountsError extends Error {
  readonly errcode: AccountsErrcode;
  readonly httpStatus: number;
  /** Extra fields of the error body (e.g. `soft_logout`). */
  readonly extra: Readonly<Record<string, unknown>>;

  constructor(errcode: AccountsErrcode, message: string, options: { httpStatus?: number; extra?: Record<string, unknown> } = {}) {
    super(message);
    this.name = 'AccountsError';
    this.errcode = errcode;
    this.httpStatus = options.httpStatus ?? DEFAULT_HTTP_STATUS[errcode];
    this.extra = options.extra ?? {};
  }

  /** The JSON body of the HTTP error response. */
  toJSON(): MatrixErrorBody {
    return { ...this.extra, errcode: this.errcode, error: this.message };
  }
}

export function isAccountsError(value: unknown): value is AccountsError {
  return value instanceof AccountsError;
}

/** A stage flow of user-interactive authentication: the stages to complete, in order. */
export interface UiaFlow {
  stages: string[];
}

/** The body of the 401 response of user-interactive authentication (definitions/auth_response.yaml). */
export interface UiaResponseBody {
  flows: UiaFlow[];
  params: Record<string, Record<string, unknown>>;
  session: string;
  completed?: string[];
  /** Present when the last submitted stage failed. */
  errcode?: string;
  error?: string;
}

/**
 * Thrown when a request needs (more) user-interactive authentication: the HTTP layer answers
 * 401 with `body` as it is.
 */
export class UserInteractiveAuthRequired extends Error {
  readonly httpStatus = 401;
  readonly body: UiaResponseBody;

  constructor(body: UiaResponseBody) {
    super(body.error ?? 'Additional authentication is required');
    this.name = 'UserInteractiveAuthRequired';
    this.body = body;
  }

  toJSON(): UiaResponseBody {
    return this.body;
  }
}
