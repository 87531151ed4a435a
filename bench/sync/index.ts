/**
 * Sync read-side benchmark on the embedded database (PGlite): how fast the sync projection
 * applies appended room events, how long a long-polling /sync takes to return a message
 * after its append (the notifier path), and the duration of an initial and an incremental
 * sync of a user in several busy rooms.
 *
 * Run: node -r ./test/support/register-ts.cjs bench/sync/index.ts
 * (BENCH_MESSAGES sets the number of messages projected, default 2000.)
 */
import { migrate, openDatabase } from '@hs/persistence';
import { PostgresEventStore, ProjectionRunner } from '@hs/eventstore';
import { SyncProjector, SyncQueries } from '@hs/projections/sync';
import { ReceiptsProjector } from '@hs/projections/receipts';
import { NoAccountData, SyncNotifier, SyncService, TypingStore } from '@hs/sync';
import { TestRoom } from '../../projections/sync/testing/test-room';

const MESSAGES = Number(process.env.BENCH_MESSAGES ?? 2000);
const ROOMS = 10;
const WAKES = 200;

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

async function main(): Promise<void> {
  const db = await openDatabase({ maxConnections: 8 });
  await migrate(db);
  const store = await PostgresEventStore.open(db);
  const wiring: { notifier?: SyncNotifier } = {};
  const runner = new ProjectionRunner(db, store, [new SyncProjector(), new ReceiptsProjector()], {
    onCheckpoint: (name, position, wrote, written) => wiring.notifier?.checkpointAdvanced(name, position, wrote, written),
  });
  const typing = new TypingStore();
  const notifier = new SyncNotifier(db.pool, typing, new NoAccountData());
  wiring.notifier = notifier;
  const service = new SyncService(new SyncQueries(db.pool), { typing, notifier, accountData: new NoAccountData() });

  const rooms: TestRoom[] = [];
  for (let i = 0; i < ROOMS; i++) {
    const room = await TestRoom.create(store, '@alice:bench.local');
    await room.join('@bob:bench.local');
    rooms.push(room);
  }

  // 1. Projection throughput: messages appended beforehand, then the runner catches up.
  for (let i = 0; i < MESSAGES; i++) await rooms[i % ROOMS].message('@alice:bench.local', `message ${i}`);
  const head = await store.headPosition();
  const started = performance.now();
  await runner.start();
  await runner.waitFor(head, 'sync');
  const seconds = (performance.now() - started) / 1000;
  const total = MESSAGES + ROOMS * 6;
  console.log(`sync projection catch-up: ${total} events in ${seconds.toFixed(2)} s = ${Math.round(total / seconds)} events/s`);

  // 2. Initial and incremental sync of a user in every room.
  let t = performance.now();
  const initial = await service.sync({ userId: '@bob:bench.local', deviceId: 'BENCH' });
  console.log(`initial sync (${ROOMS} rooms, ${MESSAGES / ROOMS} messages each): ${(performance.now() - t).toFixed(1)} ms`);
  t = performance.now();
  const idle = await service.sync({ userId: '@bob:bench.local', deviceId: 'BENCH', since: initial.next_batch });
  console.log(`incremental sync with nothing new: ${(performance.now() - t).toFixed(1)} ms`);

  // 3. Append-to-wake latency of a long-polling sync.
  let since = idle.next_batch;
  const latencies: number[] = [];
  for (let i = 0; i < WAKES; i++) {
    const waiting = service.sync({ userId: '@bob:bench.local', deviceId: 'BENCH', since, timeoutMs: 30_000 });
    while (notifier.waiting < 1) await new Promise((resolve) => setImmediate(resolve));
    const sentAt = performance.now();
    await rooms[i % ROOMS].message('@alice:bench.local', `wake ${i}`);
    const response = await waiting;
    latencies.push(performance.now() - sentAt);
    since = response.next_batch;
  }
  latencies.sort((a, b) => a - b);
  console.log(
    `send-to-sync delivery over ${WAKES} messages (append, projection, notifier, sync): p50 ${percentile(latencies, 50).toFixed(1)} ms, p99 ${percentile(latencies, 99).toFixed(1)} ms`,
  );

  notifier.close();
  typing.close();
  await runner.stop();
  await store.close();
  await db.close();
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
