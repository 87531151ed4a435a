/**
 * Typed errors of the e2ee library: each carries the Matrix `errcode` and the HTTP status the
 * client-server API answers with, so the HTTP layer maps them 1:1 to `{ errcode, error }`.
 */
export type E2eeErrcode =
  | 'M_BAD_JSON'
  | 'M_INVALID_PARAM'
  | 'M_MISSING_PARAM'
  | 'M_INVALID_SIGNATURE'
  | 'M_NOT_FOUND'
  | 'M_FORBIDDEN'
  | 'M_TOO_LARGE'
  | 'M_LIMIT_EXCEEDED'
  | 'M_UNKNOWN';

const STATUS: Readonly<Record<E2eeErrcode, number>> = {
  M_BAD_JSON: 400,
  M_INVALID_PARAM: 400,
  M_MISSING_PARAM: 400,
  M_INVALID_SIGNATURE: 400,
  M_NOT_FOUND: 404,
  M_FORBIDDEN: 403,
  M_TOO_LARGE: 413,
  M_LIMIT_EXCEEDED: 429,
  M_UNKNOWN: 500,
};

export class E2eeError extends Error {
  readonly httpStatus: number;

  constructor(
    readonly errcode: E2eeErrcode,
    message: string,
    httpStatus?: number,
  ) {
    super(message);
    this.name = 'E2eeError';
    this.httpStatus = httpStatus ?? STATUS[errcode];
  }

  toJSON(): { errcode: string; error: string } {
    return { errcode: this.errcode, error: this.message };
  }
}
