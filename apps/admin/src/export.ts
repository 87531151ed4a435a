/**
 * `admin export`: the whole server (event store, accounts, devices and keys of end-to-end
 * encryption, delivery positions) or one room (its event and receipt streams) as an export
 * file (see export-format.ts), read in one snapshot so it is consistent even while the server
 * runs on PostgreSQL. The embedded database is opened by one process at a time: stop the
 * server first.
 */
import { createWriteStream, rmSync } from 'node:fs';
import { once } from 'node:events';
import { createGzip } from 'node:zlib';
import type { HomeserverConfig } from '@hs/config';
import { receiptsStream, roomStream } from '@hs/contracts';
import type { JsonValue, PostgresEventStore } from '@hs/eventstore';
import type { SingleBar } from 'cli-progress';
import { sql, type DatabaseTransactionConnection } from 'slonik';
import { z } from 'zod';
import { CommandFailure } from './errors';
import { progressBar } from './progress';
import { eventLine, EXPORT_FORMAT, EXPORT_VERSION, ExportWriter, ROWS_PER_LINE, SEQUENCE_SCHEMAS, SERVER_TABLES, tableIdentifier } from './export-format';
import { withStore } from './store';

export interface ExportOptions {
  /** One room's streams instead of the whole server. */
  roomId?: string;
  /** Where to write; a name ending in `.gz` is compressed. */
  out: string;
  /** Compress whatever the name. */
  gzip?: boolean;
}

const EVENT_PAGE = 1000;

export async function runExport(config: HomeserverConfig, options: ExportOptions, progressStream: NodeJS.WritableStream): Promise<{ events: number; rows: number }> {
  if (options.roomId !== undefined && !options.roomId.startsWith('!')) throw new CommandFailure(`${options.roomId} is not a room id (they start with "!")`);
  return withStore(config, 2, async (db, store) => {
    const file = createWriteStream(options.out, { mode: 0o600 });
    const failed = new Promise<never>((_, reject) => file.once('error', (error) => reject(new CommandFailure(`cannot write ${options.out}: ${error.message}`))));
    failed.catch(() => undefined);
    const gzip = options.gzip || options.out.endsWith('.gz') ? createGzip() : undefined;
    if (gzip) gzip.pipe(file);
    const out = gzip ?? file;
    const bar = progressBar(progressStream, 'export [{bar}] {percentage}% | {value}/{total} events and rows');
    try {
      const counts = await Promise.race([failed, db.pool.transaction((tx) => writeExport(tx, store, new ExportWriter(out), bar, config.server_name, options.roomId))]);
      out.end();
      await Promise.race([failed, once(file, 'finish')]);
      return counts;
    } catch (error) {
      // No half-written export is left behind.
      gzip?.destroy();
      file.destroy();
      rmSync(options.out, { force: true });
      throw error;
    } finally {
      bar.stop();
    }
  });
}

/** Writes the export in `tx`, a snapshot: the header, the tables of a server export, the events, the end line. */
async function writeExport(
  tx: DatabaseTransactionConnection,
  store: PostgresEventStore,
  writer: ExportWriter,
  bar: SingleBar,
  serverName: string,
  roomId: string | undefined,
): Promise<{ events: number; rows: number }> {
  await tx.query(sql.unsafe`SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY`);
  const streams = roomId === undefined ? undefined : [roomStream(roomId), receiptsStream(roomId)];
  if (roomId !== undefined && !(await tx.exists(sql.unsafe`SELECT 1 FROM eventstore.events WHERE stream_id = ${roomStream(roomId)}`))) {
    throw new CommandFailure(`no room ${roomId} in the event store`);
  }
  const count = z.object({ count: z.bigint() });
  const head = await tx.oneFirst(sql.type(z.object({ head: z.bigint() }))`SELECT coalesce(max(position), 0) AS head FROM eventstore.events`);
  const eventTotal = await tx.oneFirst(sql.type(count)`SELECT count(*) AS count FROM eventstore.events
    WHERE ${streams === undefined ? sql.fragment`true` : sql.fragment`stream_id = ANY(${sql.array(streams, 'text')})`}`);
  let rowTotal = 0n;
  if (streams === undefined) {
    for (const table of SERVER_TABLES) rowTotal += await tx.oneFirst(sql.type(count)`SELECT count(*) AS count FROM ${tableIdentifier(table.name)}`);
  }
  bar.start(Number(eventTotal + rowTotal), 0);
  let done = 0;
  await writer.write({
    format: EXPORT_FORMAT,
    version: EXPORT_VERSION,
    scope: roomId === undefined ? 'server' : 'room',
    server_name: serverName,
    ...(roomId !== undefined ? { room_id: roomId } : {}),
    exported_at: new Date().toISOString(),
    store_head: head.toString(),
  });

  if (streams === undefined) {
    for (const table of SERVER_TABLES) {
      // Read as JSON text made by PostgreSQL: bigint, jsonb and array columns keep their values.
      const rows = await tx.anyFirst(sql.type(z.object({ row: z.string() }))`SELECT row_to_json(t)::text AS row FROM ${tableIdentifier(table.name)} t`);
      for (let start = 0; start < rows.length; start += ROWS_PER_LINE) {
        const chunk = rows.slice(start, start + ROWS_PER_LINE).map((row) => JSON.parse(row) as Record<string, JsonValue>);
        await writer.write({ kind: 'rows', table: table.name, rows: chunk });
        done += chunk.length;
        bar.update(done);
      }
    }
    const sequences = await tx.any(sql.type(z.object({ name: z.string(), value: z.bigint().nullable() }))`
      SELECT schemaname || '.' || sequencename AS name, last_value AS value FROM pg_sequences
       WHERE schemaname = ANY(${sql.array(SEQUENCE_SCHEMAS, 'text')}) ORDER BY 1`);
    for (const sequence of sequences) {
      if (sequence.value !== null) await writer.write({ kind: 'sequence', name: sequence.name, value: sequence.value.toString() });
    }
  }

  for (let after = 0n; ; ) {
    const page = await store.readStreamsWith(tx, streams, after, EVENT_PAGE);
    for (const record of page) await writer.write(eventLine(record));
    done += page.length;
    bar.update(done);
    if (page.length < EVENT_PAGE) break;
    after = page[page.length - 1].position;
  }
  return writer.end();
}
