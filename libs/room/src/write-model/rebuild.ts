/**
 * Rebuilds the write model from the room streams of the event store: empties its tables and
 * applies every room record in global order, in one transaction.
 */
import { parseStreamName } from '@hs/contracts';
import type { RecordedEvent } from '@hs/eventstore';
import { applyRoomRecord } from './apply';
import { sql, type CommonQueryMethods, type DatabasePool } from './sql';

/** Reads `$all` through a given connection (the PostgreSQL/PGlite event store does). */
export interface RebuildSource {
  readAllWith(connection: CommonQueryMethods, after: bigint, limit: number): Promise<RecordedEvent[]>;
  /**
   * Waits (at most `timeoutMs`) until no committed event is held back from readers by an older
   * transaction still in flight anywhere in the database cluster.
   */
  settled?(timeoutMs?: number): Promise<boolean>;
}

/** Longest wait, before a rebuild, for committed events held back by a transaction in flight. */
const PENDING_WAIT_MS = 30_000;

const BATCH = 1000;

export interface RebuildWriteModelOptions {
  /** Called after each batch: store events read and room records applied so far, and the position reached. */
  onProgress?: (progress: { read: number; records: number; position: bigint }) => void;
}

export async function rebuildWriteModel(pool: DatabasePool, source: RebuildSource, options: RebuildWriteModelOptions = {}): Promise<{ records: number }> {
  // Events committed but held back by an older transaction still in flight elsewhere in the
  // cluster would be left out: wait until readers see them all.
  await source.settled?.(PENDING_WAIT_MS);
  return pool.transaction(async (tx) => {
    await tx.query(sql.unsafe`TRUNCATE room.state_group_entries, room.events, room.state_groups, room.rooms, room.current_state,
      room.forward_extremities, room.client_transactions, room.aliases, room.forgotten`);
    let after = 0n;
    let records = 0;
    let read = 0;
    for (;;) {
      const batch = await source.readAllWith(tx, after, BATCH);
      read += batch.length;
      for (const record of batch) {
        const stream = parseStreamName(record.stream);
        if (stream?.kind !== 'room') continue;
        await applyRoomRecord(tx, stream.roomId, record);
        records++;
      }
      if (batch.length > 0) options.onProgress?.({ read, records, position: batch[batch.length - 1].position });
      if (batch.length < BATCH) break;
      after = batch[batch.length - 1].position;
    }
    return { records };
  });
}
