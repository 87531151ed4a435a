/**
 * Runs the TypeScript sources directly in a child process (`node -r ./test/http/support/register-ts.cjs
 * apps/homeserver/src/main.ts`): compiles each .ts file with SWC using the project's .swcrc and
 * maps the `@hs/*` path aliases, so process-level tests need no separate build.
 */
const fs = require('node:fs');
const path = require('node:path');
const Module = require('node:module');
const swc = require('@swc/core');

const root = path.resolve(__dirname, '../../..');
const swcrc = JSON.parse(fs.readFileSync(path.join(root, '.swcrc'), 'utf8'));
delete swcrc.$schema;

require.extensions['.ts'] = (module, filename) => {
  const { code } = swc.transformSync(fs.readFileSync(filename, 'utf8'), { ...swcrc, swcrc: false, filename, sourceMaps: 'inline' });
  module._compile(code, filename);
};

const resolveFilename = Module._resolveFilename;
Module._resolveFilename = function (request, ...rest) {
  let mapped = request;
  const projection = /^@hs\/projections\/(.+)$/.exec(request);
  const lib = /^@hs\/([a-z-]+)$/.exec(request);
  if (projection) mapped = path.join(root, 'projections', projection[1], 'index.ts');
  else if (lib) mapped = path.join(root, 'libs', lib[1], 'src', 'index.ts');
  return resolveFilename.call(this, mapped, ...rest);
};
