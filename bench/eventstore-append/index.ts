/**
 * Event-store append benchmark: appends per second for 1 and 8 concurrent writers (each on
 * its own stream, one event per append, exact expected revision), next to plain single-row
 * INSERTs into an ordinary table measured in the same run with the same writers.
 * PGlite always (a fresh temporary data folder); PostgreSQL when BENCH_DATABASE_URL is set
 * (a temporary database is created beside it and dropped afterwards).
 *
 * Run: npm run bench:eventstore    (BENCH_SECONDS sets the length of each measurement, default 3)
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'slonik';
import { createTemporaryDatabase, migrate, openDatabase, type Database } from '@hs/persistence';
import { PostgresEventStore } from '@hs/eventstore';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
const WRITER_COUNTS = [1, 8];

interface Row {
  backend: string;
  writers: number;
  rawPerSecond: number;
  appendsPerSecond: number;
}

async function measure(writers: number, operation: (writer: number, n: number) => Promise<void>): Promise<number> {
  const deadline = Date.now() + SECONDS * 1000;
  let done = 0;
  const started = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: writers }, async (_, writer) => {
      for (let n = 0; Date.now() < deadline; n++) {
        await operation(writer, n);
        done++;
      }
    }),
  );
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return done / seconds;
}

async function run(backend: string, db: Database): Promise<Row[]> {
  await migrate(db);
  const store = await PostgresEventStore.open(db);
  await db.pool.query(sql.unsafe`CREATE TABLE IF NOT EXISTS public.bench_raw (id bigserial PRIMARY KEY, stream text NOT NULL, data json NOT NULL)`);
  const rows: Row[] = [];
  const payload = JSON.stringify({ msgtype: 'm.text', body: 'hello benchmark' });
  for (const writers of WRITER_COUNTS) {
    const rawPerSecond = await measure(writers, async (writer) => {
      await db.pool.query(sql.unsafe`INSERT INTO public.bench_raw (stream, data) VALUES (${`w${writer}`}, ${payload}::json)`);
    });
    const prefix = `room-!bench${writers}x${Date.now()}`;
    const revisions = new Map<number, bigint | 'no_stream'>();
    const appendsPerSecond = await measure(writers, async (writer, n) => {
      const result = await store.append(`${prefix}-${writer}:bench`, revisions.get(writer) ?? 'no_stream', [
        { id: `$${prefix}-${writer}-${n}`, type: 'm.room.message', data: { msgtype: 'm.text', body: 'hello benchmark' } },
      ]);
      revisions.set(writer, result.nextExpectedRevision);
    });
    rows.push({ backend, writers, rawPerSecond, appendsPerSecond });
  }
  await store.close();
  return rows;
}

function printTable(rows: Row[]): void {
  const header = ['backend', 'writers', 'raw INSERT/s', 'appends/s', 'appends / raw'];
  const body = rows.map((r) => [
    r.backend,
    String(r.writers),
    r.rawPerSecond.toFixed(0),
    r.appendsPerSecond.toFixed(0),
    (r.appendsPerSecond / r.rawPerSecond).toFixed(2),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padStart(widths[i])).join('  ');
  console.log(line(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const b of body) console.log(line(b));
}

async function main(): Promise<void> {
  const rows: Row[] = [];
  const dataDir = mkdtempSync(join(tmpdir(), 'hs-bench-'));
  const pglite = await openDatabase({ dataDir, maxConnections: 8 });
  try {
    rows.push(...(await run('pglite', pglite)));
  } finally {
    await pglite.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
  const url = process.env.BENCH_DATABASE_URL;
  if (url) {
    const temporary = await createTemporaryDatabase(url, 'hs_bench');
    const postgres = await openDatabase({ url: temporary.url, maxConnections: 8 });
    try {
      rows.push(...(await run('postgres', postgres)));
    } finally {
      await postgres.close();
      await temporary.drop();
    }
  } else {
    console.log('BENCH_DATABASE_URL is not set: PostgreSQL not measured');
  }
  console.log(`eventstore-append: ${SECONDS} s per measurement, one event per append`);
  printTable(rows);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
