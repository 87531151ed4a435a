/**
 * Child process of the durability suite: appends batches of three events in a loop and
 * prints one line per acknowledged append, until it is killed.
 * Usage: append-loop.ts pglite <dataDir> | append-loop.ts postgres <url>
 */
import { migrate, openDatabase } from '@hs/persistence';
import { PostgresEventStore } from '@hs/eventstore';

async function main(): Promise<void> {
  const [kind, target] = process.argv.slice(2);
  const db = await openDatabase(kind === 'postgres' ? { url: target, maxConnections: 2 } : { dataDir: target, maxConnections: 2 });
  await migrate(db);
  const store = await PostgresEventStore.open(db);
  process.stdout.write('ready\n');
  for (let batch = 0; ; batch++) {
    const ids = [0, 1, 2].map((i) => `$dur-${process.pid}-${batch}-${i}`);
    await store.append(
      `room-!dur${batch % 4}:example.org`,
      'any',
      ids.map((id, i) => ({ id, type: 'm.room.message', data: { batch, i, pid: process.pid } })),
    );
    process.stdout.write(`ack ${JSON.stringify(ids)}\n`);
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${String(error)}\n`);
  process.exit(1);
});
