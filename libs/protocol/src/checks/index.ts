export * from './pdu-checks';
export * from './pdu-checks-batch';
