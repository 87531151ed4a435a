/**
 * The persisted state of transactions to application services (migrations/appservice): per
 * service, the store position acknowledged, the last transaction number, and the transaction
 * in flight with its body.
 */
import { createSqlTag, type DatabasePool } from 'slonik';
import { z } from 'zod';

const sql = createSqlTag();

const int8 = z.union([z.bigint(), z.number(), z.string()]).transform((value) => BigInt(value));

const ServiceRow = z.object({
  position: int8,
  last_txn: int8,
  inflight_to: int8.nullable(),
  inflight_txn: int8.nullable(),
  inflight_body: z.unknown().nullable(),
  failures: z.number(),
});

/** A transaction declared and not yet acknowledged. */
export interface InflightTransaction {
  txn: bigint;
  to: bigint;
  body: TransactionBody;
}

/** The body of PUT /_matrix/app/v1/transactions/{txnId}. */
export interface TransactionBody {
  events: unknown[];
  [key: string]: unknown;
}

export interface StoredService {
  position: bigint;
  lastTxn: bigint;
  inflight?: InflightTransaction;
  failures: number;
}

export class TransactionStore {
  constructor(private readonly pool: DatabasePool) {}

  /** The service's stored state; a service seen for the first time starts at `initial()`. */
  async load(id: string, initial: () => Promise<bigint>): Promise<StoredService> {
    let raw = await this.select(id);
    if (raw === null) {
      const position = await initial();
      await this.pool.query(sql.unsafe`INSERT INTO appservice.services (id, position) VALUES (${id}, ${position.toString()}) ON CONFLICT (id) DO NOTHING`);
      raw = await this.select(id);
    }
    const row = ServiceRow.parse(raw);
    return {
      position: row.position,
      lastTxn: row.last_txn,
      failures: row.failures,
      ...(row.inflight_to !== null && row.inflight_txn !== null ? { inflight: { txn: row.inflight_txn, to: row.inflight_to, body: row.inflight_body as TransactionBody } } : {}),
    };
  }

  private select(id: string): Promise<unknown> {
    return this.pool.maybeOne(sql.unsafe`
      SELECT position::text AS position, last_txn::text AS last_txn, inflight_to::text AS inflight_to, inflight_txn::text AS inflight_txn,
             inflight_body, failures
        FROM appservice.services WHERE id = ${id}`);
  }

  /** A transaction is about to be sent: its body covers what is due up to `to`. */
  async declare(id: string, transaction: InflightTransaction): Promise<void> {
    await this.pool.query(sql.unsafe`
      UPDATE appservice.services
         SET last_txn = ${transaction.txn.toString()}, inflight_to = ${transaction.to.toString()}, inflight_txn = ${transaction.txn.toString()},
             inflight_body = ${sql.jsonb(transaction.body as never)}
       WHERE id = ${id}`);
  }

  /** The service acknowledged the transaction in flight, which covered everything up to `to`. */
  async acknowledge(id: string, to: bigint): Promise<void> {
    await this.pool.query(sql.unsafe`
      UPDATE appservice.services
         SET position = GREATEST(position, ${to.toString()}::bigint), inflight_to = NULL, inflight_txn = NULL, inflight_body = NULL,
             failures = 0, last_error = NULL
       WHERE id = ${id}`);
  }

  async recordFailure(id: string, failures: number, reason: string): Promise<void> {
    await this.pool.query(sql.unsafe`UPDATE appservice.services SET failures = ${failures}, last_error = ${reason.slice(0, 1000)} WHERE id = ${id}`);
  }

  /** Nothing was due to the service up to `position` (kept only when no transaction is in flight). */
  async passOver(id: string, position: bigint): Promise<void> {
    await this.pool.query(sql.unsafe`
      UPDATE appservice.services SET position = GREATEST(position, ${position.toString()}::bigint) WHERE id = ${id} AND inflight_to IS NULL`);
  }
}
