/**
 * Scale-out benchmark: the client-server load of bench/cs-api (10 users, each in the 10 rooms,
 * one long-polling /sync client per user, one sender per room back to back) against the
 * homeserver as one process (every role, no Kafka) and as 1, 2 or 4 processes with the roles
 * client and room-writer beside one projector process (and the background roles), on one
 * PostgreSQL database and a real Kafka broker (test/scale-out/install-kafka.sh). Users are
 * spread over the client processes; each talks to its own.
 *
 * Prints, per topology: messages per second, send latency p50/p99, send-to-sync delivery
 * p50/p99, CPU per message of each process, of PostgreSQL and of the broker, and how busy the
 * machine was. The first two topologies differ only by the Kafka hop (a room command and its
 * answer, the projector's positions to the client process): their delivery p99 shows what it
 * adds. Topologies alternate over BENCH_ROUNDS rounds.
 *
 * Run: BENCH_DATABASE_URL=postgres://… node -r ./test/support/register-ts.cjs bench/scale-out/index.ts
 *   BENCH_SECONDS=15         length of each measured load
 *   BENCH_TOPOLOGIES=0,1,2,4 0: one process without Kafka; N: N client/room-writer processes and a projector
 *   BENCH_ROUNDS=1           rounds over the topologies
 *   BENCH_ENTRY=dist         run the built server (npm run build) instead of the sources
 *   BENCH_BROKER_WARMUP_SECONDS=30 a first, unreported load on topology 1, so that the broker's
 *                            JIT has compiled its hot paths before anything is measured (0: none)
 *   BENCH_RATE=50            messages per second over all senders, paced (default 0: back to
 *                            back); below saturation, the delivery of topology 0 and 1 differ by
 *                            the Kafka hop alone
 */
import { cpus } from 'node:os';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTemporaryDatabase, type TemporaryDatabase } from '@hs/persistence';
import { call, registerUser, type TestUser } from '@hs/testing';
import { startServer, type TestServer } from '../../test/e2e/support/server';
import { startKafkaBroker, type KafkaBroker } from '../../test/support/kafka-broker';
import { commandCpuSeconds, loadClient, machineCpuSeconds, percentile, processCpuSeconds, sleep, type LoadClient } from '../support/measure';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 15);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 1);
const TOPOLOGIES = (process.env.BENCH_TOPOLOGIES ?? '0,1,2,4').split(',').map(Number);
const RATE = Number(process.env.BENCH_RATE ?? 0);
const USERS = 10;
const WARMUP_MS = 2000;

interface SyncBody {
  next_batch: string;
  rooms?: { join?: Record<string, { timeline?: { events?: { type: string; content: { bench_sent_at?: number } }[] } }> };
}

interface Topology {
  label: string;
  clients: TestServer[];
  others: Array<{ name: string; server: TestServer }>;
  stop(): Promise<void>;
}

async function startTopology(n: number, databaseUrl: string, broker: KafkaBroker): Promise<Topology> {
  const dir = mkdtempSync(join(tmpdir(), 'hs-bench-scale-out-'));
  const entry = process.env.BENCH_ENTRY === 'dist' ? 'dist' : 'ts';
  const common = { dir, databaseUrl, entry, keepLines: 50 } as const;
  const started: TestServer[] = [];
  const stop = async () => {
    await Promise.allSettled(started.map((server) => server.stop()));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    if (n === 0) {
      const single = await startServer({ ...common, logLevel: 'warn' });
      started.push(single);
      return { label: 'one process, no Kafka', clients: [single], others: [], stop };
    }
    const env = {
      HS_KAFKA__BROKERS: JSON.stringify([broker.bootstrap]),
      HS_KAFKA__TOPIC_PREFIX: `bench.${randomBytes(3).toString('hex')}.`,
      HS_KAFKA__PARTITIONS: '8',
      HS_LOGGING__LEVEL: 'info',
    };
    // info: the ready line of a process without the client listener; the client processes run at warn.
    const projector = await startServer({ ...common, readyMessage: 'homeserver running', env: { ...env, HS_ROLES: '["projector","federation","pusher","appservice-sender"]' } });
    started.push(projector);
    const clients = await Promise.all(
      Array.from({ length: n }, () => startServer({ ...common, logLevel: 'warn', env: { ...env, HS_LOGGING__LEVEL: 'warn', HS_ROLES: '["client","room-writer"]' } })),
    );
    started.push(...clients);
    return { label: `${n} client/room-writer process${n > 1 ? 'es' : ''} + projector, Kafka`, clients, others: [{ name: 'projector', server: projector }], stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

async function run(topology: Topology, seconds = SECONDS): Promise<string[]> {
  const urlOf = (i: number) => topology.clients[i % topology.clients.length].url;
  const users: TestUser[] = [];
  for (let i = 0; i < USERS; i++) users.push(await registerUser(urlOf(i), `bench${i}_`));
  const rooms: string[] = [];
  for (const [i, user] of users.entries()) {
    const created = await call<{ room_id: string }>(urlOf(i), 'POST', 'createRoom', { token: user.token, body: { preset: 'public_chat' } });
    if (created.status !== 200) throw new Error(`createRoom: ${created.status} ${JSON.stringify(created.body)}`);
    rooms.push(created.body.room_id);
  }
  for (const [i, user] of users.entries()) {
    for (const roomId of rooms) {
      const joined = await call(urlOf(i), 'POST', `join/${encodeURIComponent(roomId)}`, { token: user.token, body: {} });
      if (joined.status !== 200) throw new Error(`join: ${joined.status} ${JSON.stringify(joined.body)}`);
    }
  }
  const clients: LoadClient[] = topology.clients.map((server) => loadClient(server.url, 2 * USERS + 2));
  const http = (i: number) => clients[i % clients.length];
  let measuring = false;
  let running = true;
  const deliveries: number[] = [];
  const filter = JSON.stringify({ room: { timeline: { limit: 200 }, state: { lazy_load_members: true } }, presence: { types: [] } });
  const syncLoops = users.map(async (user, i) => {
    const first = await http(i).request<SyncBody>('GET', 'sync', user.token, { filter, timeout: '0' });
    let since = first.body.next_batch;
    while (running) {
      const response = await http(i).request<SyncBody>('GET', 'sync', user.token, { filter, timeout: '5000', since });
      const received = Date.now();
      if (response.status !== 200) {
        await sleep(100);
        continue;
      }
      since = response.body.next_batch;
      for (const room of Object.values(response.body.rooms?.join ?? {})) {
        for (const event of room.timeline?.events ?? []) {
          const sentAt = event.content.bench_sent_at;
          if (measuring && event.type === 'm.room.message' && typeof sentAt === 'number') deliveries.push(received - sentAt);
        }
      }
    }
  });
  await sleep(3000);
  const sendLatencies: number[] = [];
  let sent = 0;
  let sendErrors = 0;
  let sending = true;
  // Paced: each sender starts a message every USERS / RATE seconds (offset from the others).
  const interval = RATE > 0 ? (USERS * 1000) / RATE : 0;
  const senders = users.map(async (user, i) => {
    let n = 0;
    let due = performance.now() + (interval * i) / USERS;
    while (sending) {
      if (interval > 0) {
        const wait = due - performance.now();
        if (wait > 0) await sleep(wait);
        due += interval;
        if (!sending) break;
      }
      const sentAt = Date.now();
      const response = await http(i).request('PUT', `rooms/${encodeURIComponent(rooms[i])}/send/m.room.message/b${i}-${n++}`, user.token, undefined, {
        msgtype: 'm.text',
        body: `bench ${n}`,
        bench_sent_at: sentAt,
      });
      if (response.status !== 200) {
        sendErrors += 1;
        continue;
      }
      if (measuring) {
        sendLatencies.push(Date.now() - sentAt);
        sent += 1;
      }
    }
  });
  await sleep(WARMUP_MS);
  const processes = [...topology.clients.map((server, i) => ({ name: `client ${i + 1}`, server })), ...topology.others];
  measuring = true;
  const started = Date.now();
  const before = {
    processes: processes.map((p) => processCpuSeconds(p.server.pid)),
    postgres: commandCpuSeconds('postgres'),
    java: commandCpuSeconds('java'),
    machine: machineCpuSeconds(),
  };
  await sleep(seconds * 1000);
  measuring = false;
  const elapsed = (Date.now() - started) / 1000;
  const machine = machineCpuSeconds();
  const cpu = {
    processes: processes.map((p, i) => processCpuSeconds(p.server.pid) - before.processes[i]),
    postgres: commandCpuSeconds('postgres') - before.postgres,
    java: commandCpuSeconds('java') - before.java,
    busy: (machine.busy - before.machine.busy) / (machine.total - before.machine.total),
  };
  sending = false;
  await Promise.all(senders);
  await sleep(500);
  running = false;
  await Promise.all(syncLoops);
  await Promise.all(clients.map((client) => client.close()));
  sendLatencies.sort((a, b) => a - b);
  deliveries.sort((a, b) => a - b);
  const perMessage = (seconds: number) => (sent > 0 ? ((seconds * 1000) / sent).toFixed(2) : '-');
  return [
    `${topology.label}:`,
    `  messages/s ${(sent / elapsed).toFixed(0)} (${sent} in ${elapsed.toFixed(1)} s, ${sendErrors} send errors); send p50 ${percentile(sendLatencies, 50)} ms, p99 ${percentile(sendLatencies, 99)} ms; ` +
      `delivery p50 ${percentile(deliveries, 50)} ms, p99 ${percentile(deliveries, 99)} ms (${deliveries.length} deliveries)`,
    `  CPU ms/message: ${processes.map((p, i) => `${p.name} ${perMessage(cpu.processes[i])} (${((cpu.processes[i] / elapsed) * 100).toFixed(0)}% of a core)`).join(', ')}, ` +
      `PostgreSQL ${perMessage(cpu.postgres)}, Kafka broker ${perMessage(cpu.java)}; machine ${(cpu.busy * 100).toFixed(0)}% busy over ${cpus().length} CPUs`,
  ];
}

async function main(): Promise<void> {
  if (!process.env.BENCH_DATABASE_URL) throw new Error('BENCH_DATABASE_URL is needed: the processes share one PostgreSQL database');
  const broker = await startKafkaBroker({ quickStart: false });
  console.log(
    `scale-out benchmark: ${USERS} senders/rooms, ${USERS} members per room, ${USERS} syncing clients, ${RATE > 0 ? `${RATE} messages/s paced` : 'back to back'}, ${SECONDS} s per load, topologies ${TOPOLOGIES.join(', ')}, ${ROUNDS} round(s)`,
  );
  try {
    const warmup = Number(process.env.BENCH_BROKER_WARMUP_SECONDS ?? 30);
    if (warmup > 0 && TOPOLOGIES.some((n) => n > 0)) {
      const database = await createTemporaryDatabase(process.env.BENCH_DATABASE_URL, 'hs_bench_scale_out');
      const topology = await startTopology(1, database.url, broker).catch(async (error: unknown) => {
        await database.drop();
        throw error;
      });
      try {
        await run(topology, warmup);
        console.log(`(the broker was warmed up with ${warmup} s of load on topology 1, not reported)`);
      } finally {
        await topology.stop();
        await database.drop();
      }
    }
    for (let round = 1; round <= ROUNDS; round++) {
      for (const n of TOPOLOGIES) {
        let database: TemporaryDatabase | undefined;
        let topology: Topology | undefined;
        try {
          database = await createTemporaryDatabase(process.env.BENCH_DATABASE_URL, 'hs_bench_scale_out');
          topology = await startTopology(n, database.url, broker);
          const lines = await run(topology);
          console.log(`round ${round}, ${lines.join('\n')}`);
        } finally {
          await topology?.stop();
          await database?.drop();
        }
      }
    }
  } finally {
    await broker.stop();
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
