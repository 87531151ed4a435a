/**
 * End-to-end encryption between two different clients against the homeserver in this process:
 * matrix-nio with libolm (nio/nio_e2ee.py, Debian's python3-matrix-nio and python3-olm) and
 * matrix-js-sdk with its Rust crypto (js-sdk/crypto-flows.mjs). The js-sdk user invites the nio
 * user to a megolm room; nio sends first, js-sdk answers; each decrypts the other. On the
 * embedded database, and on PostgreSQL as well when TEST_DATABASE_URL is set.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { runClientScript, type ClientReport } from '../../support/client-script';
import { DATABASES, serverForBlock, expectEncryptedOnTheWire, expectFinished, runJsSdkFlow, type Decrypted, type WireEvent } from './support';

const PYTHON = '/usr/bin/python3';
const NIO_E2EE = spawnSync(PYTHON, ['-c', 'import nio, olm'], { stdio: 'ignore' }).status === 0;
if (!NIO_E2EE) {
  console.warn(`matrix-nio with olm is not installed for ${PYTHON} (apt-get install -y python3-matrix-nio python3-olm): the nio e2ee suite is skipped`);
}

interface NioReport extends ClientReport {
  user: string;
  device: string;
  roomId: string;
  encrypted: boolean;
  trusted: string[];
  decrypted: { sender: string; body: string }[];
}

interface JsSdkPeerReport extends ClientReport {
  alice: string;
  roomId: string;
  decrypted: Decrypted;
  wire: WireEvent[];
}

(NIO_E2EE ? describe.each(DATABASES) : describe.skip.each(DATABASES))('matrix-nio and matrix-js-sdk end-to-end encryption on the %s', (_name, postgres) => {
  const hs = serverForBlock(postgres);

  it('a nio user and a js-sdk user each decrypt the other in a megolm room', async () => {
    const suffix = Math.random().toString(36).slice(2, 8);
    const nioUser = `@nio${suffix}:${hs().serverName}`;
    const fromNio = `nio's secret ${suffix}`;
    const fromJsSdk = `js-sdk's secret ${suffix}`;
    const [nio, jsSdk] = await Promise.all([
      runClientScript<NioReport>(PYTHON, [join(__dirname, 'nio/nio_e2ee.py'), JSON.stringify({ username: `nio${suffix}`, send: fromNio, expect: fromJsSdk })], [hs().url], 200_000),
      runJsSdkFlow<JsSdkPeerReport>(hs().url, 'nio-peer', { peer: nioUser, send: fromJsSdk, expect: fromNio }),
    ]);
    expectFinished(jsSdk, 'the js-sdk client');
    expectFinished(nio, 'the nio client');

    expect(nio.user).toBe(nioUser);
    expect(nio.roomId).toBe(jsSdk.roomId);
    expect(nio.encrypted).toBe(true);
    expect(nio.trusted.length).toBeGreaterThan(0);
    expect(nio.trusted.every((device) => device.startsWith(`${jsSdk.alice} `))).toBe(true);
    expect(jsSdk.decrypted).toEqual({ sender: nioUser, body: fromNio, failure: null });
    expect(nio.decrypted).toContainEqual({ sender: jsSdk.alice, body: fromJsSdk });
    expectEncryptedOnTheWire(jsSdk.wire, [fromNio, fromJsSdk]);
    expect(new Set(jsSdk.wire.map((event) => event.sender))).toEqual(new Set([nioUser, jsSdk.alice]));
  }, 240_000);
});
