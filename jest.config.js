/** Jest configuration: TypeScript through SWC (decorator metadata on), one project for every suite. */
const fs = require('node:fs');
const swcrc = JSON.parse(fs.readFileSync(`${__dirname}/.swcrc`, 'utf8'));

/** @type {import('jest').Config} */
module.exports = {
  rootDir: __dirname,
  testEnvironment: 'node',
  transform: { '^.+\\.(t|j)s$': ['@swc/jest', { ...swcrc, swcrc: false }] },
  // A few dependencies ship ES modules only; compile them to CommonJS for the test runtime.
  transformIgnorePatterns: ['^(?!.*/node_modules/(p-limit|yocto-queue)/).*/node_modules/'],
  moduleFileExtensions: ['ts', 'js', 'json'],
  testMatch: ['<rootDir>/{apps,libs,projections,test}/**/*.spec.ts'],
  // The interoperability suite runs on its own (test/interop/jest.config.js).
  testPathIgnorePatterns: ['/node_modules/', '<rootDir>/test/interop/'],
  moduleNameMapper: {
    '^@hs/projections/(.*)$': '<rootDir>/projections/$1/index.ts',
    '^@hs/([a-z0-9-]+)$': '<rootDir>/libs/$1/src/index.ts',
  },
  testTimeout: 60000,
  maxWorkers: 2,
};
