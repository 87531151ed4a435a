/**
 * The homeserver's node options are the same wherever it is started: `npm start`, the Docker
 * image and the process the end-to-end tests and benchmarks start (HOMESERVER_NODE_ARGS).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { HOMESERVER_NODE_ARGS, ROOT } from './support/server';

describe('homeserver node options', () => {
  it('npm start passes them before the entry point', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    expect(pkg.scripts.start).toContain(`node ${HOMESERVER_NODE_ARGS.join(' ')} dist/apps/homeserver/src/main.js`);
  });

  it('the Docker image passes them before the entry point', () => {
    const cmd = readFileSync(join(ROOT, 'Dockerfile'), 'utf8')
      .split('\n')
      .find((line) => line.startsWith('CMD '));
    expect(cmd).toBeDefined();
    const words = JSON.parse(cmd!.slice('CMD '.length)) as string[];
    expect(words.slice(0, HOMESERVER_NODE_ARGS.length + 2)).toEqual(['node', ...HOMESERVER_NODE_ARGS, 'dist/apps/homeserver/src/main.js']);
  });
});
