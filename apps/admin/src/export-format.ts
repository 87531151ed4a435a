/**
 * The export file of `admin export` and `admin import`: NDJSON, optionally gzip-compressed
 * (recognised by its magic bytes on import). Lines, in order:
 *
 * 1. the header: `{"format":"hs-export","version":1,"scope":"server"|"room",
 *    "server_name":…,"room_id"?:…,"exported_at":…,"store_head":"…"}`;
 * 2. for a server export, the rows of each exported table, up to {@link ROWS_PER_LINE} per
 *    line (`{"kind":"rows","table":"accounts.users","rows":[…]}`), and each sequence
 *    (`{"kind":"sequence","name":…,"value":"…"}`);
 * 3. every stored event in position order (`{"kind":"event","position":"…","stream":…,
 *    "revision":"…","id":…,"type":…,"data":…,"metadata":…,"recorded_at":…}`), bigints as
 *    decimal strings;
 * 4. the end line: `{"kind":"end","events":N,"rows":N,"lines":N,"sha256":…}`, the SHA-256 of
 *    every line before it (with its newline). A file without it was cut short.
 */
import { createHash, type Hash } from 'node:crypto';
import { closeSync, createReadStream, openSync, readSync, statSync } from 'node:fs';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { Transform } from 'node:stream';
import { createGunzip } from 'node:zlib';
import type { JsonValue, RecordedEvent } from '@hs/eventstore';
import { sql } from 'slonik';
import { CommandFailure } from './errors';

export const EXPORT_FORMAT = 'hs-export';
export const EXPORT_VERSION = 1;
export const ROWS_PER_LINE = 500;

/**
 * The tables a server export carries besides the event store, parents before children.
 * `replace`: tables a fresh server seeds (counters, delivery positions), whose rows the
 * import replaces; every other table must be empty on the target. Not carried: what expires
 * within minutes (sessions of user-interactive auth, login and OpenID tokens, nonces),
 * remote servers' keys (fetched again), and every table derived from the store (the room
 * write model and the read models, rebuilt after the import).
 */
export const SERVER_TABLES: readonly { name: string; replace?: true }[] = [
  { name: 'accounts.users' },
  { name: 'accounts.devices' },
  { name: 'accounts.access_tokens' },
  { name: 'accounts.registration_tokens' },
  { name: 'accounts.profile_fields' },
  { name: 'accounts.stream_positions', replace: true },
  { name: 'accounts.account_data' },
  { name: 'accounts.filters' },
  { name: 'e2ee.stream', replace: true },
  { name: 'e2ee.device_keys' },
  { name: 'e2ee.one_time_keys' },
  { name: 'e2ee.fallback_keys' },
  { name: 'e2ee.device_list_changes' },
  { name: 'e2ee.to_device' },
  { name: 'e2ee.to_device_txns' },
  { name: 'e2ee.backup_users' },
  { name: 'e2ee.backup_versions' },
  { name: 'e2ee.backup_keys' },
  { name: 'e2ee.cross_signing_keys' },
  { name: 'e2ee.cross_signing_signatures' },
  { name: 'e2ee.dehydrated_devices' },
  { name: 'presence.user_presence' },
  { name: 'admin.room_deletions' },
  { name: 'appservice.services', replace: true },
  { name: 'federation_sender.destinations', replace: true },
  { name: 'federation_sender.reader', replace: true },
  { name: 'push_delivery.position', replace: true },
];

/** Schemas whose sequences a server export carries. */
export const SEQUENCE_SCHEMAS = ['accounts', 'e2ee', 'presence', 'admin', 'appservice'];

export interface ExportHeader {
  format: typeof EXPORT_FORMAT;
  version: number;
  scope: 'server' | 'room';
  server_name: string;
  room_id?: string;
  exported_at: string;
  store_head: string;
}

export interface EventLine {
  kind: 'event';
  position: string;
  stream: string;
  revision: string;
  id: string;
  type: string;
  data: JsonValue;
  metadata: JsonValue | null;
  recorded_at: string;
}

export interface RowsLine {
  kind: 'rows';
  table: string;
  rows: Record<string, JsonValue>[];
}

export interface SequenceLine {
  kind: 'sequence';
  name: string;
  value: string;
}

export interface EndLine {
  kind: 'end';
  events: number;
  rows: number;
  lines: number;
  sha256: string;
}

export type BodyLine = EventLine | RowsLine | SequenceLine;

export function eventLine(record: RecordedEvent): EventLine {
  return {
    kind: 'event',
    position: record.position.toString(),
    stream: record.stream,
    revision: record.revision.toString(),
    id: record.id,
    type: record.type,
    data: record.data,
    metadata: record.metadata,
    recorded_at: record.recordedAt.toISOString(),
  };
}

/** Writes lines and keeps the running checksum and counts of the end line. */
export class ExportWriter {
  private readonly hash: Hash = createHash('sha256');
  private lines = 0;
  private events = 0;
  private rows = 0;

  constructor(private readonly out: NodeJS.WritableStream) {}

  async write(line: ExportHeader | BodyLine): Promise<void> {
    if ('kind' in line && line.kind === 'event') this.events += 1;
    if ('kind' in line && line.kind === 'rows') this.rows += line.rows.length;
    await this.put(`${JSON.stringify(line)}\n`);
  }

  /** Writes the end line; returns the counts. */
  async end(): Promise<{ events: number; rows: number }> {
    const end: EndLine = { kind: 'end', events: this.events, rows: this.rows, lines: this.lines, sha256: this.hash.digest('hex') };
    await this.put(`${JSON.stringify(end)}\n`, false);
    return { events: this.events, rows: this.rows };
  }

  private async put(text: string, counted = true): Promise<void> {
    if (counted) {
      this.hash.update(text);
      this.lines += 1;
    }
    if (!this.out.write(text)) await once(this.out, 'drain');
  }
}

/** A line of an export being read, with its number (from 1) for error messages. */
export type ReadLine = { number: number; header: ExportHeader } | { number: number; body: BodyLine };

/**
 * Reads an export file line by line: the header first, then body lines; checks the end line
 * (counts and checksum) after the last. Throws {@link CommandFailure} naming the line at the
 * first damaged one, and when the file ends without its end line. `onBytes` reports the
 * bytes of the file read so far (compressed bytes for a gzip file).
 */
export async function* readExport(path: string, onBytes: (read: number, total: number) => void = () => undefined): AsyncGenerator<ReadLine> {
  let total: number;
  let gzip: boolean;
  try {
    total = statSync(path).size;
    gzip = isGzip(path);
  } catch (error) {
    throw new CommandFailure(`cannot read ${path}: ${(error as Error).message}`);
  }
  const input = createReadStream(path);
  let read = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      read += chunk.length;
      onBytes(read, total);
      done(null, chunk);
    },
  });
  const counted = input.pipe(counter);
  const text = gzip ? counted.pipe(createGunzip()) : counted;
  const lines = createInterface({ input: text, crlfDelay: Infinity });
  const failure: { error?: Error } = {};
  const fail = (error: Error) => {
    failure.error ??= error;
    lines.close();
  };
  input.on('error', fail);
  text.on('error', fail);

  const hash = createHash('sha256');
  let number = 0;
  let events = 0;
  let rows = 0;
  let end: EndLine | undefined;
  try {
    for await (const line of lines) {
      number += 1;
      if (end) throw new CommandFailure(`line ${number}: more lines after the end line`);
      let parsed: unknown;
      try {
        parsed = JSON.parse(line);
      } catch {
        throw new CommandFailure(`line ${number}: not JSON (the file is damaged)`);
      }
      if (number === 1) {
        hash.update(`${line}\n`);
        yield { number, header: checkHeader(parsed) };
        continue;
      }
      if (isObject(parsed) && parsed.kind === 'end') {
        end = checkEnd(parsed, number);
        continue;
      }
      hash.update(`${line}\n`);
      const body = checkBody(parsed, number);
      if (body.kind === 'event') events += 1;
      if (body.kind === 'rows') rows += body.rows.length;
      yield { number, body };
    }
    if (failure.error) throw failure.error;
  } catch (error) {
    if (failure.error) throw new CommandFailure(`${path} could not be read to its end: ${failure.error.message} (the file is damaged or cut short)`);
    throw error;
  } finally {
    input.destroy();
  }
  if (number === 0) throw new CommandFailure(`${path} is empty`);
  if (!end) throw new CommandFailure(`${path} ends at line ${number} without its end line: the export was cut short`);
  if (end.lines !== number - 1 || end.events !== events || end.rows !== rows) {
    throw new CommandFailure(`the end line counts ${end.lines} lines, ${end.events} events and ${end.rows} rows, the file has ${number - 1}, ${events} and ${rows}`);
  }
  if (end.sha256 !== hash.digest('hex')) throw new CommandFailure('the checksum of the end line does not match the file: it was changed or damaged');
}

/** Whether the file starts with the gzip magic bytes. */
function isGzip(path: string): boolean {
  const fd = openSync(path, 'r');
  try {
    const magic = Buffer.alloc(2);
    return readSync(fd, magic, 0, 2, 0) === 2 && magic[0] === 0x1f && magic[1] === 0x8b;
  } finally {
    closeSync(fd);
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const DECIMAL = /^(0|[1-9][0-9]{0,18})$/;

function checkHeader(value: unknown): ExportHeader {
  if (!isObject(value) || value.format !== EXPORT_FORMAT) throw new CommandFailure('line 1: not an export of this homeserver (no hs-export header)');
  if (value.version !== EXPORT_VERSION) throw new CommandFailure(`line 1: export format version ${String(value.version)}; this server reads version ${EXPORT_VERSION}`);
  if (value.scope !== 'server' && value.scope !== 'room') throw new CommandFailure('line 1: scope must be "server" or "room"');
  if (typeof value.server_name !== 'string' || value.server_name.length === 0) throw new CommandFailure('line 1: no server_name');
  if (value.scope === 'room' && (typeof value.room_id !== 'string' || !value.room_id.startsWith('!') || value.room_id.length < 2)) throw new CommandFailure('line 1: a room export names its room_id');
  if (typeof value.store_head !== 'string' || !DECIMAL.test(value.store_head)) throw new CommandFailure('line 1: store_head must be a decimal string');
  return value as unknown as ExportHeader;
}

function checkEnd(value: Record<string, unknown>, number: number): EndLine {
  const counts = [value.events, value.rows, value.lines];
  if (!counts.every((n) => Number.isSafeInteger(n) && (n as number) >= 0) || typeof value.sha256 !== 'string') {
    throw new CommandFailure(`line ${number}: a malformed end line`);
  }
  return value as unknown as EndLine;
}

function checkBody(value: unknown, number: number): BodyLine {
  const bad = (what: string) => new CommandFailure(`line ${number}: ${what}`);
  if (!isObject(value)) throw bad('not an object');
  switch (value.kind) {
    case 'event': {
      for (const key of ['position', 'revision'] as const) {
        if (typeof value[key] !== 'string' || !DECIMAL.test(value[key] as string)) throw bad(`event ${key} must be a decimal string`);
      }
      for (const key of ['stream', 'id', 'type', 'recorded_at'] as const) {
        if (typeof value[key] !== 'string' || (value[key] as string).length === 0) throw bad(`event ${key} must be a non-empty string`);
      }
      if (!('data' in value)) throw bad('event without data');
      if (Number.isNaN(Date.parse(value.recorded_at as string))) throw bad('event recorded_at is not a time');
      return { ...(value as unknown as EventLine), metadata: (value.metadata ?? null) as JsonValue | null };
    }
    case 'rows':
      if (typeof value.table !== 'string') throw bad('rows without a table');
      if (!Array.isArray(value.rows) || !value.rows.every(isObject)) throw bad('rows must be an array of objects');
      return value as unknown as RowsLine;
    case 'sequence':
      if (typeof value.name !== 'string' || typeof value.value !== 'string' || !DECIMAL.test(value.value)) throw bad('a malformed sequence line');
      return value as unknown as SequenceLine;
    default:
      throw bad(`unknown line kind ${JSON.stringify(value.kind)}`);
  }
}

/** `schema.table` of {@link SERVER_TABLES} as a quoted identifier. */
export function tableIdentifier(name: string) {
  const [schema, table] = name.split('.');
  return sql.identifier([schema, table]);
}
