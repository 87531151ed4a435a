/**
 * The HTTP foundation through real HTTP on an ephemeral port: discovery, health, metrics,
 * Matrix errors for unknown endpoints, wrong methods, bad and oversized bodies, CORS, request ids.
 */
import 'reflect-metadata';
import { Body, Controller, Get, Module, Param, Post } from '@nestjs/common';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import {
  CLIENT_SPEC_VERSIONS,
  DiscoveryModule,
  HealthModule,
  HomeserverMetrics,
  MatrixError,
  MetricsModule,
  UNSTABLE_FEATURES,
  createHttpApplication,
} from '@hs/http';
import { assertMatchesSpec } from '@hs/testing';
import pino from 'pino';

@Controller('_matrix/client/v3/test')
class ProbeController {
  /** POST /_matrix/client/v3/test/echo/:roomId */
  @Post('echo/:roomId')
  echo(@Param('roomId') roomId: string, @Body() body: unknown): unknown {
    return { roomId, body: body ?? null };
  }

  @Get('boom')
  boom(): never {
    throw new Error('database exploded with secret detail');
  }

  @Get('limited')
  limited(): never {
    throw MatrixError.limitExceeded(2500);
  }
}

@Module({ controllers: [ProbeController] })
class ProbeModule {}

const BODY_LIMIT = 2048;

describe('HTTP foundation over real HTTP', () => {
  let app: NestFastifyApplication;
  let base: string;
  let healthy = true;
  const logLines: string[] = [];
  const metrics = new HomeserverMetrics();
  metrics.setProjectionStatusSource(() => [{ name: 'room-summary', checkpoint: 40n, head: 42n, lag: 2n, failing: false }]);

  beforeAll(async () => {
    const logger = pino({ level: 'info' }, { write: (line: string) => void logLines.push(line) });
    @Module({
      imports: [
        DiscoveryModule.forRoot({ publicBaseUrl: 'https://matrix.example.org/', serverDelegation: 'example.org:8448' }),
        HealthModule.forRoot([
          {
            name: 'database',
            check: async () => {
              if (!healthy) throw new Error('connection refused');
            },
          },
        ]),
        MetricsModule.forRoot(metrics),
        ProbeModule,
      ],
    })
    class RootModule {}
    app = await createHttpApplication(RootModule, { bodyLimit: BODY_LIMIT, logger, metrics });
    await app.listen(0, '127.0.0.1');
    const address = app.getHttpServer().address();
    if (address === null || typeof address === 'string') throw new Error('no port');
    base = `http://127.0.0.1:${address.port}`;
  });

  afterAll(async () => {
    await app.close();
  });

  async function json(response: Response): Promise<Record<string, unknown>> {
    expect(response.headers.get('content-type')).toBe('application/json');
    return (await response.json()) as Record<string, unknown>;
  }

  it('GET /_matrix/client/versions lists the served versions and matches the spec schema', async () => {
    const response = await fetch(`${base}/_matrix/client/versions`);
    expect(response.status).toBe(200);
    const body = await json(response);
    expect(body).toEqual({ versions: [...CLIENT_SPEC_VERSIONS], unstable_features: { ...UNSTABLE_FEATURES } });
    assertMatchesSpec(body, { api: 'client-server', file: 'versions.yaml', path: '/versions', method: 'get', status: 200 });
    // Authenticated media is served, so v1.11 is listed; OAuth 2.0 is not offered (clients then log in with the login API).
    expect(body.versions).toContain('v1.11');
    const metadata = await fetch(`${base}/_matrix/client/v1/auth_metadata`);
    expect({ status: metadata.status, body: await metadata.json() }).toMatchObject({ status: 404, body: { errcode: 'M_UNRECOGNIZED' } });
  });

  it('serves both .well-known documents as the spec describes them', async () => {
    const client = await fetch(`${base}/.well-known/matrix/client`);
    expect(client.status).toBe(200);
    const clientBody = await json(client);
    expect(clientBody).toEqual({ 'm.homeserver': { base_url: 'https://matrix.example.org/' } });
    assertMatchesSpec(clientBody, { api: 'client-server', file: 'wellknown.yaml', path: '/matrix/client', method: 'get', status: 200 });

    const server = await fetch(`${base}/.well-known/matrix/server`);
    expect(server.status).toBe(200);
    const serverBody = await json(server);
    expect(serverBody).toEqual({ 'm.server': 'example.org:8448' });
    assertMatchesSpec(serverBody, { api: 'server-server', file: 'wellknown.yaml', path: '/matrix/server', method: 'get', status: 200 });
  });

  it('GET /health answers 200 while the check passes and 503 when it fails', async () => {
    healthy = true;
    const ok = await fetch(`${base}/health`);
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ status: 'ok', checks: { database: 'ok' } });
    healthy = false;
    const down = await fetch(`${base}/health`);
    expect(down.status).toBe(503);
    expect(await down.json()).toEqual({ status: 'unavailable', checks: { database: 'failed: connection refused' } });
    healthy = true;
  });

  it('answers unknown endpoints with 404 M_UNRECOGNIZED', async () => {
    for (const [method, path] of [
      ['GET', '/_matrix/client/v3/nothing/here'],
      ['PUT', '/somewhere'],
      ['GET', '/'],
    ]) {
      const response = await fetch(`${base}${path}`, { method });
      expect(response.status).toBe(404);
      expect(await json(response)).toEqual({ errcode: 'M_UNRECOGNIZED', error: 'Unrecognized request' });
    }
  });

  it('answers a known path with the wrong method with 405 M_UNRECOGNIZED and Allow', async () => {
    const response = await fetch(`${base}/_matrix/client/versions`, { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } });
    expect(response.status).toBe(405);
    expect(response.headers.get('allow')).toBe('GET, HEAD');
    expect(await json(response)).toEqual({ errcode: 'M_UNRECOGNIZED', error: 'Unrecognized request' });

    const param = await fetch(`${base}/_matrix/client/v3/test/echo/!room:example.org`, { method: 'DELETE' });
    expect(param.status).toBe(405);
    expect(param.headers.get('allow')).toBe('POST');
  });

  it('parses JSON bodies whatever the Content-Type says', async () => {
    const response = await fetch(`${base}/_matrix/client/v3/test/echo/abc`, { method: 'POST', body: '{"a":[1,2]}', headers: { 'content-type': 'text/plain' } });
    expect(response.status).toBe(201);
    expect(await json(response)).toEqual({ roomId: 'abc', body: { a: [1, 2] } });
  });

  it('answers bodies that are not JSON with 400 M_NOT_JSON', async () => {
    for (const headers of [{ 'content-type': 'application/json' }, { 'content-type': 'application/octet-stream' }, {} as Record<string, string>]) {
      const response = await fetch(`${base}/_matrix/client/v3/test/echo/abc`, { method: 'POST', body: '{"unterminated": ', headers });
      expect(response.status).toBe(400);
      expect(await json(response)).toEqual({ errcode: 'M_NOT_JSON', error: 'Content not JSON.' });
    }
  });

  it('answers bodies over the limit with 413 M_TOO_LARGE', async () => {
    const big = JSON.stringify({ filler: 'x'.repeat(BODY_LIMIT) });
    const response = await fetch(`${base}/_matrix/client/v3/test/echo/abc`, { method: 'POST', body: big, headers: { 'content-type': 'application/json' } });
    expect(response.status).toBe(413);
    expect(await json(response)).toEqual({ errcode: 'M_TOO_LARGE', error: 'Request body too large' });

    // The same without a Content-Length: the limit holds for a streamed (chunked) body too.
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode(big));
        controller.close();
      },
    });
    const chunked = await fetch(`${base}/_matrix/client/v3/test/echo/abc`, {
      method: 'POST',
      body: stream,
      headers: { 'content-type': 'application/json' },
      duplex: 'half',
    } as RequestInit);
    expect(chunked.status).toBe(413);
    expect(((await chunked.json()) as { errcode: string }).errcode).toBe('M_TOO_LARGE');
  });

  it('turns a MatrixError into its status, body fields and headers', async () => {
    const response = await fetch(`${base}/_matrix/client/v3/test/limited`);
    expect(response.status).toBe(429);
    expect(response.headers.get('retry-after')).toBe('3');
    expect(await json(response)).toEqual({ errcode: 'M_LIMIT_EXCEEDED', error: 'Too many requests', retry_after_ms: 2500 });
  });

  it('answers an unexpected exception with 500 M_UNKNOWN, hides its message and logs it with the request id', async () => {
    const response = await fetch(`${base}/_matrix/client/v3/test/boom`, { headers: { 'x-request-id': 'boom-1' } });
    expect(response.status).toBe(500);
    expect(await json(response)).toEqual({ errcode: 'M_UNKNOWN', error: 'Internal server error' });
    const logged = logLines.map((line) => JSON.parse(line) as Record<string, unknown>).find((entry) => entry.reqId === 'boom-1' && entry.level === 50);
    expect(logged).toBeDefined();
    expect(JSON.stringify(logged)).toContain('database exploded with secret detail');
  });

  it('answers CORS preflights and puts the CORS headers on every response', async () => {
    const preflight = await fetch(`${base}/_matrix/client/v3/test/echo/abc`, {
      method: 'OPTIONS',
      headers: { origin: 'https://app.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type' },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-origin')).toBe('*');
    expect(preflight.headers.get('access-control-allow-methods')).toBe('GET, POST, PUT, DELETE, OPTIONS');
    expect(preflight.headers.get('access-control-allow-headers')).toBe('X-Requested-With, Content-Type, Authorization');

    for (const path of ['/_matrix/client/versions', '/no/such/endpoint']) {
      const response = await fetch(`${base}${path}`);
      expect(response.headers.get('access-control-allow-origin')).toBe('*');
      expect(response.headers.get('access-control-allow-headers')).toBe('X-Requested-With, Content-Type, Authorization');
    }
  });

  it('echoes a sane X-Request-Id, generates one otherwise, and logs with it', async () => {
    const given = await fetch(`${base}/_matrix/client/versions`, { headers: { 'x-request-id': 'client-chosen.42' } });
    expect(given.headers.get('x-request-id')).toBe('client-chosen.42');
    const generated = await fetch(`${base}/_matrix/client/versions`);
    expect(generated.headers.get('x-request-id')).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    const hostile = await fetch(`${base}/_matrix/client/versions`, { headers: { 'x-request-id': 'x y\tz' } });
    expect(hostile.headers.get('x-request-id')).not.toBe('x y\tz');
    expect(hostile.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    const entries = logLines.map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(entries.some((entry) => entry.reqId === 'client-chosen.42' && entry.msg === 'request completed')).toBe(true);
  });

  it('answers a malformed percent-encoding with 400 in the Matrix format', async () => {
    const response = await fetch(`${base}/_matrix/client/v3/test/echo/%E0%A4%A`, { method: 'POST', body: '{}' });
    expect(response.status).toBe(400);
    expect((await json(response)).errcode).toBe('M_INVALID_PARAM');
  });

  it('sends every JSON answer as exactly application/json, and /metrics in the Prometheus format', async () => {
    const answers = [
      await fetch(`${base}/_matrix/client/versions`),
      await fetch(`${base}/health`),
      await fetch(`${base}/_matrix/client/v3/test/echo/abc`, { method: 'POST', body: '{}' }),
      await fetch(`${base}/_matrix/client/v3/test/echo/abc`, { method: 'POST', body: '{' }),
      await fetch(`${base}/_matrix/client/v3/test/limited`),
      await fetch(`${base}/_matrix/client/v3/test/boom`),
      await fetch(`${base}/_matrix/client/v3/test/echo/%E0%A4%A`, { method: 'POST', body: '{}' }),
      await fetch(`${base}/no/such/endpoint`),
    ];
    expect(answers.map((response) => response.status)).toEqual([200, 200, 201, 400, 429, 500, 400, 404]);
    for (const response of answers) expect(response.headers.get('content-type')).toBe('application/json');
    const metricsAnswer = await fetch(`${base}/metrics`);
    expect(metricsAnswer.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4; charset=utf-8$/);
  });

  it('exposes request, event-store and projection metrics by route pattern', async () => {
    await fetch(`${base}/_matrix/client/versions`);
    await fetch(`${base}/_matrix/client/v3/test/echo/!secret-room:example.org`, { method: 'POST', body: '{}' });
    await fetch(`${base}/unknown/path/123`);
    metrics.recordAppended('room-!abc:example.org', 3);
    metrics.recordAppended('room-!def:example.org', 2);
    metrics.recordAppended('receipts-!abc:example.org', 1);
    const response = await fetch(`${base}/metrics`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await response.text();
    expect(text).toMatch(/^http_requests_total\{method="GET",route="\/_matrix\/client\/versions",status="200"\} [1-9]\d*$/m);
    expect(text).toMatch(/^http_requests_total\{method="POST",route="\/_matrix\/client\/v3\/test\/echo\/:roomId",status="201"\} [1-9]\d*$/m);
    expect(text).toMatch(/^http_requests_total\{method="GET",route="\(unmatched\)",status="404"\} [1-9]\d*$/m);
    expect(text).toMatch(/^http_request_duration_seconds_bucket\{le="0\.005",method="GET",route="\/_matrix\/client\/versions",status="200"\} \d+$/m);
    expect(text).not.toContain('secret-room');
    expect(text).toMatch(/^eventstore_appended_events_total\{category="room"\} 5$/m);
    expect(text).toMatch(/^eventstore_appended_events_total\{category="receipts"\} 1$/m);
    expect(text).toMatch(/^projection_lag_events\{projection="room-summary"\} 2$/m);
    expect(text).toMatch(/^projection_checkpoint_position\{projection="room-summary"\} 40$/m);
    expect(text).toMatch(/^projection_failing\{projection="room-summary"\} 0$/m);
    expect(text).toMatch(/^process_cpu_user_seconds_total \d/m);
    expect(text).toMatch(/^nodejs_heap_size_used_bytes \d/m);
  });
});
