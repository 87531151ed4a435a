export * from './queries';
export * from './handlers';
export * from './inbound';
export * from './outbound';
export * from './federation.module';
