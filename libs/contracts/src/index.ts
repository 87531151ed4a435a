export * from './streams';
export * from './room-events';
export * from './room-facts';
export * from './sync-token';
export * from './receipts';
export * from './media';
export * from './push';
