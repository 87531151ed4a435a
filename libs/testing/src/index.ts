/** Test helpers shared by the suites. */
export * from './http-client';
export * from './spec-schemas';
export * from './tls';
export * from './federation-receiver';
