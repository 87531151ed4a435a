/**
 * The receipts projection: each user's furthest receipt per room, receipt type and thread (a
 * receipt for an event not later than the current one's is ignored), with the store position
 * it was recorded at (so /sync can send what changed since a token).
 */
import { sql, type DatabaseTransactionConnection, type FragmentSqlToken, type IdentifierSqlToken } from 'slonik';
import { searchPathTable, type BatchStatement, type GenerationTable, type Projector, type RecordedEvent } from '@hs/eventstore';
import { RECEIPT_RECORDED, isReceiptType, type ReceiptRecorded } from '@hs/contracts';

export const RECEIPTS_PROJECTION = 'receipts';

function isReceipt(data: unknown): data is ReceiptRecorded {
  const d = data as Partial<ReceiptRecorded> | null;
  return (
    !!d &&
    d.v === 1 &&
    typeof d.room_id === 'string' &&
    typeof d.user_id === 'string' &&
    typeof d.event_id === 'string' &&
    isReceiptType(d.receipt_type) &&
    typeof d.ts === 'number' &&
    (d.thread_id === undefined || typeof d.thread_id === 'string') &&
    (d.event_position === undefined || (typeof d.event_position === 'string' && /^[0-9]{1,19}$/.test(d.event_position)))
  );
}

export class ReceiptsProjector implements Projector {
  readonly name = RECEIPTS_PROJECTION;
  readonly version = 2;
  readonly eventTypes = [RECEIPT_RECORDED];
  readonly tables = ['receipts'] as const;

  async setup(tx: DatabaseTransactionConnection): Promise<void> {
    await tx.query(sql.unsafe`
      CREATE TABLE receipts (
        room_id text NOT NULL,
        user_id text NOT NULL,
        receipt_type text NOT NULL,
        thread_id text NOT NULL,
        event_id text NOT NULL,
        ts bigint NOT NULL,
        position bigint NOT NULL,
        event_position bigint,
        PRIMARY KEY (room_id, user_id, receipt_type, thread_id)
      )`);
    await tx.query(sql.unsafe`CREATE INDEX receipts_by_position ON receipts (room_id, position)`);
  }

  async handle(batch: RecordedEvent[], tx: DatabaseTransactionConnection): Promise<void> {
    const write = receiptsWrite(batch, searchPathTable('receipts'));
    if (write) await tx.query(sql.unsafe`${write}`);
  }

  /** Every batch is one statement, the same as `handle`. */
  statement(batch: RecordedEvent[], table: GenerationTable): BatchStatement {
    const write = receiptsWrite(batch, table('receipts'));
    return { writes: write ? [write] : [] };
  }
}

/**
 * The batch's receipts in one upsert: per room, user, receipt type and thread, the batch's
 * last receipt (store order) replaces the stored one, as one upsert per receipt in order would
 * (an upsert may not touch a row twice).
 * None when the batch holds no well-formed receipt.
 */
function receiptsWrite(batch: RecordedEvent[], receipts: IdentifierSqlToken): FragmentSqlToken | undefined {
  const latest = new Map<string, { receipt: ReceiptRecorded; position: bigint }>();
  for (const record of batch) {
    if (!isReceipt(record.data)) continue;
    const r = record.data;
    const key = JSON.stringify([r.room_id, r.user_id, r.receipt_type, r.thread_id ?? '']);
    const before = latest.get(key);
    if (before && !movesForward(before.receipt, r)) continue;
    latest.set(key, { receipt: r, position: record.position });
  }
  if (latest.size === 0) return undefined;
  const rows = [...latest.values()];
  const column = <T>(pick: (row: { receipt: ReceiptRecorded; position: bigint }) => T) => rows.map(pick);
  return sql.fragment`
    INSERT INTO ${receipts} (room_id, user_id, receipt_type, thread_id, event_id, ts, position, event_position)
    SELECT * FROM unnest(${sql.array(column((x) => x.receipt.room_id), 'text')}, ${sql.array(column((x) => x.receipt.user_id), 'text')},
                         ${sql.array(column((x) => x.receipt.receipt_type), 'text')}, ${sql.array(column((x) => x.receipt.thread_id ?? ''), 'text')},
                         ${sql.array(column((x) => x.receipt.event_id), 'text')}, ${sql.array(column((x) => x.receipt.ts), 'int8')},
                         ${sql.array(column((x) => x.position), 'int8')},
                         ${sql.array(column((x) => x.receipt.event_position ?? null), 'int8')})
    ON CONFLICT (room_id, user_id, receipt_type, thread_id) DO UPDATE
      SET event_id = EXCLUDED.event_id, ts = EXCLUDED.ts, position = EXCLUDED.position, event_position = EXCLUDED.event_position
      WHERE ${receipts}.event_position IS NULL OR EXCLUDED.event_position IS NULL OR EXCLUDED.event_position > ${receipts}.event_position`;
}

/** Whether `next` replaces `current`: its event is later (or one of the two positions is unknown). */
function movesForward(current: ReceiptRecorded, next: ReceiptRecorded): boolean {
  if (current.event_position === undefined || next.event_position === undefined) return true;
  return BigInt(next.event_position) > BigInt(current.event_position);
}
