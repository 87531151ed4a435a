import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';

/**
 * The repository (or installed package) root: the nearest folder above `start` that holds
 * a package.json. Works from the TypeScript sources (jest) and from compiled `dist/` files.
 */
export function findPackageRoot(start: string = __dirname): string {
  let dir = start;
  while (true) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`no package.json found above ${start}`);
    dir = parent;
  }
}

/** The default migrations folder: `<root>/migrations`. */
export function defaultMigrationsDir(): string {
  return join(findPackageRoot(), 'migrations');
}
