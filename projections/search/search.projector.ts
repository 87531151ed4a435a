/**
 * The search projection: a full-text index (PostgreSQL `tsvector`, text search configuration
 * `english`) of the searchable text of room events, as POST /search matches it:
 * `content.body` of `m.room.message`, `content.name` of `m.room.name` and `content.topic` of
 * `m.room.topic`. Encrypted events (`m.room.encrypted`) carry no such text and are not
 * indexed. Only timeline events are (neither soft-failed nor outliers); history fetched with
 * /backfill is indexed at its store position negated, as the sync projection orders it.
 *
 * A redaction takes its target out of the index (and keeps it out should the target arrive
 * later). Whether the redaction was allowed to apply is the sync projection's to say: the
 * query side serves an event's redacted form from there, and drops redacted events.
 *
 * Tables (one schema per generation; queries read the views in `proj_search`):
 * - `entries`: per indexed event its room, store position, sender, type, which key its text
 *   came from, and the text's `vector`.
 * - `redacted`: ids of the events a redaction names.
 */
import { sql, type DatabaseTransactionConnection } from 'slonik';
import { parseStreamName, ROOM_EVENT_ACCEPTED, type RoomEventAccepted } from '@hs/contracts';
import type { Projector, RecordedEvent } from '@hs/eventstore';

export const SEARCH_PROJECTION = 'search';

/** The text search configuration of the index and of the queries. */
export const SEARCH_CONFIG = 'english';

/** Which content key of which event type is searchable. */
export const SEARCHABLE_KEYS: Readonly<Record<string, string>> = {
  'm.room.message': 'content.body',
  'm.room.name': 'content.name',
  'm.room.topic': 'content.topic',
};

function isAccepted(data: unknown): data is RoomEventAccepted {
  const d = data as Partial<RoomEventAccepted> | null;
  return !!d && d.v === 1 && typeof d.event_id === 'string' && typeof d.room_id === 'string' && !!d.pdu;
}

/** The searchable text of an event and the key it came from, if it has one. */
export function searchableText(type: string, content: Record<string, unknown> | undefined): { key: string; text: string } | undefined {
  const key = SEARCHABLE_KEYS[type];
  if (!key || !content) return undefined;
  const value = content[key.slice('content.'.length)];
  return typeof value === 'string' && value.length > 0 ? { key, text: value } : undefined;
}

/** The event a redaction names (in content from room version 11, at the top level before). */
function redactedBy(fact: RoomEventAccepted): string | undefined {
  if (fact.pdu.type !== 'm.room.redaction') return undefined;
  const inContent = (fact.pdu.content as Record<string, unknown> | undefined)?.redacts;
  const top = (fact.pdu as { redacts?: unknown }).redacts;
  const target = typeof inContent === 'string' ? inContent : top;
  return typeof target === 'string' ? target : undefined;
}

interface Entry {
  event_id: string;
  room_id: string;
  position: bigint;
  sender: string;
  type: string;
  key: string;
  origin_server_ts: number;
  text: string;
}

export class SearchProjector implements Projector {
  readonly name = SEARCH_PROJECTION;
  readonly version = 1;
  readonly eventTypes = [ROOM_EVENT_ACCEPTED];
  readonly tables = ['entries', 'redacted'] as const;

  wants(event: RecordedEvent): boolean {
    if (parseStreamName(event.stream)?.kind !== 'room' || !isAccepted(event.data)) return false;
    const type = event.data.pdu.type;
    return type === 'm.room.redaction' || SEARCHABLE_KEYS[type] !== undefined;
  }

  async setup(tx: DatabaseTransactionConnection): Promise<void> {
    await tx.query(sql.unsafe`CREATE TABLE entries (
      event_id text PRIMARY KEY,
      room_id text NOT NULL,
      position bigint NOT NULL,
      sender text NOT NULL,
      type text NOT NULL,
      key text NOT NULL,
      origin_server_ts bigint NOT NULL,
      vector tsvector NOT NULL
    )`);
    // No pending list: on PGlite nothing vacuums it, and every query would scan it whole.
    await tx.query(sql.unsafe`CREATE INDEX entries_vector ON entries USING gin (vector) WITH (fastupdate = off)`);
    await tx.query(sql.unsafe`CREATE INDEX entries_by_room ON entries (room_id, position)`);
    await tx.query(sql.unsafe`CREATE TABLE redacted (event_id text NOT NULL, room_id text NOT NULL, PRIMARY KEY (event_id, room_id))`);
  }

  async handle(batch: RecordedEvent[], tx: DatabaseTransactionConnection): Promise<void> {
    const entries = new Map<string, Entry>();
    const redactions = new Map<string, string>();
    for (const record of batch) {
      const fact = record.data;
      if (!isAccepted(fact) || fact.soft_failed || fact.outlier) continue;
      const target = redactedBy(fact);
      if (target !== undefined) {
        redactions.set(target, fact.room_id);
        if (entries.get(target)?.room_id === fact.room_id) entries.delete(target);
        continue;
      }
      const found = searchableText(fact.pdu.type, fact.pdu.content as Record<string, unknown>);
      if (!found || redactions.get(fact.event_id) === fact.room_id || entries.has(fact.event_id)) continue;
      entries.set(fact.event_id, {
        event_id: fact.event_id,
        room_id: fact.room_id,
        position: fact.backfilled === true ? -record.position : record.position,
        sender: fact.pdu.sender,
        type: fact.pdu.type,
        key: found.key,
        origin_server_ts: fact.pdu.origin_server_ts,
        // NUL cannot be stored in text.
        text: found.text.split('\u0000').join(''),
      });
    }
    if (entries.size > 0) {
      const rows = [...entries.values()];
      const column = <T>(pick: (e: Entry) => T) => rows.map(pick);
      await tx.query(sql.unsafe`
        INSERT INTO entries (event_id, room_id, position, sender, type, key, origin_server_ts, vector)
        SELECT u.event_id, u.room_id, u.position, u.sender, u.type, u.key, u.ts, to_tsvector(${SEARCH_CONFIG}::regconfig, u.text)
          FROM unnest(${sql.array(column((e) => e.event_id), 'text')}, ${sql.array(column((e) => e.room_id), 'text')},
                      ${sql.array(column((e) => e.position), 'int8')}, ${sql.array(column((e) => e.sender), 'text')},
                      ${sql.array(column((e) => e.type), 'text')}, ${sql.array(column((e) => e.key), 'text')},
                      ${sql.array(column((e) => e.origin_server_ts), 'int8')}, ${sql.array(column((e) => e.text), 'text')})
            AS u(event_id, room_id, position, sender, type, key, ts, text)
         WHERE NOT EXISTS (SELECT 1 FROM redacted r WHERE r.event_id = u.event_id AND r.room_id = u.room_id)
        ON CONFLICT (event_id) DO NOTHING`);
    }
    if (redactions.size > 0) {
      const ids = sql.array([...redactions.keys()], 'text');
      const rooms = sql.array([...redactions.values()], 'text');
      await tx.query(sql.unsafe`
        WITH gone AS (
          DELETE FROM entries e USING unnest(${ids}, ${rooms}) AS r(event_id, room_id)
           WHERE e.event_id = r.event_id AND e.room_id = r.room_id
        )
        INSERT INTO redacted (event_id, room_id) SELECT * FROM unnest(${ids}, ${rooms}) ON CONFLICT (event_id, room_id) DO NOTHING`);
    }
  }
}
