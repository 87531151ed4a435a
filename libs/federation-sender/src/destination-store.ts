/**
 * The persisted state of outbound federation (tables of migrations/federation-sender): per
 * destination, the store position acknowledged, the transaction in flight and the retry state;
 * and the position the shared reader has handed out.
 */
import { createSqlTag, type DatabasePool } from 'slonik';
import { z } from 'zod';

const sql = createSqlTag();

const int8 = z.union([z.bigint(), z.number(), z.string()]).transform((value) => BigInt(value));

const DestinationRow = z.object({
  destination: z.string(),
  position: int8,
  inflight_to: int8.nullable(),
  inflight_txn_id: z.string().nullable(),
  failures: z.number(),
  retry_at: int8.nullable(),
});

export interface StoredDestination {
  destination: string;
  /** Everything due up to this store position was acknowledged (or did not concern it). */
  position: bigint;
  /** The transaction sent and not acknowledged: what is due in (position, to], under `txnId`. */
  inflight?: { to: bigint; txnId: string };
  failures: number;
  /** When the next attempt may start (ms since the epoch), 0 for at once. */
  retryAt: number;
}

export class DestinationStore {
  constructor(private readonly pool: DatabasePool) {}

  async destinations(): Promise<StoredDestination[]> {
    const rows = await this.pool.any(sql.type(DestinationRow)`
      SELECT destination, position::text AS position, inflight_to::text AS inflight_to, inflight_txn_id, failures,
             retry_at::text AS retry_at
        FROM federation_sender.destinations ORDER BY destination`);
    return rows.map((raw) => {
      const row = DestinationRow.parse(raw);
      return {
        destination: row.destination,
        position: row.position,
        ...(row.inflight_to !== null && row.inflight_txn_id !== null ? { inflight: { to: row.inflight_to, txnId: row.inflight_txn_id } } : {}),
        failures: row.failures,
        retryAt: row.retry_at === null ? 0 : Number(row.retry_at),
      };
    });
  }

  /** The reader's stored position; `initial` is stored and returned when there is none yet. */
  async readerPosition(initial: () => Promise<bigint>): Promise<bigint> {
    const stored = await this.pool.maybeOneFirst(sql.type(z.object({ position: z.string() }))`
      SELECT position::text AS position FROM federation_sender.reader WHERE id = 1`);
    if (stored !== null) return BigInt(stored);
    const position = await initial();
    await this.pool.query(sql.unsafe`INSERT INTO federation_sender.reader (id, position) VALUES (1, ${position.toString()}) ON CONFLICT (id) DO NOTHING`);
    const now = await this.pool.oneFirst(sql.type(z.object({ position: z.string() }))`
      SELECT position::text AS position FROM federation_sender.reader WHERE id = 1`);
    return BigInt(now);
  }

  async saveReaderPosition(position: bigint): Promise<void> {
    await this.pool.query(sql.unsafe`UPDATE federation_sender.reader SET position = GREATEST(position, ${position.toString()}::bigint) WHERE id = 1`);
  }

  /** A destination seen for the first time: nothing up to `position` is due to it. */
  async addDestination(destination: string, position: bigint): Promise<void> {
    await this.pool.query(sql.unsafe`
      INSERT INTO federation_sender.destinations (destination, position) VALUES (${destination}, ${position.toString()})
      ON CONFLICT (destination) DO NOTHING`);
  }

  /** A transaction is about to be sent: what is due in (from, to] goes under `txnId`. */
  async declareTransaction(destination: string, from: bigint, to: bigint, txnId: string): Promise<void> {
    await this.pool.query(sql.unsafe`
      UPDATE federation_sender.destinations SET position = ${from.toString()}, inflight_to = ${to.toString()}, inflight_txn_id = ${txnId}
       WHERE destination = ${destination}`);
  }

  /** The destination acknowledged everything up to `to` (or, without `to`, an ephemeral transaction). */
  async acknowledge(destination: string, to?: bigint): Promise<void> {
    const position = to === undefined ? sql.fragment`position` : sql.fragment`GREATEST(position, ${to.toString()}::bigint)`;
    await this.pool.query(sql.unsafe`
      UPDATE federation_sender.destinations
         SET position = ${position}, inflight_to = NULL, inflight_txn_id = NULL, failures = 0, retry_at = NULL, last_error = NULL
       WHERE destination = ${destination}`);
  }

  async recordFailure(destination: string, failures: number, retryAt: number, reason: string): Promise<void> {
    await this.pool.query(sql.unsafe`
      UPDATE federation_sender.destinations SET failures = ${failures}, retry_at = ${retryAt}, last_error = ${reason.slice(0, 1000)}
       WHERE destination = ${destination}`);
  }

  /** Nothing was due to the destination up to `position` (kept only when no transaction is in flight). */
  async passOver(destination: string, position: bigint): Promise<void> {
    await this.pool.query(sql.unsafe`
      UPDATE federation_sender.destinations SET position = GREATEST(position, ${position.toString()}::bigint)
       WHERE destination = ${destination} AND inflight_to IS NULL`);
  }
}
