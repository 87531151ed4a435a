/**
 * Require hook for child processes spawned by the durability suite: compiles TypeScript
 * files with SWC (the same settings as jest) and resolves the `@hs/*` path aliases, so a
 * `.ts` script runs under plain `node -r ./test/durability/swc-register.js script.ts`.
 */
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const Module = require('node:module');
const { transformSync } = require('@swc/core');

const root = path.resolve(__dirname, '..', '..');
const swcrc = JSON.parse(fs.readFileSync(path.join(root, '.swcrc'), 'utf8'));

const originalResolve = Module._resolveFilename;
Module._resolveFilename = function resolveAlias(request, parent, isMain, options) {
  let mapped = request;
  const projection = /^@hs\/projections\/(.+)$/.exec(request);
  const lib = /^@hs\/([a-z-]+)$/.exec(request);
  if (projection) mapped = path.join(root, 'projections', projection[1], 'index.ts');
  else if (lib) mapped = path.join(root, 'libs', lib[1], 'src', 'index.ts');
  return originalResolve.call(this, mapped, parent, isMain, options);
};

require.extensions['.ts'] = function compileTs(module, filename) {
  const source = fs.readFileSync(filename, 'utf8');
  const { code } = transformSync(source, { ...swcrc, swcrc: false, filename, sourceMaps: 'inline' });
  module._compile(code, filename);
};
