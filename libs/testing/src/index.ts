/** Test helpers shared by the suites. */
export * from './spec-schemas';
