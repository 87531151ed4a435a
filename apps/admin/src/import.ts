/**
 * `admin import <file>`: loads an export (see export-format.ts) into an empty server, in one
 * transaction: a damaged, cut short or refused file leaves the target as it was. Events keep
 * their positions, streams, revisions and recording times, so sync tokens handed out by the
 * exporting server stay valid. Then the room write model and every projection are rebuilt
 * from the store, each with a progress bar. Stop the server first on the embedded database.
 */
import { basename } from 'node:path';
import { AuditLog } from '@hs/admin';
import type { HomeserverConfig } from '@hs/config';
import { receiptsStream, roomStream } from '@hs/contracts';
import type { JsonValue, PostgresEventStore, RecordedEvent } from '@hs/eventstore';
import { rebuildWriteModel } from '@hs/room';
import { sql, type DatabaseTransactionConnection } from 'slonik';
import { z } from 'zod';
import { allProjectors } from '../../homeserver/src/projectors';
import { CommandFailure } from './errors';
import { progressBar } from './progress';
import { SEQUENCE_SCHEMAS, SERVER_TABLES, readExport, tableIdentifier, type EventLine, type ExportHeader, type RowsLine } from './export-format';
import { rebuildWithProgress } from './rebuild';
import { ADMIN_CLI_ACTOR, withStore } from './store';

export interface ImportSummary {
  scope: 'server' | 'room';
  events: number;
  rows: number;
  projections: string[];
}

const EVENT_BATCH = 1000;

/** Tables whose rows a server seeds or writes at its first start, replaced by an import. */
const REPLACED = new Set(SERVER_TABLES.filter((t) => t.replace).map((t) => t.name));
const TABLES = new Set(SERVER_TABLES.map((t) => t.name));

export async function runImport(config: HomeserverConfig, path: string, progressStream: NodeJS.WritableStream): Promise<ImportSummary> {
  return withStore(config, 3, async (db, store) => {
    const summary = await db.pool.transaction((tx) => importFile(tx, store, config, path, progressStream));
    await new AuditLog(store).record({
      actor: ADMIN_CLI_ACTOR,
      action: 'store.imported',
      target: basename(path),
      details: { scope: summary.header.scope, server_name: summary.header.server_name, exported_at: summary.header.exported_at, events: summary.events, rows: summary.rows, ...(summary.header.room_id ? { room_id: summary.header.room_id } : {}) },
    });

    // The write side's tables and every read model, from the imported store.
    const writeBar = progressBar(progressStream, 'rebuild room write model [{bar}] {percentage}% | {value}/{total} events');
    const total = Number(await store.countBetween(0n, await store.headPosition()));
    writeBar.start(total, 0);
    await rebuildWriteModel(db.pool, store, { onProgress: ({ read }) => writeBar.update(Math.min(read, total)) });
    writeBar.update(total);
    writeBar.stop();
    const projections: string[] = [];
    for (const projector of allProjectors(config.server_name)) {
      await rebuildWithProgress(db, store, projector, progressStream);
      projections.push(projector.name);
    }
    return { scope: summary.header.scope, events: summary.events, rows: summary.rows, projections };
  });
}

async function importFile(
  tx: DatabaseTransactionConnection,
  store: PostgresEventStore,
  config: HomeserverConfig,
  path: string,
  progressStream: NodeJS.WritableStream,
): Promise<{ header: ExportHeader; events: number; rows: number }> {
  await refuseUnlessEmpty(tx);
  const bar = progressBar(progressStream, 'import [{bar}] {percentage}% | {events} events, {rows} rows');
  let header: ExportHeader | undefined;
  let events = 0;
  let rows = 0;
  let lastPosition = -1n;
  const nextRevision = new Map<string, bigint>();
  const replaced = new Set<string>();
  const columns = new Map<string, Set<string>>();
  const sequences = new Set(
    await tx.anyFirst(sql.type(z.object({ name: z.string() }))`
      SELECT schemaname || '.' || sequencename AS name FROM pg_sequences WHERE schemaname = ANY(${sql.array(SEQUENCE_SCHEMAS, 'text')})`),
  );
  let batch: RecordedEvent[] = [];
  let bytes = 0;
  const flush = async () => {
    await store.importRecordedWith(tx, batch);
    batch = [];
    bar.update(bytes, { events, rows });
  };
  let started = false;
  try {
    for await (const line of readExport(path, (read, total) => {
      if (!started) {
        bar.start(total, 0, { events: 0, rows: 0 });
        started = true;
      }
      bytes = read;
    })) {
      if ('header' in line) {
        header = line.header;
        if (header.server_name !== config.server_name) {
          throw new CommandFailure(`the export is of server ${header.server_name}; this server is ${config.server_name} (user and room ids name their server, so an export imports only into a server of the same name)`);
        }
        continue;
      }
      const body = line.body;
      if (body.kind === 'event') {
        const record = toRecorded(body);
        if (header?.scope === 'room' && record.stream !== roomStream(header.room_id!) && record.stream !== receiptsStream(header.room_id!)) {
          throw new CommandFailure(`line ${line.number}: stream ${record.stream} in an export of room ${header.room_id}`);
        }
        if (record.position <= lastPosition) throw new CommandFailure(`line ${line.number}: event positions must increase`);
        lastPosition = record.position;
        const expected = nextRevision.get(record.stream) ?? 0n;
        if (record.revision !== expected) throw new CommandFailure(`line ${line.number}: stream ${record.stream} has revision ${record.revision} where ${expected} comes next`);
        nextRevision.set(record.stream, expected + 1n);
        batch.push(record);
        events += 1;
        if (batch.length >= EVENT_BATCH) await flush();
      } else if (body.kind === 'rows') {
        if (header?.scope !== 'server') throw new CommandFailure(`line ${line.number}: table rows in a room export`);
        await insertRows(tx, body, line.number, columns, replaced);
        rows += body.rows.length;
        bar.update(bytes, { events, rows });
      } else {
        if (!sequences.has(body.name)) throw new CommandFailure(`line ${line.number}: no sequence ${body.name} on this server`);
        await tx.query(sql.unsafe`SELECT setval(${body.name}::regclass, ${body.value}::bigint, true)`);
      }
    }
    await flush();
  } catch (error) {
    if (error instanceof CommandFailure) throw error;
    const message = error instanceof Error ? error.message : String(error);
    throw new CommandFailure(`the import failed, nothing was imported: ${message}`);
  } finally {
    bar.stop();
  }
  if (!header) throw new CommandFailure(`${path} has no header`);

  await store.raisePositionBase(tx);
  // Delivery to other servers, push gateways and application services resumes where the
  // export left it, or, where it did not say, from the imported head: history is not sent again.
  const head = lastPosition < 0n ? 0n : lastPosition;
  if (!replaced.has('federation_sender.reader')) {
    await tx.query(sql.unsafe`INSERT INTO federation_sender.reader (id, position) VALUES (1, ${head.toString()})
      ON CONFLICT (id) DO UPDATE SET position = GREATEST(federation_sender.reader.position, excluded.position)`);
  }
  if (!replaced.has('push_delivery.position')) {
    await tx.query(sql.unsafe`INSERT INTO push_delivery.position (id, position) VALUES (1, ${head.toString()})
      ON CONFLICT (id) DO UPDATE SET position = GREATEST(push_delivery.position.position, excluded.position)`);
  }
  if (!replaced.has('appservice.services')) await tx.query(sql.unsafe`DELETE FROM appservice.services`);
  return { header, events, rows };
}

/** Refuses a target holding events or accounts: an import goes into an empty server. */
async function refuseUnlessEmpty(tx: DatabaseTransactionConnection): Promise<void> {
  const held: string[] = [];
  if (await tx.exists(sql.unsafe`SELECT 1 FROM eventstore.events`)) held.push('eventstore.events');
  for (const table of SERVER_TABLES) {
    if (table.replace) continue;
    if (await tx.exists(sql.unsafe`SELECT 1 FROM ${tableIdentifier(table.name)}`)) held.push(table.name);
  }
  if (held.length > 0) throw new CommandFailure(`the target server is not empty (rows in ${held.join(', ')}); import into a new database`);
}

async function insertRows(tx: DatabaseTransactionConnection, line: RowsLine, number: number, columns: Map<string, Set<string>>, replaced: Set<string>): Promise<void> {
  if (!TABLES.has(line.table)) throw new CommandFailure(`line ${number}: table ${line.table} is not one an export carries`);
  if (line.rows.length === 0) return;
  const [schema, table] = line.table.split('.');
  let known = columns.get(line.table);
  if (!known) {
    known = new Set(
      await tx.anyFirst(sql.type(z.object({ column_name: z.string() }))`
        SELECT column_name FROM information_schema.columns WHERE table_schema = ${schema} AND table_name = ${table}`),
    );
    columns.set(line.table, known);
  }
  if (REPLACED.has(line.table) && !replaced.has(line.table)) {
    await tx.query(sql.unsafe`DELETE FROM ${tableIdentifier(line.table)}`);
    replaced.add(line.table);
  }
  const names = [...new Set(line.rows.flatMap((row) => Object.keys(row)))];
  const unknown = names.filter((name) => !known.has(name));
  if (unknown.length > 0) throw new CommandFailure(`line ${number}: table ${line.table} has no column ${unknown.join(', ')} on this server`);
  const list = sql.join(
    names.map((name) => sql.identifier([name])),
    sql.fragment`, `,
  );
  await tx.query(sql.unsafe`INSERT INTO ${tableIdentifier(line.table)} (${list})
    SELECT ${list} FROM json_populate_recordset(NULL::${tableIdentifier(line.table)}, ${JSON.stringify(line.rows)}::json)`);
}

function toRecorded(line: EventLine): RecordedEvent {
  return {
    id: line.id,
    stream: line.stream,
    revision: BigInt(line.revision),
    position: BigInt(line.position),
    type: line.type,
    data: line.data,
    metadata: line.metadata as JsonValue | null,
    recordedAt: new Date(line.recorded_at),
  };
}
