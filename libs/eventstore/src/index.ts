export * from './types';
export * from './errors';
export { AppendNotifier } from './notifier';
export { MemoryEventStore } from './memory-event-store';
export { PostgresEventStore, APPENDED_CHANNEL, type AppendCteNames, type AppendWrites } from './postgres-event-store';
export * from './projections';
