/**
 * The one exception filter of every HTTP application: whatever is thrown becomes a Matrix
 * error response. Bad input never gets a 500; an unexpected exception is a 500 M_UNKNOWN and
 * is logged with the request id.
 */
import { ArgumentsHost, Catch, ExceptionFilter, HttpException } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { MatrixError, MatrixErrorBody } from './matrix-error';
import { RouteTable } from './route-table';

/**
 * A refusal of a domain layer (accounts, room commands, sync queries) that carries its Matrix
 * error itself: `errcode` and `httpStatus`, and optionally `toJSON()` (the whole body, e.g.
 * the 401 body of user-interactive authentication) or `extra` (fields beside errcode/error).
 */
export interface DomainMatrixError {
  errcode?: unknown;
  httpStatus: number;
  message?: unknown;
  extra?: unknown;
  toJSON?: () => unknown;
}

/** True for an error object that names its Matrix error (see {@link DomainMatrixError}). */
export function isDomainMatrixError(value: unknown): value is DomainMatrixError {
  if (typeof value !== 'object' || value === null) return false;
  const candidate = value as Partial<DomainMatrixError>;
  const status = candidate.httpStatus;
  if (typeof status !== 'number' || !Number.isInteger(status) || status < 400 || status > 599) return false;
  return typeof candidate.errcode === 'string' || typeof candidate.toJSON === 'function';
}

/** A domain error answered with the body the domain layer built. */
class DomainErrorResponse extends MatrixError {
  constructor(
    status: number,
    errcode: string,
    message: string,
    private readonly body: Record<string, unknown>,
    headers: Record<string, string>,
  ) {
    super(status, errcode, message, {}, headers);
  }

  override toJSON(): MatrixErrorBody {
    return this.body as MatrixErrorBody;
  }
}

function fromDomainError(error: DomainMatrixError): MatrixError {
  const message = typeof error.message === 'string' && error.message.length > 0 ? error.message : 'Request refused';
  const errcode = typeof error.errcode === 'string' ? error.errcode : 'M_UNKNOWN';
  let body: Record<string, unknown> | undefined;
  if (typeof error.toJSON === 'function') {
    const json: unknown = error.toJSON();
    if (typeof json === 'object' && json !== null && !Array.isArray(json)) body = json as Record<string, unknown>;
  }
  if (body === undefined) {
    const extra = typeof error.extra === 'object' && error.extra !== null ? (error.extra as Record<string, unknown>) : {};
    body = { ...extra, errcode, error: message };
  }
  const headers: Record<string, string> = {};
  const retryAfterMs = body.retry_after_ms;
  if (error.httpStatus === 429 && typeof retryAfterMs === 'number') headers['Retry-After'] = String(Math.ceil(retryAfterMs / 1000));
  return new DomainErrorResponse(error.httpStatus, errcode, message, body, headers);
}

/** Maps a thrown value to the Matrix error the client gets; null means "unexpected" (500). */
export function toMatrixError(exception: unknown, request: { method: string; url: string }, routes?: RouteTable): MatrixError | null {
  if (exception instanceof MatrixError) return exception;
  if (isDomainMatrixError(exception)) return fromDomainError(exception);
  const status =
    exception instanceof HttpException
      ? exception.getStatus()
      : typeof exception === 'object' && exception !== null && typeof (exception as { statusCode?: unknown }).statusCode === 'number'
        ? (exception as { statusCode: number }).statusCode
        : undefined;
  if (status === undefined) return null;
  switch (status) {
    case 404: {
      const path = request.url.split('?')[0];
      const allowed = routes ? routes.allowedMethods(path) : [];
      return allowed.length > 0 && !allowed.includes(request.method.toUpperCase())
        ? MatrixError.methodNotAllowed(allowed)
        : MatrixError.unrecognized();
    }
    case 405:
      return MatrixError.methodNotAllowed([]);
    case 413:
      return MatrixError.tooLarge();
    case 415:
      return MatrixError.notJson();
    default:
      if (status >= 400 && status < 500) {
        const message = exception instanceof Error && exception.message ? exception.message : 'Bad request';
        return new MatrixError(status, 'M_UNKNOWN', message);
      }
      return null;
  }
}

@Catch()
export class MatrixExceptionFilter implements ExceptionFilter {
  constructor(private readonly routes?: RouteTable) {}

  catch(exception: unknown, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    const request = http.getRequest<FastifyRequest>();
    const reply = http.getResponse<FastifyReply>();
    let error = toMatrixError(exception, request, this.routes);
    if (!error) {
      request.log.error({ err: exception }, 'unexpected error while handling request');
      error = MatrixError.unknown();
    } else if (error.status >= 500) {
      request.log.error({ err: exception }, 'server error while handling request');
    }
    if (reply.sent || reply.raw.headersSent) return;
    for (const [name, value] of Object.entries(error.headers)) reply.header(name, value);
    reply.status(error.status).type('application/json').send(JSON.stringify(error.toJSON()));
  }
}
