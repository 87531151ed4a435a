/**
 * Cross-cutting HTTP behaviour installed on the Fastify instance of every application: the
 * JSON body parser (M_NOT_JSON, M_BAD_JSON and the body limit; see ./json-body.ts), CORS
 * headers and preflight answers, request ids, the route table for 405 answers, and request
 * metrics.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { parseJsonBody } from './json-body';
import type { HomeserverMetrics } from './metrics';
import { RouteTable } from './route-table';
import { MatrixError } from './matrix-error';

/** Response headers the client-server spec asks for ("Web Browser Clients"). */
export const CORS_HEADERS: Readonly<Record<string, string>> = {
  'Access-Control-Allow-Origin': '*',
  'Access-Control-Allow-Methods': 'GET, POST, PUT, DELETE, OPTIONS',
  'Access-Control-Allow-Headers': 'X-Requested-With, Content-Type, Authorization',
};

/** The Content-Type of every JSON response. */
export const JSON_CONTENT_TYPE = 'application/json';
const JSON_WITH_CHARSET = /^application\/json\s*;\s*charset="?utf-8"?$/i;

export const REQUEST_ID_HEADER = 'x-request-id';
const VALID_REQUEST_ID = /^[A-Za-z0-9._:@/+=-]{1,128}$/;

/** The request id: the client's X-Request-Id when it is a sane token, else a fresh UUID. */
export function requestId(request: IncomingMessage): string {
  const given = request.headers[REQUEST_ID_HEADER];
  return typeof given === 'string' && VALID_REQUEST_ID.test(given) ? given : randomUUID();
}

/** Route config flag for endpoints that take raw bytes (media upload) instead of JSON. */
export interface RawBodyRouteConfig {
  rawBody?: boolean;
}

function parseRequestBody(request: FastifyRequest, body: Buffer): unknown {
  const config = request.routeOptions.config as RawBodyRouteConfig | undefined;
  if (config?.rawBody === true) return body;
  if (body.length === 0) return undefined;
  return parseJsonBody(body);
}

export interface FoundationOptions {
  bodyLimit: number;
  /** Largest body of the routes flagged rawBody (media uploads); `bodyLimit` when absent. */
  rawBodyLimit?: number;
  metrics?: HomeserverMetrics;
  /**
   * Which routes (their patterns, e.g. `/_matrix/media/v3/download/:serverName/:mediaId`) this
   * process answers; the others get 404 M_UNRECOGNIZED as unknown paths do. Every route when absent.
   */
  serves?: (route: string) => boolean;
}

/**
 * Installs the hooks and the body parser; call it before the routes are registered (before
 * the Nest application's init) so the route table sees every route.
 */
export function installHttpFoundation(fastify: FastifyInstance, options: FoundationOptions): RouteTable {
  const routes = new RouteTable();
  const serves = options.serves;
  fastify.addHook('onRoute', (route) => {
    routes.add(route.url, route.method);
    const config = route.config as RawBodyRouteConfig | undefined;
    if (config?.rawBody === true && options.rawBodyLimit !== undefined) route.bodyLimit = options.rawBodyLimit;
  });

  // Every body is read as bytes and parsed as JSON whatever its Content-Type (clients often
  // omit it); routes flagged rawBody get the bytes.
  fastify.removeAllContentTypeParsers();
  fastify.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: options.bodyLimit }, (request, body, done) => {
    try {
      done(null, parseRequestBody(request, body as Buffer));
    } catch (error) {
      done(error as Error, undefined);
    }
  });

  fastify.addHook('onRequest', (request, reply, done) => {
    reply.header('X-Request-Id', request.id);
    for (const [name, value] of Object.entries(CORS_HEADERS)) reply.header(name, value);
    if (request.method === 'OPTIONS') {
      reply.code(204).send();
      return;
    }
    const route = request.routeOptions.url;
    if (serves && route !== undefined && !serves(route)) {
      const error = MatrixError.unrecognized('This endpoint is not served by this process of the server');
      reply.status(error.status).type(JSON_CONTENT_TYPE).send(Buffer.from(JSON.stringify(error.toJSON())));
      return;
    }
    done();
  });

  // JSON answers say exactly `application/json`, as Synapse's and Dendrite's do: Fastify
  // appends `; charset=utf-8` to JSON types, which some clients do not accept. JSON is UTF-8
  // (RFC 8259), so the parameter tells a client nothing. Other types (the Prometheus text of
  // /metrics) are left as they are.
  fastify.addHook('onSend', (_request, reply, payload, done) => {
    const type = reply.getHeader('content-type');
    if (typeof type === 'string' && JSON_WITH_CHARSET.test(type)) reply.header('content-type', JSON_CONTENT_TYPE);
    done(null, payload);
  });

  const metrics = options.metrics;
  if (metrics) {
    fastify.addHook('onResponse', (request, reply, done) => {
      const route = request.routeOptions.url ?? (request.method === 'OPTIONS' ? '(preflight)' : '(unmatched)');
      metrics.observeRequest(request.method, route, reply.statusCode, reply.elapsedTime / 1000);
      done();
    });
  }
  return routes;
}
