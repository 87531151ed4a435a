/** Application services: registration files, the namespaces they claim, requests to them and the transactions pushed to them. */
export * from './registration';
export * from './registry';
export * from './appservice-client';
export * from './interest';
export { TransactionStore, type TransactionBody, type InflightTransaction } from './transaction-store';
export * from './appservice-sender';
export * from './appservice-sender.module';
