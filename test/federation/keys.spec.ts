/**
 * Federation keys and request authentication between real instances of the homeserver over
 * HTTPS on loopback: A (127.0.0.1:<port>), B (localhost:<port>) and C (127.0.0.1:<port>, B's
 * trusted notary), each with its own server name, signing key and TLS certificate, trusting
 * one another's certificates through `federation.tls_ca_file` (certificate checking on). A
 * fourth, hostile HTTPS server serves bad key responses.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer as createHttpsServer, type Server } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FederationOrigin } from '@hs/federation-api';
import { FederationClient, FederationRequestError, KeyFetchError } from '@hs/keys';
import { buildServerKeys, generateSigningKey, parseServerKeys, signJson, signRequest, verifyJsonSignature } from '@hs/protocol';
import { assertMatchesSpec, freePort } from '@hs/testing';
import { Body, Controller, Get, Module, Param, Put } from '@nestjs/common';
import pino from 'pino';
import { rawRequest, startFederationInstance, writeFederationTls } from '../support/federation-instances';
import type { InProcessServer } from '../support/in-process-server';

/** An endpoint that exists only in this test: it echoes who signed the request. */
@Controller('_matrix/federation/unstable/org.example.test/echo')
class EchoController {
  @Get()
  get(@FederationOrigin() origin: string): { origin: string } {
    return { origin };
  }

  @Put(':id')
  put(@FederationOrigin() origin: string, @Param('id') id: string, @Body() body: unknown): { origin: string; id: string; body: unknown } {
    return { origin, id, body };
  }
}

@Module({ controllers: [EchoController] })
class EchoModule {}

const ECHO = '/_matrix/federation/unstable/org.example.test/echo';
const DAY = 24 * 60 * 60 * 1000;

interface Instance {
  name: string;
  port: number;
  server: InProcessServer;
}

describe('federation keys and request authentication between instances over HTTPS', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hs-federation-keys-'));
  const caFile = join(dir, 'ca.pem');
  let ca = '';
  let a: Instance;
  let b: Instance;
  let c: Instance;
  const oldKey = generateSigningKey('retired');
  const oldKeyExpiry = Date.now() - DAY;

  /** The hostile server: what it answers is set by each test. */
  let evil: Server;
  let evilName = '';
  let evilAnswer: (path: string) => { status?: number; body: string | Buffer } = () => ({ body: '{}' });

  async function start(name: string, port: number, env: Record<string, string> = {}): Promise<Instance> {
    const server = await startFederationInstance({ dir, caFile, name, port, env, federationModules: [EchoModule] });
    return { name, port, server };
  }

  const keysOf = (instance: Instance) => instance.server.server.keys;

  beforeAll(async () => {
    const ports = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
    const names = [`127.0.0.1:${ports[0]}`, `localhost:${ports[1]}`, `127.0.0.1:${ports[2]}`, `127.0.0.1:${ports[3]}`];
    // Each its own self-signed certificate, trusted through the CA file.
    const tls = await writeFederationTls(dir, ports, (i) => `federation test server ${names[i]}`);
    const pems = tls.certificates;
    ca = tls.ca;

    evilName = names[3];
    evil = createHttpsServer({ cert: pems[3], key: readFileSync(join(dir, `${ports[3]}.key`)) }, (req, res) => {
      const answer = evilAnswer(req.url ?? '');
      res.writeHead(answer.status ?? 200, { 'Content-Type': 'application/json' });
      res.end(answer.body);
    });
    await new Promise<void>((resolve) => evil.listen(ports[3], '127.0.0.1', resolve));

    c = await start(names[2], ports[2]);
    const notaryKey = keysOf(c).ourKeys.signingKey;
    b = await start(names[1], ports[1], {
      HS_TRUSTED_KEY_SERVERS: JSON.stringify([{ server_name: c.name, verify_keys: { [notaryKey.keyId]: notaryKey.publicKeyBase64 } }]),
      HS_OLD_SIGNING_KEYS: JSON.stringify({ [oldKey.keyId]: { key: oldKey.publicKeyBase64, expired_ts: oldKeyExpiry } }),
    });
    a = await start(names[0], ports[0]);
  }, 180_000);

  afterAll(async () => {
    await Promise.allSettled([a, b, c].filter(Boolean).map((instance) => instance.server.close()));
    await new Promise((resolve) => evil?.close(resolve));
    rmSync(dir, { recursive: true, force: true });
  });

  describe('publishing keys', () => {
    it('GET /_matrix/key/v2/server: the current and old keys, self-signed, valid for a day', async () => {
      const before = Date.now();
      const { status, body } = await rawRequest(b.port, ca, { path: '/_matrix/key/v2/server' });
      expect(status).toBe(200);
      assertMatchesSpec(body, { api: 'server-server', file: 'keys_server.yaml', path: '/server', method: 'get', status: 200 });
      const key = keysOf(b).ourKeys.signingKey;
      expect(body).toMatchObject({
        server_name: b.name,
        verify_keys: { [key.keyId]: { key: key.publicKeyBase64 } },
        old_verify_keys: { [oldKey.keyId]: { key: oldKey.publicKeyBase64, expired_ts: oldKeyExpiry } },
      });
      expect(body.valid_until_ts).toBeGreaterThanOrEqual(before + DAY - 60_000);
      expect(body.valid_until_ts).toBeLessThanOrEqual(Date.now() + DAY);
      expect(verifyJsonSignature(body, b.name, key.keyId, key.publicKeyBase64)).toBe(true);
      expect(parseServerKeys(body, b.name).verifyKeys.get(key.keyId)).toBe(key.publicKeyBase64);
      const deprecated = await rawRequest(b.port, ca, { path: `/_matrix/key/v2/server/${encodeURIComponent(key.keyId)}` });
      expect(deprecated).toEqual({ status: 200, body });
    });

    it('GET /_matrix/federation/v1/version needs no signature', async () => {
      const { status, body } = await rawRequest(a.port, ca, { path: '/_matrix/federation/v1/version' });
      expect(status).toBe(200);
      assertMatchesSpec(body, { api: 'server-server', file: 'version.yaml', path: '/version', method: 'get', status: 200 });
      expect(body).toEqual({ server: { name: 'matrix-cqrs-homeserver', version: expect.any(String) } });
    });
  });

  describe('fetching keys', () => {
    it('A fetches B keys directly (B by a DNS name with a port: SNI and certificate for localhost) and keeps them', async () => {
      const bKey = keysOf(b).ourKeys.signingKey;
      const key = await keysOf(a).keyRing.verifyKey(b.name, bKey.keyId, { at: Date.now(), purpose: 'request' });
      expect(key).toMatchObject({ serverName: b.name, keyId: bKey.keyId, key: bKey.publicKeyBase64 });
      expect(key?.validUntilTs).toBeGreaterThan(Date.now() + DAY - 120_000);
      expect(await keysOf(a).store.responseOf(b.name)).toMatchObject({ fetchedFrom: b.name });
      const old = await keysOf(a).keyRing.verifyKey(b.name, oldKey.keyId, { at: oldKeyExpiry - 1, purpose: 'event' });
      expect(old).toMatchObject({ key: oldKey.publicKeyBase64, expiredTs: oldKeyExpiry });
      expect(await keysOf(a).keyRing.verifyKey(b.name, oldKey.keyId, { at: Date.now(), purpose: 'request' })).toBeNull();
    });

    it('A asks C (a notary) for B keys: C fetches them from B and answers them signed by both', async () => {
      const bKey = keysOf(b).ourKeys.signingKey;
      const cKey = keysOf(c).ourKeys.signingKey;
      const notary = { serverName: c.name, verifyKeys: { [cKey.keyId]: cKey.publicKeyBase64 } };
      const [keys] = await keysOf(a).fetcher.fetchFromNotary(notary, [b.name]);
      expect(keys.serverName).toBe(b.name);
      expect(keys.verifyKeys.get(bKey.keyId)).toBe(bKey.publicKeyBase64);
      expect(verifyJsonSignature(keys.json, c.name, cKey.keyId, cKey.publicKeyBase64)).toBe(true);

      const single = await rawRequest(c.port, ca, { path: `/_matrix/key/v2/query/${encodeURIComponent(b.name)}?minimum_valid_until_ts=${Date.now()}` });
      expect(single.status).toBe(200);
      assertMatchesSpec(single.body, { api: 'server-server', file: 'keys_query.yaml', path: '/query/{serverName}', method: 'get', status: 200 });
      const batch = await rawRequest(c.port, ca, {
        method: 'POST',
        path: '/_matrix/key/v2/query',
        body: { server_keys: { [b.name]: { [bKey.keyId]: { minimum_valid_until_ts: Date.now() } }, [c.name]: {} } },
      });
      expect(batch.status).toBe(200);
      assertMatchesSpec(batch.body, { api: 'server-server', file: 'keys_query.yaml', path: '/query', method: 'post', status: 200 });
      const entries = batch.body.server_keys as Record<string, unknown>[];
      expect(entries.map((entry) => entry.server_name).sort()).toEqual([b.name, c.name].sort());
      for (const entry of entries) expect(verifyJsonSignature(entry, c.name, cKey.keyId, cKey.publicKeyBase64)).toBe(true);
      // A notary signature by another key is refused.
      await expect(keysOf(a).fetcher.fetchFromNotary({ serverName: c.name, verifyKeys: { [cKey.keyId]: generateSigningKey('x').publicKeyBase64 } }, [b.name])).resolves.toEqual([]);
    });

    it('checks certificates: without the CA file the self-signed certificate is refused; with checking off it is taken', async () => {
      const logger = pino({ level: 'silent' });
      const strict = new FederationClient({ serverName: a.name, signingKey: keysOf(a).ourKeys.signingKey, verifyCertificates: true, caFile: null, timeoutMs: 5000, logger });
      const error = await strict.request(b.name, { method: 'GET', path: '/_matrix/key/v2/server', signed: false }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(FederationRequestError);
      expect((error as FederationRequestError).reason).toMatch(/SELF_SIGNED|self.signed|certificate/i);
      strict.close();
      const lines: string[] = [];
      const loose = new FederationClient({
        serverName: a.name,
        signingKey: keysOf(a).ourKeys.signingKey,
        verifyCertificates: false,
        caFile: null,
        timeoutMs: 5000,
        logger: pino({ level: 'warn' }, { write: (line: string) => lines.push(line) }),
      });
      expect(lines.join('')).toMatch(/NOT CHECKED/);
      await expect(loose.request(b.name, { method: 'GET', path: '/_matrix/key/v2/server', signed: false })).resolves.toMatchObject({ status: 200 });
      loose.close();
    });
  });

  describe('request authentication', () => {
    it('B accepts a request signed by A (B learns A keys through its notary C) and tells the handler the origin', async () => {
      const response = await keysOf(a).client.request(b.name, { method: 'PUT', path: `${ECHO}/t%201?x=y`, body: { hello: 'world', n: [1, 2] } });
      expect(response).toEqual({ status: 200, body: { origin: a.name, id: 't 1', body: { hello: 'world', n: [1, 2] } } });
      expect(await keysOf(b).store.responseOf(a.name)).toMatchObject({ fetchedFrom: c.name });
      expect((await keysOf(a).client.request(b.name, { method: 'GET', path: ECHO })).body).toEqual({ origin: a.name });
    });

    it.each<[string, (request: { method: string; uri: string; body: unknown }) => Record<string, string>]>([
      ['unsigned', () => ({})],
      ['of another scheme', () => ({ Authorization: 'Bearer abc' })],
      ['malformed', () => ({ Authorization: 'X-Matrix origin="unterminated' })],
      ['forged (signature by a key that is not A key)', (r) => ({ Authorization: signRequest({ ...r, content: r.body, origin: a.name, destination: b.name }, generateSigningKey(keysOf(a).ourKeys.signingKey.version)) })],
      ['for another destination', (r) => ({ Authorization: signRequest({ ...r, content: r.body, origin: a.name, destination: c.name }, keysOf(a).ourKeys.signingKey) })],
      ['signed over another body', (r) => ({ Authorization: signRequest({ ...r, content: { other: true }, origin: a.name, destination: b.name }, keysOf(a).ourKeys.signingKey) })],
      ['with a key id A does not have', (r) => ({ Authorization: signRequest({ ...r, content: r.body, origin: a.name, destination: b.name }, generateSigningKey('unknown')) })],
      ['from a server that cannot be reached', (r) => ({ Authorization: signRequest({ ...r, content: r.body, origin: '127.0.0.1:1', destination: b.name }, generateSigningKey('x')) })],
    ])('B answers 401 M_UNAUTHORIZED to a request %s', async (_name, authorize) => {
      const request = { method: 'PUT', uri: `${ECHO}/1`, body: { hello: 'world' } };
      const response = await rawRequest(b.port, ca, { method: request.method, path: request.uri, body: request.body, headers: authorize(request) });
      expect(response.status).toBe(401);
      expect(response.body).toEqual({ errcode: 'M_UNAUTHORIZED', error: expect.any(String) });
    });
  });

  describe('bad remote input', () => {
    const goodJson = (serverName: string, key = generateSigningKey('e')) => buildServerKeys({ serverName, signingKeys: [key], validUntilTs: Date.now() + DAY });

    it.each<[string, () => { status?: number; body: string | Buffer }, RegExp]>([
      ['malformed JSON', () => ({ body: '{"server_name": ' }), /not JSON/],
      ['a JSON array', () => ({ body: '[]' }), /not a JSON object/],
      ['another server name', () => ({ body: JSON.stringify(goodJson('someone.else')) }), /server_name/],
      ['a bad signature', () => ({ body: JSON.stringify({ ...goodJson(evilName), valid_until_ts: 1 }) }), /does not verify/],
      ['no signature', () => ({ body: JSON.stringify({ ...goodJson(evilName), signatures: {} }) }), /not signed/],
      ['a malformed key', () => ({ body: JSON.stringify(signJson({ server_name: evilName, verify_keys: { 'ed25519:e': { key: 'short' } }, valid_until_ts: 1 }, evilName, generateSigningKey('e'))) }), /32-byte/],
      ['a huge body', () => ({ body: Buffer.alloc(2 * 1024 * 1024, 0x20) }), /larger than/],
      ['an error status', () => ({ status: 500, body: '{"errcode":"M_UNKNOWN"}' }), /HTTP 500 M_UNKNOWN/],
    ])('a key response with %s is refused with its reason, and nothing fails on our side', async (_name, answer, reason) => {
      evilAnswer = answer;
      const error = await keysOf(a).fetcher.fetchDirect(evilName).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(KeyFetchError);
      expect((error as KeyFetchError).reason).toMatch(reason);
      // The same answer reached through the key ring, the notary endpoint and the guard: no key, no 500.
      expect(await keysOf(c).keyRing.verifyKey(evilName, 'ed25519:e', { at: Date.now(), purpose: 'request' })).toBeNull();
      const notary = await rawRequest(b.port, ca, { path: `/_matrix/key/v2/query/${encodeURIComponent(evilName)}` });
      expect(notary).toEqual({ status: 200, body: { server_keys: [] } });
      const request = { method: 'GET', uri: ECHO };
      const guarded = await rawRequest(c.port, ca, { path: ECHO, headers: { Authorization: signRequest({ ...request, origin: evilName, destination: c.name }, generateSigningKey('e')) } });
      expect(guarded.status).toBe(401);
    });

    it('the deprecated v1 answer form [200, {…}] is unwrapped when asked for, and anything else in its place refused', async () => {
      const v1 = (body: string) => {
        evilAnswer = () => ({ body });
        return keysOf(a).client.request(evilName, { method: 'PUT', path: '/_matrix/federation/v1/send_join/!r:x/$e', body: {}, v1Pair: true });
      };
      await expect(v1('[200, {"state": []}]')).resolves.toEqual({ status: 200, body: { state: [] } });
      for (const bad of ['{"state": []}', '[200]', '[200, []]', '[201, {}]', '[200, {}, {}]', '["200", {}]']) {
        await expect(v1(bad)).rejects.toThrow(/\[200, \{…\}\] pair/);
      }
      // Without the flag a pair is not a JSON object.
      evilAnswer = () => ({ body: '[200, {}]' });
      await expect(keysOf(a).client.request(evilName, { method: 'GET', path: '/_matrix/federation/v1/version' })).rejects.toThrow(/not a JSON object/);
    });

    it('a notary answer that the notary did not sign, or for a server not asked about, is refused', async () => {
      const bResponse = (await rawRequest(b.port, ca, { path: '/_matrix/key/v2/server' })).body;
      const evilKey = generateSigningKey('n');
      evilAnswer = () => ({ body: JSON.stringify({ server_keys: [bResponse, signJson(goodJson('x.org'), evilName, evilKey)] }) });
      const refused: string[] = [];
      const answers = await keysOf(a).fetcher.fetchFromNotary({ serverName: evilName, verifyKeys: { [evilKey.keyId]: evilKey.publicKeyBase64 } }, [b.name], (error) => refused.push(error.reason));
      expect(answers).toEqual([]);
      expect(refused).toEqual([expect.stringMatching(/not signed by the notary/), expect.stringMatching(/not asked for/)]);
      evilAnswer = () => ({ body: '{"server_keys": "nope"}' });
      await expect(keysOf(a).fetcher.fetchFromNotary({ serverName: evilName, verifyKeys: {} }, [b.name])).rejects.toThrow(/server_keys is not an array/);
    });

    it('bad notary queries get Matrix errors, not 500s', async () => {
      const post = (body: unknown) => rawRequest(c.port, ca, { method: 'POST', path: '/_matrix/key/v2/query', body });
      expect((await post({})).body).toMatchObject({ errcode: 'M_BAD_JSON' });
      expect((await post({ server_keys: { 'bad name!': {} } })).body).toMatchObject({ errcode: 'M_INVALID_PARAM' });
      expect((await post({ server_keys: { [b.name]: { 'ed25519:x': { minimum_valid_until_ts: 'soon' } } } })).body).toMatchObject({ errcode: 'M_BAD_JSON' });
      const many = Object.fromEntries(Array.from({ length: 101 }, (_, i) => [`s${i}.org`, {}]));
      expect(await post({ server_keys: many })).toMatchObject({ status: 400, body: { errcode: 'M_INVALID_PARAM' } });
      expect(await post({ server_keys: {} })).toEqual({ status: 200, body: { server_keys: [] } });
      const badMinimum = await rawRequest(c.port, ca, { path: `/_matrix/key/v2/query/${encodeURIComponent(b.name)}?minimum_valid_until_ts=-1` });
      expect(badMinimum).toMatchObject({ status: 400, body: { errcode: 'M_INVALID_PARAM' } });
    });
  });
});
