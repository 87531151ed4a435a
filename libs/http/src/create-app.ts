/**
 * Builds a NestJS application on Fastify with the homeserver's HTTP foundation: Matrix error
 * filter, JSON bodies with a size limit, CORS, request ids in logs and responses, metrics,
 * Matrix errors for requests Node's HTTP parser refuses, connection limits, and logs without
 * secrets.
 */
import type { LoggerService, Type, DynamicModule } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';
import type { FastifyReply } from 'fastify';
import type { Logger } from 'pino';
import { ConnectionLimits, answerClientError, httpServerOptions, limitConnectionsPerAddress } from './connections';
import { MatrixExceptionFilter } from './exception-filter';
import { JSON_CONTENT_TYPE, installHttpFoundation, requestId } from './foundation';
import { redactingChildLogger } from './log-redaction';
import { MatrixError } from './matrix-error';
import type { HomeserverMetrics } from './metrics';

export interface HttpApplicationOptions {
  /** Largest request body, in bytes (413 M_TOO_LARGE above it). */
  bodyLimit: number;
  /** Largest body of the routes that take raw bytes (media uploads); `bodyLimit` when absent. */
  rawBodyLimit?: number;
  /** The process logger; each request logs through a child with its request id (secrets redacted, see ./log-redaction.ts). */
  logger: Logger;
  metrics?: HomeserverMetrics;
  /** Serve HTTPS with this certificate and key (PEM). */
  https?: { cert: string | Buffer; key: string | Buffer };
  /** Timeouts for slow clients and the per-address connection limit (plain HTTP listeners); Node's defaults without. */
  connections?: ConnectionLimits;
  /** Which routes this process answers (see `FoundationOptions.serves`); every route when absent. */
  serves?: (route: string) => boolean;
}

/**
 * Longest path parameter the router matches. Above any URL Node's HTTP parser lets through
 * (its header limit, 16 KiB by default), so that an overlong parameter reaches its endpoint
 * and is refused there as an invalid parameter.
 */
const MAX_PARAM_LENGTH = 64 * 1024;

function frameworkError(code: string | undefined): MatrixError {
  switch (code) {
    // A path Fastify cannot even decode (bad percent-encoding) is a bad parameter.
    case 'FST_ERR_BAD_URL':
      return MatrixError.invalidParam('Malformed percent-encoding in the request path');
    case 'FST_ERR_MAX_PARAM_LENGTH':
      return new MatrixError(414, 'M_TOO_LARGE', 'A path parameter of the request is too long');
    default:
      return MatrixError.unrecognized();
  }
}

/** Nest's own log lines (start-up, route mapping) written through pino. */
export class PinoNestLogger implements LoggerService {
  constructor(private readonly logger: Logger) {}

  private write(level: 'info' | 'error' | 'warn' | 'debug' | 'trace' | 'fatal', message: unknown, rest: unknown[]): void {
    const context = rest.length > 0 && typeof rest[rest.length - 1] === 'string' ? (rest[rest.length - 1] as string) : undefined;
    const detail = level === 'error' && rest.length > 1 && typeof rest[0] === 'string' ? { stack: rest[0] } : {};
    if (message instanceof Error) this.logger[level]({ context, err: message }, message.message);
    else this.logger[level]({ context, ...detail }, typeof message === 'string' ? message : JSON.stringify(message));
  }

  log(message: unknown, ...rest: unknown[]): void {
    this.write('info', message, rest);
  }
  error(message: unknown, ...rest: unknown[]): void {
    this.write('error', message, rest);
  }
  warn(message: unknown, ...rest: unknown[]): void {
    this.write('warn', message, rest);
  }
  debug(message: unknown, ...rest: unknown[]): void {
    this.write('debug', message, rest);
  }
  verbose(message: unknown, ...rest: unknown[]): void {
    this.write('trace', message, rest);
  }
  fatal(message: unknown, ...rest: unknown[]): void {
    this.write('fatal', message, rest);
  }
}

/** Creates (but does not start) an application for `rootModule`; call `listen(port, host)` on it. */
export async function createHttpApplication(
  rootModule: Type<unknown> | DynamicModule,
  options: HttpApplicationOptions,
): Promise<NestFastifyApplication> {
  const logger = redactingChildLogger(options.logger);
  const connections = options.connections;
  const adapter = new FastifyAdapter({
    loggerInstance: logger,
    genReqId: requestId,
    bodyLimit: options.bodyLimit,
    // Clients call some endpoints with a trailing slash (GET /pushrules/); Nest registers paths without one.
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH, ignoreTrailingSlash: true },
    return503OnClosing: true,
    frameworkErrors: (error: { code?: string }, _request: unknown, reply: FastifyReply) => {
      const matrixError = frameworkError(error.code);
      // Answered before routing, so without the onSend hooks: bytes keep the Content-Type
      // exactly as set (a string would get Fastify's `; charset=utf-8`).
      reply.status(matrixError.status).type(JSON_CONTENT_TYPE).send(Buffer.from(JSON.stringify(matrixError.toJSON())));
    },
    clientErrorHandler: answerClientError,
    ...(connections ? { http: httpServerOptions(connections), requestTimeout: connections.requestTimeoutMs } : {}),
    ...(options.https ? { https: { cert: options.https.cert, key: options.https.key } } : {}),
  });
  const routes = installHttpFoundation(adapter.getInstance(), { bodyLimit: options.bodyLimit, rawBodyLimit: options.rawBodyLimit, metrics: options.metrics, serves: options.serves });
  if (connections) limitConnectionsPerAddress(adapter.getInstance(), connections);
  const app = await NestFactory.create<NestFastifyApplication>(rootModule, adapter, {
    bodyParser: false,
    logger: new PinoNestLogger(logger.child({ component: 'nest' })),
    abortOnError: false,
  });
  app.useGlobalFilters(new MatrixExceptionFilter(routes));
  return app;
}
