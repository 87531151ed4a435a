/**
 * The well-known fetch and the resolution it feeds, against real HTTPS servers on loopback:
 * W serves /.well-known/matrix/server (what it answers is set by each test), H stands for a
 * homeserver and echoes the Host header and the SNI name it got. Both certificates are valid
 * for `localhost` only, and are trusted through a CA file. SRV records come from a fake DNS.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { generateSigningKey } from '@hs/protocol';
import { freePort, testCertificate } from '@hs/testing';
import pino from 'pino';
import { FederationClient, FederationDestinationRefusedError, FederationRequestError, type FederationClientOptions } from './federation-client';
import { FederationServerPolicy } from './server-policy';
import type { SrvRecord } from './server-resolution';
import { HttpsWellKnownFetcher, WELL_KNOWN_MAX_BYTES } from './well-known';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

function listen(cert: { cert: string; key: string }, port: number, handler: () => Handler): Promise<Server> {
  const server = createServer(cert, (req, res) => handler()(req, res));
  return new Promise((resolve) => server.listen(port, '127.0.0.1', () => resolve(server)));
}

const json = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
  res.writeHead(status, { 'Content-Type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
};

describe('.well-known/matrix/server over HTTPS', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hs-well-known-'));
  const caFile = join(dir, 'ca.pem');
  let ca = '';
  let wellKnownPort = 0;
  let homeserverPort = 0;
  let closedPort = 0;
  let wellKnownServer: Server;
  let homeserver: Server;
  const notFound: Handler = (_req, res) => json(res, 404, { errcode: 'M_UNRECOGNIZED' });
  let wellKnown = notFound;
  const fetches: string[] = [];
  let agent: Agent;

  beforeAll(async () => {
    [wellKnownPort, homeserverPort, closedPort] = await Promise.all([freePort(), freePort(), freePort()]);
    const w = await testCertificate({ subject: 'well-known test server', dnsNames: ['localhost'], ips: [] });
    const h = await testCertificate({ subject: 'homeserver test server', dnsNames: ['localhost'], ips: [] });
    ca = `${w.cert}\n${h.cert}`;
    writeFileSync(caFile, ca);
    agent = new Agent({ ca });
    wellKnownServer = await listen(w, wellKnownPort, () => (req, res) => {
      fetches.push(req.url ?? '');
      wellKnown(req, res);
    });
    homeserver = await listen(h, homeserverPort, () => (req, res) => {
      const answer = () => json(res, 200, { host: req.headers.host, sni: (req.socket as TLSSocket).servername });
      // A slow endpoint, for the request deadlines.
      if (req.url === '/_matrix/federation/v1/slow') setTimeout(answer, 600);
      else answer();
    });
  });

  afterAll(async () => {
    agent.destroy();
    await Promise.all([wellKnownServer, homeserver].map((server) => new Promise((resolve) => server?.close(resolve))));
    rmSync(dir, { recursive: true, force: true });
  });

  beforeEach(() => {
    fetches.length = 0;
    wellKnown = notFound;
  });

  describe('the fetcher', () => {
    const fetcher = (options: { timeoutMs?: number; agent?: Agent; port?: number } = {}) =>
      new HttpsWellKnownFetcher({ agent: options.agent ?? agent, timeoutMs: options.timeoutMs ?? 5000, port: options.port ?? wellKnownPort });

    it('gives the status, body and cache headers of the answer', async () => {
      wellKnown = (_req, res) => json(res, 200, { 'm.server': 'delegated.example.com:1234' }, { 'Cache-Control': 'max-age=600', Expires: 'Thu, 01 Jan 2099 00:00:00 GMT' });
      const result = await fetcher().fetchWellKnown('localhost');
      expect(result).toEqual({
        outcome: 'answered',
        status: 200,
        body: '{"m.server":"delegated.example.com:1234"}',
        cacheControl: 'max-age=600',
        expires: 'Thu, 01 Jan 2099 00:00:00 GMT',
        date: expect.any(String),
      });
      expect(fetches).toEqual(['/.well-known/matrix/server']);
      wellKnown = notFound;
      expect(await fetcher().fetchWellKnown('localhost')).toMatchObject({ outcome: 'answered', status: 404 });
    });

    it('follows redirects, relative and absolute, to https URLs', async () => {
      wellKnown = (req, res) => {
        if (req.url === '/.well-known/matrix/server') res.writeHead(302, { Location: '/moved' }).end();
        else if (req.url === '/moved') res.writeHead(301, { Location: `https://localhost:${wellKnownPort}/final?x=1` }).end();
        else json(res, 200, { 'm.server': 'final.example.org' });
      };
      expect(await fetcher().fetchWellKnown('localhost')).toMatchObject({ outcome: 'answered', status: 200, body: '{"m.server":"final.example.org"}' });
      expect(fetches).toEqual(['/.well-known/matrix/server', '/moved', '/final?x=1']);
    });

    it.each<[string, Handler, RegExp]>([
      ['a redirect loop', (req, res) => res.writeHead(307, { Location: req.url === '/a' ? '/.well-known/matrix/server' : '/a' }).end(), /loop/],
      ['too many redirects', (_req, res) => res.writeHead(302, { Location: `/r${fetches.length}` }).end(), /more than 5 redirects/],
      ['a redirect to http', (_req, res) => res.writeHead(302, { Location: 'http://localhost/.well-known/matrix/server' }).end(), /only https/],
      ['a large declared body', (_req, res) => json(res, 200, { 'm.server': 'x'.repeat(WELL_KNOWN_MAX_BYTES) }), /larger than/],
      [
        'a large streamed body',
        (_req, res) => {
          res.writeHead(200, { 'Content-Type': 'application/json' });
          res.write(`{"m.server": "${'x'.repeat(WELL_KNOWN_MAX_BYTES)}`);
          res.end('"}');
        },
        /larger than/,
      ],
    ])('refuses %s', async (_name, handler, reason) => {
      wellKnown = handler;
      const result = await fetcher().fetchWellKnown('localhost');
      expect(result).toEqual({ outcome: 'refused', reason: expect.stringMatching(reason) });
    });

    it('checks the certificate like any federation request: trusted, and valid for the hostname', async () => {
      wellKnown = (_req, res) => json(res, 200, { 'm.server': 'x.org' });
      const untrusted = new Agent();
      expect(await fetcher({ agent: untrusted }).fetchWellKnown('localhost')).toEqual({ outcome: 'unreachable', reason: expect.stringMatching(/self.signed|certificate/i) });
      untrusted.destroy();
      // The certificate names localhost, not 127.0.0.1.
      expect(await fetcher().fetchWellKnown('127.0.0.1')).toEqual({ outcome: 'unreachable', reason: expect.stringMatching(/ALTNAME|not in the cert/i) });
    });

    it('no server, or no answer within the deadline: unreachable', async () => {
      expect(await fetcher({ port: closedPort }).fetchWellKnown('localhost')).toEqual({ outcome: 'unreachable', reason: expect.stringMatching(/ECONNREFUSED/) });
      wellKnown = () => undefined;
      expect(await fetcher({ timeoutMs: 300 }).fetchWellKnown('localhost')).toEqual({ outcome: 'unreachable', reason: 'no answer within 300 ms' });
    });
  });

  describe('requests through the resolution', () => {
    const srvRecords = new Map<string, SrvRecord[]>();
    const dns = {
      resolveSrv: async (name: string): Promise<SrvRecord[]> => {
        const records = srvRecords.get(name);
        if (!records) throw Object.assign(new Error(`querySrv ENOTFOUND ${name}`), { code: 'ENOTFOUND' });
        return records;
      },
    };
    const clients: FederationClient[] = [];
    const client = (options: Partial<FederationClientOptions> = {}) => {
      const made = new FederationClient({
        serverName: 'us.example',
        signingKey: generateSigningKey('t'),
        verifyCertificates: true,
        caFile,
        timeoutMs: 5000,
        logger: pino({ level: 'silent' }),
        resolution: { srv: dns, wellKnownPort },
        ...options,
      });
      clients.push(made);
      return made;
    };
    const echo = (target: FederationClient, name = 'localhost') => target.request(name, { method: 'GET', path: '/_matrix/federation/v1/version' });

    afterEach(() => {
      srvRecords.clear();
      for (const made of clients.splice(0)) made.close();
    });

    it('a delegation to a hostname with a port: Host is the delegated name, SNI and certificate its host', async () => {
      wellKnown = (_req, res) => json(res, 200, { 'm.server': `localhost:${homeserverPort}` });
      const target = client();
      expect((await echo(target)).body).toEqual({ host: `localhost:${homeserverPort}`, sni: 'localhost' });
      // Cached: the next request does not fetch it again.
      await echo(target);
      expect(fetches).toEqual(['/.well-known/matrix/server']);
    });

    it('a delegation to an IP literal needs a certificate for the IP', async () => {
      wellKnown = (_req, res) => json(res, 200, { 'm.server': `127.0.0.1:${homeserverPort}` });
      const error = await echo(client()).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(FederationRequestError);
      expect((error as FederationRequestError).reason).toMatch(/ALTNAME|not in the cert/i);
    });

    it('without a delegation, SRV targets in order: an address that refuses the connection is skipped; Host and certificate stay the server name', async () => {
      srvRecords.set('_matrix-fed._tcp.localhost', [
        { name: '127.0.0.1', port: closedPort, priority: 1, weight: 0 },
        { name: '127.0.0.1', port: homeserverPort, priority: 2, weight: 0 },
      ]);
      expect((await echo(client())).body).toEqual({ host: 'localhost', sni: 'localhost' });
      expect(fetches).toEqual(['/.well-known/matrix/server']);
    });

    it('a delegation to a hostname without port goes through its SRV records', async () => {
      wellKnown = (_req, res) => json(res, 200, { 'm.server': 'localhost' });
      srvRecords.set('_matrix._tcp.localhost', [{ name: '127.0.0.1', port: homeserverPort, priority: 0, weight: 0 }]);
      expect((await echo(client(), 'localhost')).body).toEqual({ host: 'localhost', sni: 'localhost' });
    });

    it('a name that cannot be resolved, or not within the deadline, fails the request with the reason', async () => {
      srvRecords.set('_matrix-fed._tcp.localhost', [{ name: '.', port: 0, priority: 0, weight: 0 }]);
      await expect(echo(client())).rejects.toMatchObject({ name: 'FederationRequestError', reason: expect.stringMatching(/not available/) });
      await expect(echo(client(), 'not a name')).rejects.toMatchObject({ reason: 'not a valid server name' });
      const stuck = client({ timeoutMs: 200, resolver: { resolve: () => new Promise(() => undefined) } });
      await expect(echo(stuck)).rejects.toMatchObject({ reason: 'resolving the server name took longer than 200 ms' });
    });

    it('a request may set its own deadline instead of the client\'s', async () => {
      const target = client({ timeoutMs: 200 });
      const slow = { method: 'GET', path: '/_matrix/federation/v1/slow' } as const;
      await expect(target.request(`localhost:${homeserverPort}`, slow)).rejects.toMatchObject({ reason: 'no answer within 200 ms' });
      expect((await target.request(`localhost:${homeserverPort}`, { ...slow, timeoutMs: 5000 })).body).toEqual({ host: `localhost:${homeserverPort}`, sni: 'localhost' });
      const strict = client({ timeoutMs: 5000 });
      await expect(strict.request(`localhost:${homeserverPort}`, { ...slow, timeoutMs: 100 })).rejects.toMatchObject({ reason: 'no answer within 100 ms' });
    });

    it('an error status keeps the JSON object answer (errcode and further fields) on the error', async () => {
      wellKnown = (_req, res) => json(res, 400, { errcode: 'M_INCOMPATIBLE_ROOM_VERSION', error: 'upgrade', room_version: '12' });
      const error = await echo(client(), `localhost:${wellKnownPort}`).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(FederationRequestError);
      expect(error).toMatchObject({ status: 400, reason: 'HTTP 400 M_INCOMPATIBLE_ROOM_VERSION' });
      expect((error as FederationRequestError).answer).toEqual({ errcode: 'M_INCOMPATIBLE_ROOM_VERSION', error: 'upgrade', room_version: '12' });
      wellKnown = (_req, res) => json(res, 500, ['not', 'an', 'object']);
      expect(await echo(client(), `localhost:${wellKnownPort}`).catch((e: unknown) => e)).toMatchObject({ status: 500, answer: undefined });
    });

    it('the allow and deny lists refuse a destination before any lookup', async () => {
      const refusing = client({ policy: new FederationServerPolicy({ allowed: ['*.example.org'], denied: [] }) });
      const error = await echo(refusing).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(FederationDestinationRefusedError);
      expect(error).toBeInstanceOf(FederationRequestError);
      expect(fetches).toEqual([]);
      expect(refusing.allows('localhost')).toBe(false);
      const denying = client({ policy: new FederationServerPolicy({ allowed: [], denied: ['localhost'] }) });
      await expect(denying.request(`localhost:${homeserverPort}`, { method: 'GET', path: '/' })).rejects.toBeInstanceOf(FederationDestinationRefusedError);
    });
  });
});
