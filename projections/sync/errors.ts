/** Typed errors of the read side; each carries the Matrix errcode and HTTP status clients get. */
export type SyncErrcode = 'M_FORBIDDEN' | 'M_NOT_FOUND' | 'M_INVALID_PARAM' | 'M_BAD_JSON';

const STATUS: Readonly<Record<SyncErrcode, number>> = {
  M_FORBIDDEN: 403,
  M_NOT_FOUND: 404,
  M_INVALID_PARAM: 400,
  M_BAD_JSON: 400,
};

export class SyncQueryError extends Error {
  readonly httpStatus: number;

  constructor(
    readonly errcode: SyncErrcode,
    message: string,
  ) {
    super(message);
    this.name = 'SyncQueryError';
    this.httpStatus = STATUS[errcode];
  }

  toJSON(): { errcode: string; error: string } {
    return { errcode: this.errcode, error: this.message };
  }
}
