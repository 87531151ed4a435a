import { sql, type DatabaseTransactionConnection } from 'slonik';
import { parseStreamName } from '@hs/contracts';
import type { Projector, RecordedEvent } from '@hs/eventstore';

/**
 * Per room stream: how many events it holds, the position, type and time of its last event,
 * and a count per event type. Tables: `rooms`, `event_type_counts`.
 */
export const roomSummaryProjector: Projector = {
  name: 'room_summary',
  version: 1,
  eventTypes: '*',
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
    for (const [roomId, room] of rooms) {
      await tx.query(sql.unsafe`
        INSERT INTO rooms (room_id, event_count, last_position, last_event_type, last_event_at)
        VALUES (${roomId}, ${room.count}, ${room.last.position}, ${room.last.type}, ${sql.timestamp(room.last.recordedAt)})
        ON CONFLICT (room_id) DO UPDATE SET
          event_count = rooms.event_count + EXCLUDED.event_count,
          last_position = EXCLUDED.last_position,
          last_event_type = EXCLUDED.last_event_type,
          last_event_at = EXCLUDED.last_event_at`);
      for (const [type, count] of room.types) {
        await tx.query(sql.unsafe`
          INSERT INTO event_type_counts (room_id, type, count) VALUES (${roomId}, ${type}, ${count})
          ON CONFLICT (room_id, type) DO UPDATE SET count = event_type_counts.count + EXCLUDED.count`);
      }
    }
  },
};
