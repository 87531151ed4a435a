export * from './types';
export * from './errors';
export { AppendNotifier } from './notifier';
export { MemoryEventStore } from './memory-event-store';
export { PostgresEventStore, APPENDED_CHANNEL, type AppendCteNames, type AppendWrites } from './postgres-event-store';
export { EventStoreDbEventStore } from './eventstoredb-event-store';
export * from './projections';
export {
  ReadBarrier,
  DEFAULT_MAX_READ_WAIT_MS,
  processHorizon,
  storeHorizon,
  type AcknowledgingStore,
  type ReadBarrierOptions,
  type ReadHorizon,
  type ReadModelLag,
} from './read-barrier';
