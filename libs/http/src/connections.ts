/**
 * What a listener does about clients that misbehave below HTTP requests: requests Node's HTTP
 * parser refuses (headers or URL too large, malformed HTTP, a request not received in time)
 * get a Matrix error written on the socket before it is closed; slow clients are cut off by
 * the header and request timeouts; and each remote address may hold only so many connections.
 */
import type { ServerOptions } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { MatrixError } from './matrix-error';

export interface ConnectionLimits {
  /** Time a client has to send the request line and headers, in milliseconds (0: no limit). */
  headersTimeoutMs: number;
  /**
   * Time a client has to send a whole request, headers and body, in milliseconds (0: no
   * limit). It does not bound the answer: a /sync long-poll waits as long as it asked to.
   */
  requestTimeoutMs: number;
  /** Connections one remote address may hold open at a time (0: no limit). */
  maxPerAddress: number;
  /**
   * Count loopback connections too. Off by default: behind a reverse proxy on the same host
   * every connection comes from a loopback address.
   */
  limitLoopback?: boolean;
}

/** How often the timeouts are checked: a slow client is cut off at most this long after its deadline. */
const TIMEOUT_CHECK_INTERVAL_MS = 1000;

/** How long a connection over the per-address limit may stay open to receive its 429 answer. */
const OVER_LIMIT_GRACE_MS = 1000;

/** Options of Node's HTTP server for these limits (the Fastify option `requestTimeout` must be set too). */
export function httpServerOptions(limits: ConnectionLimits): ServerOptions {
  return {
    headersTimeout: limits.headersTimeoutMs,
    requestTimeout: limits.requestTimeoutMs,
    connectionsCheckingInterval: TIMEOUT_CHECK_INTERVAL_MS,
  };
}

function clientErrorAnswer(code: string | undefined): MatrixError {
  switch (code) {
    case 'HPE_HEADER_OVERFLOW':
      return new MatrixError(431, 'M_TOO_LARGE', 'The request line (URL) or the headers are too large');
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return new MatrixError(408, 'M_UNKNOWN', 'The request was not received in time');
    default:
      return new MatrixError(400, 'M_UNKNOWN', 'Malformed HTTP request');
  }
}

const REASONS: Readonly<Record<number, string>> = { 400: 'Bad Request', 408: 'Request Timeout', 431: 'Request Header Fields Too Large' };

/**
 * The listener's answer to an error of Node's HTTP parser (the server's `clientError` event,
 * Fastify's `clientErrorHandler`): a complete HTTP/1.1 response with the Matrix error as its
 * JSON body, then the connection is closed.
 */
export function answerClientError(error: Error & { code?: string }, socket: Duplex): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const answered = (socket as Duplex & { _httpMessage?: { headersSent?: boolean } })._httpMessage?.headersSent === true;
  if (socket.writable && !answered) {
    const matrixError = clientErrorAnswer(error.code);
    const body = JSON.stringify(matrixError.toJSON());
    socket.write(
      `HTTP/1.1 ${matrixError.status} ${REASONS[matrixError.status] ?? 'Error'}\r\n` +
        'Content-Type: application/json\r\n' +
        `Content-Length: ${Buffer.byteLength(body)}\r\n` +
        'Connection: close\r\n\r\n' +
        body,
    );
  }
  socket.destroy();
}

/** True for 127.0.0.0/8 and ::1, also written as IPv4-mapped IPv6 addresses. */
export function isLoopbackAddress(address: string): boolean {
  const ipv4 = address.startsWith('::ffff:') ? address.slice(7) : address;
  return ipv4.startsWith('127.') || address === '::1';
}

/**
 * Limits the connections each remote address holds open. A connection over the limit gets
 * 429 M_LIMIT_EXCEEDED for its first request and is closed, at the latest after a second.
 */
export function limitConnectionsPerAddress(fastify: FastifyInstance, limits: ConnectionLimits): void {
  if (limits.maxPerAddress <= 0) return;
  const open = new Map<string, number>();
  const overLimit = new WeakSet<object>();
  fastify.server.on('connection', (socket: Socket) => {
    const address = socket.remoteAddress;
    if (address === undefined || (limits.limitLoopback !== true && isLoopbackAddress(address))) return;
    const count = open.get(address) ?? 0;
    if (count >= limits.maxPerAddress) {
      overLimit.add(socket);
      const timer = setTimeout(() => socket.destroy(), OVER_LIMIT_GRACE_MS);
      socket.once('close', () => clearTimeout(timer));
      return;
    }
    open.set(address, count + 1);
    socket.once('close', () => {
      const left = (open.get(address) ?? 1) - 1;
      if (left > 0) open.set(address, left);
      else open.delete(address);
    });
  });
  fastify.addHook('onRequest', (request, reply, done) => {
    if (!overLimit.has(request.raw.socket)) {
      done();
      return;
    }
    const error = new MatrixError(429, 'M_LIMIT_EXCEEDED', 'Too many connections from this address', { retry_after_ms: OVER_LIMIT_GRACE_MS });
    reply
      .status(error.status)
      .header('Retry-After', String(Math.ceil(OVER_LIMIT_GRACE_MS / 1000)))
      .header('Connection', 'close')
      .type('application/json')
      .send(JSON.stringify(error.toJSON()));
  });
}
