import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createTemporaryDatabase, migrate, openDatabase, type Database } from '@hs/persistence';
import { PostgresEventStore, type RecordedEvent } from '@hs/eventstore';

const root = resolve(__dirname, '..', '..');

/** Runs the append loop in a child process, SIGKILLs it after `acks` acknowledged appends. */
async function appendThenKill(kind: 'pglite' | 'postgres', target: string, acks: number): Promise<string[][]> {
  const child = spawn(
    process.execPath,
    ['-r', join(root, 'test/support/register-ts.cjs'), join(root, 'test/durability/append-loop.ts'), kind, target],
    { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const acknowledged: string[][] = [];
  let stderr = '';
  let buffer = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  await new Promise<void>((resolvePromise, reject) => {
    child.on('exit', (code, signal) => {
      if (signal === 'SIGKILL') resolvePromise();
      else reject(new Error(`append loop exited early (${code}): ${stderr}`));
    });
    child.stdout.on('data', (d: Buffer) => {
      buffer += d.toString();
      const lines = buffer.split('\n');
      buffer = lines.pop() ?? '';
      for (const line of lines) {
        if (!line.startsWith('ack ')) continue;
        acknowledged.push(JSON.parse(line.slice(4)) as string[]);
        // Kill in the middle of the stream, while further appends are in flight.
        if (acknowledged.length === acks) child.kill('SIGKILL');
      }
    });
  });
  return acknowledged;
}

async function readEverything(store: PostgresEventStore): Promise<RecordedEvent[]> {
  // Events show once every older transaction in the cluster has ended (other sessions may share it).
  await store.settled(10_000);
  const all: RecordedEvent[] = [];
  let position = 0n;
  while (true) {
    const page = await store.readAll({ fromPosition: position, limit: 1000 });
    if (page.length === 0) return all;
    all.push(...page);
    position = page[page.length - 1].position;
  }
}

function checkAppends(events: RecordedEvent[], acknowledged: string[][]): void {
  const ids = new Set(events.map((e) => e.id));
  const missing = acknowledged.flat().filter((id) => !ids.has(id));
  expect(missing).toEqual([]);
  // No partial append: every batch present is present whole.
  const perBatch = new Map<string, number>();
  for (const e of events) {
    const key = e.id.replace(/-\d+$/, '');
    perBatch.set(key, (perBatch.get(key) ?? 0) + 1);
  }
  for (const count of perBatch.values()) expect(count).toBe(3);
  expect(perBatch.size).toBeGreaterThanOrEqual(acknowledged.length);
  // Positions still strictly increase, revisions per stream have no holes.
  for (let i = 1; i < events.length; i++) expect(events[i].position).toBeGreaterThan(events[i - 1].position);
  const revisions = new Map<string, bigint>();
  for (const e of events) {
    const next = (revisions.get(e.stream) ?? -1n) + 1n;
    expect(e.revision).toBe(next);
    revisions.set(e.stream, next);
  }
}

describe('durability: SIGKILL in the middle of appending', () => {
  it('PGlite: the data folder reopens with every acknowledged append and no partial one', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'hs-durability-'));
    const acknowledged = await appendThenKill('pglite', dataDir, 40);
    let db: Database | undefined;
    try {
      db = await openDatabase({ dataDir });
      await migrate(db);
      const store = await PostgresEventStore.open(db);
      checkAppends(await readEverything(store), acknowledged);
      // The store takes appends again after the crash.
      await store.append('room-!after:example.org', 'no_stream', [{ id: '$after-crash', type: 't', data: {} }]);
      await store.close();
    } finally {
      await db?.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  const url = process.env.TEST_DATABASE_URL;
  if (url) {
    it('PostgreSQL: every acknowledged append survives and no partial one exists', async () => {
      const temporary = await createTemporaryDatabase(url, 'hs_durability');
      try {
        const acknowledged = await appendThenKill('postgres', temporary.url, 60);
        const db = await openDatabase({ url: temporary.url, maxConnections: 2 });
        const store = await PostgresEventStore.open(db);
        checkAppends(await readEverything(store), acknowledged);
        await store.close();
        await db.close();
      } finally {
        await temporary.drop();
      }
    });
  }
});
