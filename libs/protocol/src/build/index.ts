export * from './build-event';
