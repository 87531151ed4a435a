/** Outbound federation: per-destination queues fed from the event store, sent as transactions with backoff. */
export * from './backoff';
export * from './outbound';
export * from './destination-resolver';
export { DestinationStore, type StoredDestination } from './destination-store';
export * from './federation-sender';
