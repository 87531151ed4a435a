export * from './pdu-checks';
