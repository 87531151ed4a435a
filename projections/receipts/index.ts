export * from './receipts.projector';
export * from './receipts.queries';
