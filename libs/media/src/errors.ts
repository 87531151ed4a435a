/**
 * Errors of the content repository: each carries the Matrix `errcode` and the HTTP status, so
 * the HTTP layer answers `{ errcode, error }` with that status.
 */
export type MediaErrcode =
  | 'M_INVALID_PARAM'
  | 'M_MISSING_PARAM'
  | 'M_NOT_FOUND'
  | 'M_FORBIDDEN'
  | 'M_TOO_LARGE'
  | 'M_LIMIT_EXCEEDED'
  | 'M_CANNOT_OVERWRITE_MEDIA'
  | 'M_NOT_YET_UPLOADED'
  | 'M_UNRECOGNIZED'
  | 'M_UNKNOWN';

const STATUS: Readonly<Record<MediaErrcode, number>> = {
  M_INVALID_PARAM: 400,
  M_MISSING_PARAM: 400,
  M_NOT_FOUND: 404,
  M_FORBIDDEN: 403,
  M_TOO_LARGE: 413,
  M_LIMIT_EXCEEDED: 429,
  M_CANNOT_OVERWRITE_MEDIA: 409,
  M_NOT_YET_UPLOADED: 504,
  M_UNRECOGNIZED: 404,
  M_UNKNOWN: 400,
};

export class MediaError extends Error {
  readonly httpStatus: number;

  constructor(
    readonly errcode: MediaErrcode,
    message: string,
    readonly extra: Readonly<Record<string, unknown>> = {},
    status?: number,
  ) {
    super(message);
    this.name = 'MediaError';
    this.httpStatus = status ?? STATUS[errcode];
  }

  static notFound(message = 'Media not found'): MediaError {
    return new MediaError('M_NOT_FOUND', message);
  }

  static invalidParam(message: string): MediaError {
    return new MediaError('M_INVALID_PARAM', message);
  }
}
