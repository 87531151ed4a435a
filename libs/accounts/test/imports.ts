/** What the accounts suites import from the library and its SQL tag. */
export * from '../src';
export { sql } from '../src/db';
