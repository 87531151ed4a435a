/**
 * Certificates and ports for suites that run federation listeners on loopback: a self-signed
 * certificate per server, and a free TCP port on 127.0.0.1.
 */
import { createServer as createNetServer, type AddressInfo } from 'node:net';

const DAY = 24 * 60 * 60 * 1000;

/**
 * A self-signed certificate for 127.0.0.1 and localhost under a subject of its own: a CA file
 * is searched by subject, so certificates that share one shadow each other.
 */
export async function certificateFor(subject: string): Promise<{ cert: string; key: string }> {
  const { generate } = await import('selfsigned');
  const pems = await generate([{ name: 'commonName', value: subject }], {
    keyType: 'ec',
    curve: 'P-256',
    algorithm: 'sha256',
    notAfterDate: new Date(Date.now() + DAY),
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true },
      { name: 'extKeyUsage', serverAuth: true },
      { name: 'subjectAltName', altNames: [{ type: 7, ip: '127.0.0.1' }, { type: 2, value: 'localhost' }] },
    ],
  });
  return { cert: pems.cert, key: pems.private };
}

/** A TCP port on 127.0.0.1 that was free a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createNetServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}
