/**
 * Require hook that runs the TypeScript sources directly in plain node
 * (`node -r ./test/support/register-ts.cjs apps/homeserver/src/main.ts`): compiles each .ts
 * file with SWC using the project's .swcrc (the same settings as jest) and maps the `@hs/*`
 * path aliases, so process-level tests, spawned children and benchmarks need no build step.
 */
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const Module = require('node:module');
const { transformSync } = require('@swc/core');

const root = path.resolve(__dirname, '..', '..');
const swcrc = JSON.parse(fs.readFileSync(path.join(root, '.swcrc'), 'utf8'));
delete swcrc.$schema;

require.extensions['.ts'] = function compileTs(module, filename) {
  const { code } = transformSync(fs.readFileSync(filename, 'utf8'), { ...swcrc, swcrc: false, filename, sourceMaps: 'inline' });
  module._compile(code, filename);
};

const originalResolve = Module._resolveFilename;
Module._resolveFilename = function resolveAlias(request, ...rest) {
  let mapped = request;
  const projection = /^@hs\/projections\/(.+)$/.exec(request);
  const lib = /^@hs\/([a-z0-9-]+)$/.exec(request);
  if (projection) mapped = path.join(root, 'projections', projection[1], 'index.ts');
  else if (lib) mapped = path.join(root, 'libs', lib[1], 'src', 'index.ts');
  return originalResolve.call(this, mapped, ...rest);
};
