/** Typed refusals of the room write side, each with the Matrix errcode and HTTP status it maps to. */

export type RoomErrcode =
  | 'M_FORBIDDEN'
  | 'M_NOT_FOUND'
  | 'M_BAD_JSON'
  | 'M_INVALID_PARAM'
  | 'M_ROOM_IN_USE'
  | 'M_UNSUPPORTED_ROOM_VERSION'
  | 'M_TOO_LARGE'
  | 'M_BAD_ALIAS'
  | 'M_INCOMPATIBLE_ROOM_VERSION'
  | 'M_UNABLE_TO_AUTHORISE_JOIN'
  | 'M_UNKNOWN';

const STATUS: Readonly<Record<RoomErrcode, number>> = {
  M_FORBIDDEN: 403,
  M_NOT_FOUND: 404,
  M_BAD_JSON: 400,
  M_INVALID_PARAM: 400,
  M_ROOM_IN_USE: 400,
  M_UNSUPPORTED_ROOM_VERSION: 400,
  M_TOO_LARGE: 413,
  M_BAD_ALIAS: 400,
  M_INCOMPATIBLE_ROOM_VERSION: 400,
  M_UNABLE_TO_AUTHORISE_JOIN: 400,
  M_UNKNOWN: 400,
};

/** A room command or query was refused; nothing was appended. */
export class RoomCommandError extends Error {
  constructor(
    readonly errcode: RoomErrcode,
    readonly reason: string,
    /** For M_FORBIDDEN from the authorization rules: the rule that denied the event. */
    readonly rule?: string,
    /** The HTTP status when it differs from the errcode's usual one (e.g. 409 for an alias in use). */
    private readonly status?: number,
    /** Further fields of the error body (e.g. `room_version` of M_INCOMPATIBLE_ROOM_VERSION). */
    readonly extra?: Readonly<Record<string, unknown>>,
  ) {
    super(reason);
    this.name = 'RoomCommandError';
  }

  /** The HTTP status of the Matrix error response. */
  get httpStatus(): number {
    return this.status ?? STATUS[this.errcode];
  }

  /** The Matrix error body `{errcode, error}`. */
  toJSON(): { errcode: RoomErrcode; error: string } {
    return { ...this.extra, errcode: this.errcode, error: this.reason };
  }
}

/** An error answer of another server passed on to our client as it came (its errcode, message and status). */
export class RemoteRefusalError extends Error {
  constructor(
    readonly errcode: string,
    readonly reason: string,
    readonly httpStatus: number,
  ) {
    super(reason);
    this.name = 'RemoteRefusalError';
  }

  toJSON(): { errcode: string; error: string } {
    return { errcode: this.errcode, error: this.reason };
  }
}

export const forbidden = (reason: string, rule?: string): RoomCommandError => new RoomCommandError('M_FORBIDDEN', reason, rule);
export const notFound = (reason: string): RoomCommandError => new RoomCommandError('M_NOT_FOUND', reason);
export const badJson = (reason: string): RoomCommandError => new RoomCommandError('M_BAD_JSON', reason);
export const invalidParam = (reason: string): RoomCommandError => new RoomCommandError('M_INVALID_PARAM', reason);
