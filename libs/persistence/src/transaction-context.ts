/**
 * slonik keeps the current transaction in an AsyncLocalStorage. On Node 20 that storage turns
 * on promise hooks for the whole process from the first transaction on, and they stay on:
 * from then on every promise, and every request body Fastify parses (an AsyncResource each),
 * costs more. Under a stream of messages that was about 6% of the server's thread, although
 * messages are appended without a transaction. The storage's only reader is slonik's check
 * that a query made inside a transaction does not use another connection of the pool.
 *
 * The pools count the transactions in flight in the process and disable the storage when the
 * last one ends; the next transaction enables it again. A transaction started on a connection
 * rather than on a pool is not counted: if the storage is disabled meanwhile, only that check
 * is skipped for it.
 */
import type { DatabasePool } from 'slonik';
import { transactionContext } from 'slonik/dist/contexts/transactionContext';

let inFlight = 0;

/** Transactions of the process's pools in flight now. */
export function transactionsInFlight(): number {
  return inFlight;
}

/** Makes `pool.transaction` count itself in and out (see the module comment). */
export function trackTransactions(pool: DatabasePool): void {
  const transaction = pool.transaction;
  const tracked: DatabasePool['transaction'] = async (handler, retryLimit) => {
    inFlight++;
    try {
      return await transaction(handler, retryLimit);
    } finally {
      inFlight--;
      if (inFlight === 0) transactionContext.disable();
    }
  };
  Object.defineProperty(pool, 'transaction', { value: tracked, enumerable: true });
}
