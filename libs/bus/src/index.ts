export * from './bus';
export { InProcessBus } from './in-process-bus';
export { KafkaBus, type KafkaBusOptions, type BusLog } from './kafka-bus';
