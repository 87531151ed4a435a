/** Test helpers shared by the suites. */
export * from './http-client';
export * from './spec-schemas';
export * from './federation-receiver';
export * from './ports';
