/** Jest configuration: TypeScript through SWC (decorator metadata on), one project for every suite. */
const fs = require('node:fs');
const swcrc = JSON.parse(fs.readFileSync(`${__dirname}/.swcrc`, 'utf8'));

/**
 * The scale-out suite runs several server processes on one PostgreSQL database: without
 * TEST_DATABASE_URL it is not selected (on CI it always is, and fails without one).
 */
const scaleOutSelected = Boolean(process.env.TEST_DATABASE_URL) || process.env.CI === 'true';

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
  testPathIgnorePatterns: ['/node_modules/', '<rootDir>/test/interop/', ...(scaleOutSelected ? [] : ['<rootDir>/test/scale-out/scale-out.spec.ts'])],
  moduleNameMapper: {
    '^@hs/projections/(.*)$': '<rootDir>/projections/$1/index.ts',
    '^@hs/([a-z0-9-]+)$': '<rootDir>/libs/$1/src/index.ts',
  },
  testTimeout: 60000,
  maxWorkers: 2,
};
