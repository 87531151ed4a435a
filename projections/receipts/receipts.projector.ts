/**
 * The receipts projection: each user's latest receipt per room, receipt type and thread, with
 * the store position it was recorded at (so /sync can send what changed since a token).
 */
import { sql, type DatabaseTransactionConnection } from 'slonik';
import type { Projector, RecordedEvent } from '@hs/eventstore';
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
    (d.thread_id === undefined || typeof d.thread_id === 'string')
  );
}

export class ReceiptsProjector implements Projector {
  readonly name = RECEIPTS_PROJECTION;
  readonly version = 1;
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
        PRIMARY KEY (room_id, user_id, receipt_type, thread_id)
      )`);
    await tx.query(sql.unsafe`CREATE INDEX receipts_by_position ON receipts (room_id, position)`);
  }

  async handle(batch: RecordedEvent[], tx: DatabaseTransactionConnection): Promise<void> {
    for (const record of batch) {
      if (!isReceipt(record.data)) continue;
      const r = record.data;
      await tx.query(sql.unsafe`
        INSERT INTO receipts (room_id, user_id, receipt_type, thread_id, event_id, ts, position)
        VALUES (${r.room_id}, ${r.user_id}, ${r.receipt_type}, ${r.thread_id ?? ''}, ${r.event_id}, ${r.ts}, ${record.position})
        ON CONFLICT (room_id, user_id, receipt_type, thread_id) DO UPDATE
          SET event_id = EXCLUDED.event_id, ts = EXCLUDED.ts, position = EXCLUDED.position`);
    }
  }
}
