/** `admin audit-export`: the audit log as NDJSON, one entry per line, oldest first. */
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { AuditLog } from '@hs/admin';
import type { HomeserverConfig } from '@hs/config';
import { PostgresEventStore } from '@hs/eventstore';
import { migrate, openDatabase } from '@hs/persistence';

/** Writes every audit entry to `out` (a file path, or the given stream); resolves with the count. */
export async function runAuditExport(config: HomeserverConfig, out: string | NodeJS.WritableStream): Promise<number> {
  const db = await openDatabase({ dataDir: config.database.data_dir, url: config.database.url, maxConnections: 2 });
  const stream = typeof out === 'string' ? createWriteStream(out, { mode: 0o600 }) : out;
  try {
    await migrate(db);
    const store = await PostgresEventStore.open(db);
    let count = 0;
    try {
      for await (const entry of new AuditLog(store).all()) {
        if (!stream.write(`${JSON.stringify(entry)}\n`)) await once(stream, 'drain');
        count += 1;
      }
    } finally {
      await store.close();
    }
    return count;
  } finally {
    if (typeof out === 'string') {
      stream.end();
      await once(stream, 'finish');
    }
    await db.close();
  }
}
