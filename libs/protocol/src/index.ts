/** The pure Matrix rules. Public surface of libs/protocol. */
export * from './room-versions';
export * from './events/types';
export * from './json';
export * from './crypto';
export * from './events';
export * from './identifiers';
export * from './state-res';
export * from './checks';
export * from './auth';
export * from './build';
export * from './federation';
export * from './push';
