/**
 * The federation allow and deny lists between real instances over HTTPS on loopback. A
 * (127.0.0.1:<port>) allows the hosts 127.0.0.1 and localhost but denies B (localhost:<port>)
 * by its full name, and learns other servers' keys through C (127.0.0.1:<port>, its trusted
 * notary), so that B's requests are authenticated before they are refused.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FederationOrigin } from '@hs/federation-api';
import { FederationDestinationRefusedError, FederationRequestError } from '@hs/keys';
import { freePort } from '@hs/testing';
import { Controller, Get, Module } from '@nestjs/common';
import { startFederationInstance, writeFederationTls } from '../support/federation-instances';
import type { InProcessServer } from '../support/in-process-server';

/** An endpoint that exists only in this test: who signed the request. */
@Controller('_matrix/federation/unstable/org.example.test/whoami')
class WhoAmIController {
  @Get()
  get(@FederationOrigin() origin: string): { origin: string } {
    return { origin };
  }
}

@Module({ controllers: [WhoAmIController] })
class WhoAmIModule {}

const WHOAMI = '/_matrix/federation/unstable/org.example.test/whoami';

describe('federation allow and deny lists between instances', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hs-federation-lists-'));
  const servers: InProcessServer[] = [];
  let a: InProcessServer;
  let b: InProcessServer;
  let c: InProcessServer;

  beforeAll(async () => {
    const ports = await Promise.all([freePort(), freePort(), freePort()]);
    const [aName, bName, cName] = [`127.0.0.1:${ports[0]}`, `localhost:${ports[1]}`, `127.0.0.1:${ports[2]}`];
    const { caFile } = await writeFederationTls(dir, ports, (i) => `federation lists test server ${ports[i]}`);
    const start = async (name: string, port: number, env: Record<string, string> = {}) => {
      const server = await startFederationInstance({ dir, caFile, name, port, env, federationModules: [WhoAmIModule] });
      servers.push(server);
      return server;
    };
    c = await start(cName, ports[2]);
    b = await start(bName, ports[1]);
    const notaryKey = c.server.keys.ourKeys.signingKey;
    a = await start(aName, ports[0], {
      HS_FEDERATION__ALLOWED_SERVERS: JSON.stringify(['127.0.0.1', 'localhost']),
      HS_FEDERATION__DENIED_SERVERS: JSON.stringify([bName]),
      HS_TRUSTED_KEY_SERVERS: JSON.stringify([{ server_name: cName, verify_keys: { [notaryKey.keyId]: notaryKey.publicKeyBase64 } }]),
    });
  }, 180_000);

  afterAll(async () => {
    await Promise.allSettled(servers.map((server) => server.close()));
    rmSync(dir, { recursive: true, force: true });
  });

  it('A answers 403 M_FORBIDDEN to a request that B signed, once it has authenticated it', async () => {
    const error = await b.server.keys.client.request(a.serverName, { method: 'GET', path: WHOAMI }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(FederationRequestError);
    expect(error).toMatchObject({ status: 403, reason: 'HTTP 403 M_FORBIDDEN' });
    // A did authenticate B: it fetched B's keys (through its notary C).
    expect(await a.server.keys.store.responseOf(b.serverName)).toMatchObject({ fetchedFrom: c.serverName });
  });

  it('an unsigned request claiming to be from B is not authenticated: 401, not 403', async () => {
    const error = await b.server.keys.client.request(a.serverName, { method: 'GET', path: WHOAMI, signed: false }).catch((e: unknown) => e);
    expect(error).toMatchObject({ status: 401, reason: 'HTTP 401 M_UNAUTHORIZED' });
  });

  it('A accepts a request from C, which its allowed list covers by host', async () => {
    expect(await c.server.keys.client.request(a.serverName, { method: 'GET', path: WHOAMI })).toEqual({ status: 200, body: { origin: c.serverName } });
  });

  it('A sends nothing to B', async () => {
    const error = await a.server.keys.client.request(b.serverName, { method: 'GET', path: '/_matrix/federation/v1/version', signed: false }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(FederationDestinationRefusedError);
    expect(await a.server.keys.client.request(c.serverName, { method: 'GET', path: '/_matrix/federation/v1/version', signed: false })).toMatchObject({ status: 200 });
  });
});
