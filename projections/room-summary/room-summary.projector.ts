import { sql, type DatabaseTransactionConnection, type FragmentSqlToken } from 'slonik';
import { parseStreamName } from '@hs/contracts';
import { searchPathTable, type BatchStatement, type GenerationTable, type Projector, type RecordedEvent } from '@hs/eventstore';

/**
 * Per room stream: how many events it holds, the position, type and time of its last event,
 * and a count per event type. Tables: `rooms`, `event_type_counts`. Events of other streams
 * (receipts, audit) are not handed to it. A batch is written by one autocommitted statement
 * together with the checkpoint (`statement`); `handle` writes the same rows in one statement.
 */
export const roomSummaryProjector: Projector = {
  name: 'room_summary',
  version: 1,
  eventTypes: '*',
  wants: (event) => parseStreamName(event.stream)?.kind === 'room',
  // Statistics nothing answers a client from: a quarter of a second behind is fine, and under
  // load it saves one statement per batch of the store.
  applyIntervalMs: 250,
  tables: ['rooms', 'event_type_counts'],

  async setup(tx: DatabaseTransactionConnection) {
    await tx.query(sql.unsafe`CREATE TABLE rooms (
      room_id text PRIMARY KEY,
      event_count bigint NOT NULL,
      last_position bigint NOT NULL,
      last_event_type text NOT NULL,
      last_event_at timestamptz NOT NULL
    )`);
    await tx.query(sql.unsafe`CREATE TABLE event_type_counts (
      room_id text NOT NULL,
      type text NOT NULL,
      count bigint NOT NULL,
      PRIMARY KEY (room_id, type)
    )`);
  },

  async handle(batch: RecordedEvent[], tx: DatabaseTransactionConnection) {
    const [summary, counts] = summaryWrites(batch, searchPathTable);
    // Both tables in one round trip.
    if (summary && counts) await tx.query(sql.unsafe`WITH summary AS (${summary}) ${counts}`);
  },

  /** Every batch is one statement: the same two writes as `handle`, side by side. */
  statement(batch: RecordedEvent[], table: GenerationTable): BatchStatement {
    return { writes: summaryWrites(batch, table) };
  },
};

/**
 * The batch's rows: per room its summary, per (room, type) its count, each added to what the
 * tables hold. Each room and each (room, type) appears once, so the two writes can run side
 * by side. None when the batch holds no room event.
 */
function summaryWrites(batch: RecordedEvent[], table: GenerationTable): FragmentSqlToken[] {
  const rooms = new Map<string, { count: number; last: RecordedEvent; types: Map<string, number> }>();
  for (const event of batch) {
    const name = parseStreamName(event.stream);
    if (name?.kind !== 'room') continue;
    let room = rooms.get(name.roomId);
    if (!room) {
      room = { count: 0, last: event, types: new Map() };
      rooms.set(name.roomId, room);
    }
    room.count++;
    if (event.position > room.last.position) room.last = event;
    room.types.set(event.type, (room.types.get(event.type) ?? 0) + 1);
  }
  if (rooms.size === 0) return [];
  const summaries = [...rooms];
  const counts = summaries.flatMap(([roomId, room]) => [...room.types].map(([type, count]) => ({ roomId, type, count })));
  return [
    sql.fragment`
      INSERT INTO ${table('rooms')} AS rooms (room_id, event_count, last_position, last_event_type, last_event_at)
      SELECT room_id, event_count, last_position, last_event_type, to_timestamp(last_event_at)
        FROM unnest(${sql.array(summaries.map(([roomId]) => roomId), 'text')},
                    ${sql.array(summaries.map(([, room]) => room.count), 'int8')},
                    ${sql.array(summaries.map(([, room]) => room.last.position), 'int8')},
                    ${sql.array(summaries.map(([, room]) => room.last.type), 'text')},
                    ${sql.array(summaries.map(([, room]) => String(room.last.recordedAt.getTime() / 1000)), 'float8')})
          AS u(room_id, event_count, last_position, last_event_type, last_event_at)
      ON CONFLICT (room_id) DO UPDATE SET
        event_count = rooms.event_count + EXCLUDED.event_count,
        last_position = EXCLUDED.last_position,
        last_event_type = EXCLUDED.last_event_type,
        last_event_at = EXCLUDED.last_event_at`,
    sql.fragment`
      INSERT INTO ${table('event_type_counts')} AS event_type_counts (room_id, type, count)
      SELECT room_id, type, count
        FROM unnest(${sql.array(counts.map((c) => c.roomId), 'text')},
                    ${sql.array(counts.map((c) => c.type), 'text')},
                    ${sql.array(counts.map((c) => c.count), 'int8')}) AS u(room_id, type, count)
      ON CONFLICT (room_id, type) DO UPDATE SET count = event_type_counts.count + EXCLUDED.count`,
  ];
}
