export * from './types';
export * from './redaction';
export * from './hashes';
export * from './signing';
export * from './normalize';
export * from './stripped-state';
export * from './client-event';
