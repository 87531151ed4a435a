/** `admin audit-export`: the audit log as NDJSON, one entry per line, oldest first. */
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { AuditLog } from '@hs/admin';
import type { HomeserverConfig } from '@hs/config';
import { withStore } from './store';

/** Writes every audit entry to `out` (a file path, or the given stream); resolves with the count. */
export async function runAuditExport(config: HomeserverConfig, out: string | NodeJS.WritableStream): Promise<number> {
  const stream = typeof out === 'string' ? createWriteStream(out, { mode: 0o600 }) : out;
  try {
    return await withStore(config, 2, async (_db, store) => {
      let count = 0;
      for await (const entry of new AuditLog(store).all()) {
        if (!stream.write(`${JSON.stringify(entry)}\n`)) await once(stream, 'drain');
        count += 1;
      }
      return count;
    });
  } finally {
    if (typeof out === 'string') {
      stream.end();
      await once(stream, 'finish');
    }
  }
}
