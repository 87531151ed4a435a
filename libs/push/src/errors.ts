/**
 * Errors of push notifications: each carries the Matrix `errcode` and the HTTP status, so the
 * HTTP layer answers `{ errcode, error }` with that status.
 */
export type PushErrcode = 'M_INVALID_PARAM' | 'M_MISSING_PARAM' | 'M_BAD_JSON' | 'M_NOT_FOUND';

export class PushError extends Error {
  readonly httpStatus: number;

  constructor(
    readonly errcode: PushErrcode,
    message: string,
  ) {
    super(message);
    this.name = 'PushError';
    this.httpStatus = errcode === 'M_NOT_FOUND' ? 404 : 400;
  }
}
