/**
 * Write-path benchmark of the room writer, without HTTP and without projections: 10 users each
 * create a room and join the others' (10 rooms of 10 members), then 10 senders (one per room)
 * send `m.room.message` events with transaction ids back to back through the command bus for
 * BENCH_SECONDS. Prints messages per second, send latency p50/p99, and CPU milliseconds per
 * message of this process and of the database server's backends (PostgreSQL on this machine,
 * read from /proc).
 *
 * Run: node -r ./test/support/register-ts.cjs bench/room-write/index.ts
 *   BENCH_DATABASE_URL=postgres://…  PostgreSQL (a temporary database beside it), else PGlite
 *   BENCH_SECONDS=10                 length of the measured load
 *   BENCH_DB_CONNECTIONS=10          pool size
 *   BENCH_MEMBERS=10                 members per room (the 10 senders, then others who only join)
 */
import { readdirSync, readFileSync } from 'node:fs';
import { CommandBus, CqrsModule } from '@nestjs/cqrs';
import { Test } from '@nestjs/testing';
import { PostgresEventStore } from '@hs/eventstore';
import { createTemporaryDatabase, migrate, openDatabase, type TemporaryDatabase } from '@hs/persistence';
import { signingKeyFromSeed } from '@hs/protocol';
import { CreateRoom, JoinRoom, RoomModule, SendRoomEvent } from '@hs/room';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const USERS = 10;
const SERVER_NAME = 'bench.example.org';
const TICK_MS = 1000 / 100;
const MEMBERS = Math.max(USERS, Number(process.env.BENCH_MEMBERS ?? USERS));

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

/** CPU time (ms) so far of each PostgreSQL backend serving `database`, from /proc (none when not visible). */
function databaseBackendsCpuMs(database: string): Map<string, number> {
  const cpu = new Map<string, number>();
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      if (!cmdline.startsWith('postgres') || !cmdline.includes(database)) continue;
      const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
      cpu.set(pid, (Number(fields[11]) + Number(fields[12])) * TICK_MS);
    } catch {
      // the process ended meanwhile
    }
  }
  return cpu;
}

/**
 * The CPU the database's backends use from now until `stop()`: sampled every 200 ms so that a
 * backend that exits meanwhile (the pool closes idle connections) still counts up to its last sample.
 */
function databaseCpuMeter(database: string | undefined): { stop(): number } {
  if (!database) return { stop: () => NaN };
  const start = databaseBackendsCpuMs(database);
  const last = new Map(start);
  const sample = () => {
    for (const [pid, ms] of databaseBackendsCpuMs(database)) last.set(pid, ms);
  };
  const timer = setInterval(sample, 200);
  return {
    stop() {
      clearInterval(timer);
      sample();
      let total = 0;
      for (const [pid, ms] of last) total += ms - (start.get(pid) ?? 0);
      return total;
    },
  };
}

async function main(): Promise<void> {
  let temporary: TemporaryDatabase | undefined;
  if (process.env.BENCH_DATABASE_URL) temporary = await createTemporaryDatabase(process.env.BENCH_DATABASE_URL, 'hs_bench_room');
  const maxConnections = Number(process.env.BENCH_DB_CONNECTIONS ?? 10);
  const db = await openDatabase(temporary ? { url: temporary.url, maxConnections } : { maxConnections });
  try {
    await migrate(db);
    const store = await PostgresEventStore.open(db);
    const module = await Test.createTestingModule({
      imports: [
        CqrsModule.forRoot(),
        RoomModule.forRoot({
          dependencies: {
            pool: db.pool,
            store,
            serverName: SERVER_NAME,
            signingKey: signingKeyFromSeed(new Uint8Array(32).fill(3), 'ed25519:bench'),
            clock: Date.now,
          },
        }),
      ],
    }).compile();
    await module.init();
    const bus = module.get(CommandBus);
    const users = Array.from({ length: USERS }, (_, i) => `@bench${i}:${SERVER_NAME}`);
    const rooms: string[] = [];
    for (const user of users) rooms.push((await bus.execute(new CreateRoom(user, { preset: 'public_chat' }))).roomId);
    for (const user of users) for (const roomId of rooms) await bus.execute(new JoinRoom(user, roomId));
    for (let i = USERS; i < MEMBERS; i++) {
      await Promise.all(rooms.map((roomId) => bus.execute(new JoinRoom(`@member${i}:${SERVER_NAME}`, roomId))));
    }

    const databaseName = temporary ? new URL(temporary.url).pathname.slice(1) : undefined;
    const latencies: number[] = [];
    let running = true;
    let sent = 0;
    const send = async (i: number) => {
      for (let n = 0; running; n++) {
        const started = performance.now();
        await bus.execute(new SendRoomEvent(users[i], rooms[i], 'm.room.message', { msgtype: 'm.text', body: `message ${n}` }, { txn: { deviceId: 'BENCH', txnId: `t${n}` } }));
        latencies.push(performance.now() - started);
        sent++;
      }
    };
    // Warm-up, then the measured window.
    const senders = users.map((_, i) => send(i));
    await new Promise((resolve) => setTimeout(resolve, 1000));
    latencies.length = 0;
    sent = 0;
    const cpuBefore = process.cpuUsage();
    const dbMeter = databaseCpuMeter(databaseName);
    const started = performance.now();
    await new Promise((resolve) => setTimeout(resolve, SECONDS * 1000));
    const count = sent;
    const elapsed = (performance.now() - started) / 1000;
    const cpu = process.cpuUsage(cpuBefore);
    const dbCpu = dbMeter.stop();
    running = false;
    await Promise.all(senders);
    latencies.sort((a, b) => a - b);
    console.log(`room-write benchmark: ${temporary ? 'PostgreSQL' : 'PGlite'}, ${USERS} rooms of ${MEMBERS} members, ${USERS} senders, ${SECONDS} s, pool ${maxConnections}`);
    console.log(`messages/s:        ${(count / elapsed).toFixed(0)}  (${count} messages)`);
    console.log(`send latency:      p50 ${percentile(latencies, 50).toFixed(1)} ms, p99 ${percentile(latencies, 99).toFixed(1)} ms`);
    console.log(`CPU per message:   this process ${((cpu.user + cpu.system) / 1000 / count).toFixed(3)} ms, database backends ${temporary ? (dbCpu / count).toFixed(3) : '-'} ms`);
    await module.close();
    await store.close();
  } finally {
    await db.close();
    await temporary?.drop();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
