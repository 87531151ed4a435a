/**
 * TLS for tests over HTTPS on loopback: self-signed certificates and free ports.
 */
import { createServer, type AddressInfo } from 'node:net';
import { randomInt } from 'node:crypto';

export interface TestCertificateOptions {
  /**
   * The subject's common name. A CA file is searched by subject, so certificates trusted
   * through one file need distinct subjects, or they shadow each other.
   */
  subject: string;
  /** DNS names the certificate is valid for (default `localhost`). */
  dnsNames?: readonly string[];
  /** IP addresses it is valid for (default `127.0.0.1`). */
  ips?: readonly string[];
  /** How long it is valid, in milliseconds (default a day). */
  validForMs?: number;
}

/** A self-signed EC certificate and its private key, both PEM. */
export async function testCertificate(options: TestCertificateOptions): Promise<{ cert: string; key: string }> {
  const { generate } = await import('selfsigned');
  const altNames = [
    ...(options.ips ?? ['127.0.0.1']).map((ip) => ({ type: 7 as const, ip })),
    ...(options.dnsNames ?? ['localhost']).map((value) => ({ type: 2 as const, value })),
  ];
  const pems = await generate([{ name: 'commonName', value: options.subject }], {
    keyType: 'ec',
    curve: 'P-256',
    algorithm: 'sha256',
    notAfterDate: new Date(Date.now() + (options.validForMs ?? 24 * 60 * 60 * 1000)),
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true },
      { name: 'extKeyUsage', serverAuth: true },
      { name: 'subjectAltName', altNames },
    ],
  });
  return { cert: pems.cert, key: pems.private };
}

/** A TCP port of 127.0.0.1 that was free a moment ago. */
export async function freePort(): Promise<number> {
  // Below the kernel's ephemeral range (32768-60999 here): a port it hands out on its own (to
  // an outgoing connection, or to listen(0) elsewhere) cannot take this one between the probe
  // and the caller's listen.
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = 20_000 + randomInt(12_000);
    if (await canListen(port)) return port;
  }
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once('error', () => resolve(false));
    probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(true)));
  });
}
