export * from './build-event';
export * from './initial-power-levels';
