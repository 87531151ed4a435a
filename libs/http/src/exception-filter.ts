/**
 * The one exception filter of every HTTP application: whatever is thrown becomes a Matrix
 * error response. Bad input never gets a 500; an unexpected exception is a 500 M_UNKNOWN and
 * is logged with the request id.
 */
import { ArgumentsHost, Catch, ExceptionFilter, HttpException } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { MatrixError } from './matrix-error';
import { RouteTable } from './route-table';

/** Maps a thrown value to the Matrix error the client gets; null means "unexpected" (500). */
export function toMatrixError(exception: unknown, request: { method: string; url: string }, routes?: RouteTable): MatrixError | null {
  if (exception instanceof MatrixError) return exception;
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
