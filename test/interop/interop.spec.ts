/**
 * Interoperability with real homeservers: Synapse and Dendrite, installed by
 * test/interop/install.sh, each on loopback beside this homeserver (in this process), every
 * server with its own self-signed certificate and trusting the others' (certificate checking
 * on everywhere). A peer that is not installed is skipped, with the reason printed.
 *
 * Keys both ways (direct and through the peer as a notary), X-Matrix requests both ways, and
 * the room flows (join, messages, invites, leaves in both directions).
 *
 * Run by hand: `bash test/interop/install.sh && npm run test:interop`.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FederationRequestError } from '@hs/keys';
import { verifyJsonSignature } from '@hs/protocol';
import { assertMatchesSpec, call, registerUser } from '@hs/testing';
import { freePort, testCertificate } from '@hs/testing';
import { startInProcess, type InProcessServer } from '../support/in-process-server';
import { MatrixUser } from './matrix-client';
import { e2eeFlowCases } from './e2ee-flows';
import { roomFlowCases, type FlowServer } from './room-flows';
import { furl, readInstallation, startPeer, type DendriteInstallation, type Peer, type PeerKind } from './peers';

const installation = readInstallation();
const kinds: PeerKind[] = ['synapse', 'dendrite'];
const installed = kinds.filter((kind) => installation[kind].installed);
for (const kind of kinds) {
  const peer = installation[kind];
  if (!peer.installed) process.stdout.write(`interop: ${kind} tests skipped: not installed: ${peer.reason}\n`);
}

interface RawResponse {
  status: number;
  body: Record<string, unknown>;
}

/** An unsigned request to a peer's federation listener, trusting only its certificate. */
function federationRequest(peer: Peer, ca: string, options: { method?: string; path: string; body?: unknown }): Promise<RawResponse> {
  const payload = options.body === undefined ? undefined : Buffer.from(JSON.stringify(options.body));
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      { host: '127.0.0.1', port: peer.federationPort, method: options.method ?? 'GET', path: options.path, ca, headers: payload ? { 'Content-Type': 'application/json' } : {} },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          try {
            resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as Record<string, unknown> });
          } catch {
            reject(new Error(`${peer.kind} answered ${res.statusCode} with no JSON: ${text.slice(0, 200)}`));
          }
        });
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

const enc = encodeURIComponent;
const unique = (prefix: string) => `${prefix}${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;

(installed.length > 0 ? describe : describe.skip)('interoperability with Synapse and Dendrite over HTTPS on loopback', () => {
  let dir = '';
  const peers = new Map<PeerKind, Peer>();
  /** The peers' certificates, which the tests trust when they call a peer themselves. */
  const certificates = new Map<PeerKind, string>();
  let ours: InProcessServer;
  let ourName = '';

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'hs-interop-'));
    const ourPort = await freePort();
    ourName = `127.0.0.1:${ourPort}`;
    const ourTls = await testCertificate({ subject: `interop: our server ${ourName}` });
    writeFileSync(join(dir, 'ours.crt'), ourTls.cert);
    writeFileSync(join(dir, 'ours.key'), ourTls.key);
    const peerTls = new Map<PeerKind, { cert: string; key: string }>();
    for (const kind of installed) {
      const tls = await testCertificate({ subject: `interop: ${kind} peer` });
      peerTls.set(kind, tls);
      certificates.set(kind, tls.cert);
    }
    writeFileSync(join(dir, 'peers-ca.pem'), [...peerTls.values()].map((tls) => tls.cert).join('\n'));

    // The peers start together.
    const started = await Promise.allSettled(
      installed.map(async (kind) => {
        // Each trusts our certificate and the other peer's (for the flows between them).
        const options = { tls: peerTls.get(kind)!, trust: [ourTls.cert, ...installed.filter((other) => other !== kind).map((other) => peerTls.get(other)!.cert)] };
        const peer = installation[kind];
        if (!peer.installed) throw new Error(`${kind} is not installed`);
        peers.set(kind, await startPeer(peer, options));
      }),
    );
    const failed = started.filter((result): result is PromiseRejectedResult => result.status === 'rejected');
    if (failed.length > 0) throw new Error(failed.map((result) => String(result.reason)).join('\n'));

    ours = await startInProcess({
      env: {
        HS_SERVER_NAME: ourName,
        HS_FEDERATION_LISTENER__ENABLED: 'true',
        HS_FEDERATION_LISTENER__BIND_ADDRESS: '127.0.0.1',
        HS_FEDERATION_LISTENER__PORT: String(ourPort),
        HS_FEDERATION_LISTENER__TLS_CERTIFICATE_PATH: join(dir, 'ours.crt'),
        HS_FEDERATION_LISTENER__TLS_PRIVATE_KEY_PATH: join(dir, 'ours.key'),
        HS_FEDERATION__TLS_CA_FILE: join(dir, 'peers-ca.pem'),
      },
    });
  }, 240_000);

  afterAll(async () => {
    await Promise.allSettled([ours?.close(), ...[...peers.values()].map((peer) => peer.stop())]);
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  const keys = () => ours.server.keys;
  const ourFlowServer = (): FlowServer => ({
    label: 'ours',
    serverName: ourName,
    newUser: async () => {
      const user = await registerUser(ours.url, 'ours');
      return new MatrixUser(ours.url, user.userId, user.token);
    },
  });
  const peerFlowServer = (peer: Peer): FlowServer => ({
    label: peer.kind,
    serverName: peer.serverName,
    newUser: async () => {
      const user = await peer.register(unique(peer.kind));
      return new MatrixUser(peer.clientUrl, user.userId, user.accessToken);
    },
  });

  describe.each(kinds.map((kind) => [kind, installation[kind]] as const))('%s', (kind, peerInstallation) => {
    const declare = peerInstallation.installed ? describe : describe.skip;
    const peer = () => {
      const running = peers.get(kind);
      if (!running) throw new Error(`${kind} did not start`);
      return running;
    };
    const peerCa = () => certificates.get(kind)!;

    declare(`${peerInstallation.installed ? peerInstallation.version : `not installed: ${peerInstallation.reason}`}: keys and signed requests`, () => {
      it('asked as a notary (POST /_matrix/key/v2/query), it fetches our keys from us over TLS and answers them signed by us and by itself', async () => {
        const ourKey = keys().ourKeys.signingKey;
        const { status, body } = await federationRequest(peer(), peerCa(), {
          method: 'POST',
          path: '/_matrix/key/v2/query',
          body: { server_keys: { [ourName]: { [ourKey.keyId]: { minimum_valid_until_ts: Date.now() } } } },
        });
        expect(status).toBe(200);
        assertMatchesSpec(body, { api: 'server-server', file: 'keys_query.yaml', path: '/query', method: 'post', status: 200 });
        const entries = body.server_keys as Record<string, unknown>[];
        const entry = entries.find((candidate) => candidate.server_name === ourName);
        expect(entry).toMatchObject({ server_name: ourName, verify_keys: { [ourKey.keyId]: { key: ourKey.publicKeyBase64 } } });
        expect(verifyJsonSignature(entry!, ourName, ourKey.keyId, ourKey.publicKeyBase64)).toBe(true);
        const { signingKey } = peer();
        expect(verifyJsonSignature(entry!, peer().serverName, signingKey.keyId, signingKey.publicKeyBase64)).toBe(true);

        // Our notary client takes the peer's answer as it is.
        const [viaPeer] = await keys().fetcher.fetchFromNotary({ serverName: peer().serverName, verifyKeys: { [signingKey.keyId]: signingKey.publicKeyBase64 } }, [ourName]);
        expect(viaPeer.serverName).toBe(ourName);
        expect(viaPeer.verifyKeys.get(ourKey.keyId)).toBe(ourKey.publicKeyBase64);
      });

      it("our key ring fetches the peer's keys (GET /_matrix/key/v2/server over TLS): the key of the peer's own key file", async () => {
        const { status, body } = await federationRequest(peer(), peerCa(), { path: '/_matrix/key/v2/server' });
        expect(status).toBe(200);
        assertMatchesSpec(body, { api: 'server-server', file: 'keys_server.yaml', path: '/server', method: 'get', status: 200 });
        const { signingKey, serverName } = peer();
        const key = await keys().keyRing.verifyKey(serverName, signingKey.keyId, { at: Date.now(), purpose: 'request' });
        expect(key).toMatchObject({ serverName, keyId: signingKey.keyId, key: signingKey.publicKeyBase64 });
        expect(await keys().store.responseOf(serverName)).toMatchObject({ fetchedFrom: serverName });
      });

      it('accepts our X-Matrix request (GET /_matrix/federation/v1/query/profile) and refuses it unsigned', async () => {
        const alice = await peer().register(unique('alice'));
        await new MatrixUser(peer().clientUrl, alice.userId, alice.accessToken).setDisplayName(`Alice on ${kind}`);
        const path = `/_matrix/federation/v1/query/profile?user_id=${enc(alice.userId)}`;
        const response = await keys().client.request(peer().serverName, { method: 'GET', path });
        expect(response).toMatchObject({ status: 200, body: { displayname: `Alice on ${kind}` } });
        const unsigned = await keys().client.request(peer().serverName, { method: 'GET', path, signed: false }).catch((error: unknown) => error);
        expect(unsigned).toBeInstanceOf(FederationRequestError);
        // Dendrite answers this 401 with {"message": …} and no errcode.
        expect(unsigned).toMatchObject({ status: 401, reason: kind === 'dendrite' ? 'HTTP 401' : 'HTTP 401 M_UNAUTHORIZED' });
      });

      /** A user of ours with a display name, whose profile the peer asks us for. */
      async function ourUserWithName(name: string): Promise<string> {
        const user = await registerUser(ours.url, unique('someone'));
        const set = await call(ours.url, 'PUT', `profile/${enc(user.userId)}/displayname`, { token: user.token, body: { displayname: name } });
        expect(set.status).toBe(200);
        return user.userId;
      }

      it("our guard accepts the peer's X-Matrix request: its client asks for a profile on our server and gets our answer", async () => {
        const bob = await peer().register(unique('bob'));
        const someone = await ourUserWithName(`Someone asked by ${kind}`);
        const reply = await call(peer().clientUrl, 'GET', `profile/${enc(someone)}`, { token: bob.accessToken });
        expect(reply).toMatchObject({ status: 200, body: { displayname: `Someone asked by ${kind}` } });
      });

      if (kind === 'dendrite') {
        it("Dendrite's federation library reads our /_matrix/federation/v1/version and makes signed requests we accept", async () => {
          const dendrite = installation.dendrite as DendriteInstallation;
          const version = await furl(dendrite, peer(), `https://${ourName}/_matrix/federation/v1/version`);
          expect(version).toEqual({ server: { name: 'matrix-cqrs-homeserver', version: expect.any(String) } });
          const someone = await ourUserWithName('Someone asked by furl');
          const profile = await furl(dendrite, peer(), `https://${ourName}/_matrix/federation/v1/query/profile?user_id=${enc(someone)}`);
          expect(profile).toEqual({ displayname: 'Someone asked by furl' });
        });
      }
    });

    const flows = peerInstallation.installed ? describe : describe.skip;
    flows(`room flows with ${kind}`, () => {
      roomFlowCases({ a: 'ours', b: kind }, () => ({ a: ourFlowServer(), b: peerFlowServer(peer()) }));
    });
    flows(`end-to-end encryption keys with ${kind}`, () => {
      e2eeFlowCases({ a: 'ours', b: kind }, () => ({ a: ourFlowServer(), b: peerFlowServer(peer()) }));
    });
  });

  // The same cases between Synapse and Dendrite, which keeps the cases themselves right.
  (installed.length === 2 ? describe : describe.skip)('room flows between Synapse and Dendrite (the cases themselves checked)', () => {
    roomFlowCases({ a: 'synapse', b: 'dendrite' }, () => ({ a: peerFlowServer(peers.get('synapse')!), b: peerFlowServer(peers.get('dendrite')!) }));
    e2eeFlowCases({ a: 'synapse', b: 'dendrite' }, () => ({ a: peerFlowServer(peers.get('synapse')!), b: peerFlowServer(peers.get('dendrite')!) }));
  });
});
