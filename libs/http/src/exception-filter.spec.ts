import { HttpException } from '@nestjs/common';
import { MatrixError } from './matrix-error';
import { isDomainMatrixError, toMatrixError } from './exception-filter';
import { RouteTable } from './route-table';

const request = { method: 'GET', url: '/_matrix/client/v3/x' };

/** Shaped like the accounts layer's errors: errcode, httpStatus, extra, toJSON. */
class AccountsLikeError extends Error {
  readonly httpStatus = 403;
  readonly errcode = 'M_USER_DEACTIVATED';
  readonly extra = { soft_logout: false };
  toJSON() {
    return { ...this.extra, errcode: this.errcode, error: this.message };
  }
}

/** Shaped like the room write side's errors: httpStatus as a getter, `reason`. */
class RoomLikeError extends Error {
  readonly errcode = 'M_NOT_FOUND';
  constructor(readonly reason: string) {
    super(reason);
  }
  get httpStatus(): number {
    return 404;
  }
}

/** Shaped like the UIA refusal: no errcode of its own, the whole body in toJSON. */
class UiaLikeError extends Error {
  readonly httpStatus = 401;
  toJSON() {
    return { flows: [{ stages: ['m.login.password'] }], params: {}, session: 's1' };
  }
}

describe('toMatrixError', () => {
  it('passes MatrixErrors through', () => {
    const error = MatrixError.forbidden('no');
    expect(toMatrixError(error, request)).toBe(error);
  });

  it('maps domain errors carrying errcode and httpStatus, with their body', () => {
    const accounts = toMatrixError(new AccountsLikeError('This account has been deactivated'), request);
    expect(accounts?.status).toBe(403);
    expect(accounts?.toJSON()).toEqual({ errcode: 'M_USER_DEACTIVATED', error: 'This account has been deactivated', soft_logout: false });

    const room = toMatrixError(new RoomLikeError('Unknown room'), request);
    expect(room?.status).toBe(404);
    expect(room?.toJSON()).toEqual({ errcode: 'M_NOT_FOUND', error: 'Unknown room' });

    const uia = toMatrixError(new UiaLikeError('auth'), request);
    expect(uia?.status).toBe(401);
    expect(uia?.toJSON()).toEqual({ flows: [{ stages: ['m.login.password'] }], params: {}, session: 's1' });
  });

  it('uses extra beside errcode and error when there is no toJSON, and sets Retry-After for 429', () => {
    const limited = { errcode: 'M_LIMIT_EXCEEDED', httpStatus: 429, message: 'slow down', extra: { retry_after_ms: 1500 } };
    const error = toMatrixError(limited, request);
    expect(error?.status).toBe(429);
    expect(error?.toJSON()).toEqual({ errcode: 'M_LIMIT_EXCEEDED', error: 'slow down', retry_after_ms: 1500 });
    expect(error?.headers).toEqual({ 'Retry-After': '2' });
    expect(toMatrixError({ errcode: 'M_FORBIDDEN', httpStatus: 403 }, request)?.toJSON()).toEqual({ errcode: 'M_FORBIDDEN', error: 'Request refused' });
  });

  it('does not take objects without a usable status for domain errors', () => {
    expect(isDomainMatrixError({ errcode: 'M_FORBIDDEN' })).toBe(false);
    expect(isDomainMatrixError({ errcode: 'M_FORBIDDEN', httpStatus: 200 })).toBe(false);
    expect(isDomainMatrixError({ errcode: 'M_FORBIDDEN', httpStatus: '403' })).toBe(false);
    expect(isDomainMatrixError({ httpStatus: 400 })).toBe(false);
    expect(isDomainMatrixError(null)).toBe(false);
    expect(toMatrixError(new Error('boom'), request)).toBeNull();
  });

  it('keeps the mapping of HTTP exceptions: 404/405 M_UNRECOGNIZED, 413, 415', () => {
    const routes = new RouteTable();
    routes.add('/_matrix/client/v3/x', 'POST');
    const wrongMethod = toMatrixError(new HttpException('not found', 404), request, routes);
    expect(wrongMethod?.status).toBe(405);
    expect(wrongMethod?.headers).toEqual({ Allow: 'POST' });
    expect(toMatrixError(new HttpException('not found', 404), { method: 'GET', url: '/elsewhere' }, routes)?.errcode).toBe('M_UNRECOGNIZED');
    expect(toMatrixError({ statusCode: 413 }, request)?.errcode).toBe('M_TOO_LARGE');
    expect(toMatrixError({ statusCode: 415 }, request)?.errcode).toBe('M_NOT_JSON');
  });
});
