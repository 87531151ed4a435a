import { execFile } from 'node:child_process';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';

const ROOT = resolve(__dirname, '../../..');

/** The files a fresh node process has loaded after requiring `entry` (through the TypeScript hook). */
async function modulesLoadedBy(entry: string): Promise<string[]> {
  const script = `require(${JSON.stringify(entry)}); process.stdout.write(JSON.stringify(Object.keys(require.cache)));`;
  const { stdout } = await promisify(execFile)(process.execPath, ['-r', join(ROOT, 'test/support/register-ts.cjs'), '-e', script], {
    cwd: ROOT,
    env: { ...process.env, NODE_OPTIONS: '' },
    maxBuffer: 16 * 1024 * 1024,
  });
  return JSON.parse(stdout) as string[];
}

function packagesOf(files: readonly string[]): Set<string> {
  const names = new Set<string>();
  for (const file of files) {
    const match = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(file);
    if (match) names.add(match[1]);
  }
  return names;
}

describe('modules the homeserver process loads at start-up', () => {
  let packages: Set<string>;

  beforeAll(async () => {
    packages = packagesOf(await modulesLoadedBy(join(ROOT, 'apps/homeserver/src/main.ts')));
  }, 120_000);

  it('loads the server itself', () => {
    for (const name of ['@nestjs/core', 'fastify', 'slonik', 'pg', 'pino']) expect(packages.has(name)).toBe(true);
  });

  it('leaves out the embedded database (loaded only when it is opened)', () => {
    expect(packages.has('@electric-sql/pglite')).toBe(false);
    expect(packages.has('@electric-sql/pglite-socket')).toBe(false);
  });

  it('leaves out the certificate generator and its ASN.1 and X.509 libraries (loaded only to generate files)', () => {
    expect(packages.has('selfsigned')).toBe(false);
    expect(packages.has('@peculiar/x509')).toBe(false);
  });

  it('leaves out the native function interface (loaded when the native heap is tuned)', () => {
    expect(packages.has('koffi')).toBe(false);
  });
});
