/**
 * Client-server API benchmark over real HTTP against the homeserver started as a process
 * (its `main`, a generated configuration, rate limits off): 10 users each create a room and
 * join the 9 others, so every room has 10 members; each user runs one long-polling /sync
 * client; then 10 senders (one per room) send messages back to back for BENCH_SECONDS.
 *
 * Beside them, BENCH_READ_CLIENTS (default 1) read-after-write clients, each its own user in its
 * own room, send a message and then at once read it back, alternately with GET
 * /rooms/{id}/event/{eventId} and GET /rooms/{id}/messages?dir=b&limit=1; their reads wait
 * until the read models have applied the send (read_consistency), which the read's latency shows.
 *
 * Prints: messages per second sustained, send latency p50/p99 (PUT /send round trip),
 * send-to-sync delivery p50/p99 (from the start of the PUT until a member's /sync returns the
 * event, over every member of the room), the latency of a read right after a send p50/p99 and
 * how many such reads did not see the send, the server's resident memory (VmRSS) idle (after
 * set-up and some quiet seconds) and the highest seen under load, and CPU per message.
 *
 * Run: node -r ./test/support/register-ts.cjs bench/cs-api/index.ts
 *   BENCH_DATABASE_URL=postgres://…  PostgreSQL (a temporary database beside it), else PGlite
 *   BENCH_SECONDS=20                 length of the measured load
 *   BENCH_ENTRY=dist                 run the built server (npm run build) instead of the sources
 *   BENCH_SYNC_CLIENTS=10            how many of the users run a syncing client (default all)
 *   BENCH_DB_CONNECTIONS=10          the server's database.max_connections (default: the configuration's)
 *   BENCH_LOG_LEVEL=info             the server's logging.level (default warn; info logs every request)
 *   BENCH_NODE_ARGS='--cpu-prof'     extra node arguments for the server process (space separated)
 *   BENCH_IDLE_SECONDS=40            how long the server stays quiet (syncing clients long-polling)
 *                                    before its idle memory is read; 0 reads it right after set-up
 *   BENCH_ANALYZE=0                  skip the ANALYZE of the fresh PostgreSQL database after set-up
 *   BENCH_READ_CLIENTS=1             read-after-write clients (0: none)
 *   BENCH_READ_CONSISTENCY=0         run the server with read_consistency.enabled false
 *   BENCH_PRESENCE=0                 run the server with presence.enabled false
 *                                    (HS_READ_CONSISTENCY__ENABLED=false): reads do not wait
 *                                    for the read models, to compare with the rule on
 */
import { cpus } from 'node:os';
import { Client } from 'pg';
import { createTemporaryDatabase, type TemporaryDatabase } from '@hs/persistence';
import { registerUser, call, type TestUser } from '@hs/testing';
import { residentKb, startServer, type TestServer } from '../../test/e2e/support/server';
import { commandCpuSeconds, loadClient, machineCpuSeconds, percentile, processCpuSeconds, sleep } from '../support/measure';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 20);
const USERS = 10;
const WARMUP_MS = 2000;
const SYNC_CLIENTS = Math.min(USERS, Number(process.env.BENCH_SYNC_CLIENTS ?? USERS));
const READ_CLIENTS = Number(process.env.BENCH_READ_CLIENTS ?? 1);
const READ_CONSISTENCY = process.env.BENCH_READ_CONSISTENCY !== '0';
/** BENCH_PRESENCE=0 runs the server with presence off (to measure what presence costs sends and syncs). */
const PRESENCE = process.env.BENCH_PRESENCE !== '0';

interface SyncBody {
  next_batch: string;
  rooms?: { join?: Record<string, { timeline?: { events?: { type: string; content: { bench_sent_at?: number } }[]; limited?: boolean } }> };
}

/** Gathers the planner's statistics of every table of the database. */
async function analyze(url: string): Promise<void> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    await client.query('ANALYZE');
  } finally {
    await client.end();
  }
}

async function main(): Promise<void> {
  let database: TemporaryDatabase | undefined;
  if (process.env.BENCH_DATABASE_URL) database = await createTemporaryDatabase(process.env.BENCH_DATABASE_URL, 'hs_bench_cs');
  const backend = database ? 'PostgreSQL' : 'PGlite (embedded)';
  let server: TestServer | undefined;
  try {
    server = await startServer({
      databaseUrl: database?.url,
      entry: process.env.BENCH_ENTRY === 'dist' ? 'dist' : 'ts',
      nodeArgs: (process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean),
      logLevel: process.env.BENCH_LOG_LEVEL === 'info' ? 'info' : 'warn',
      env: {
        ...(process.env.BENCH_DB_CONNECTIONS ? { HS_DATABASE__MAX_CONNECTIONS: process.env.BENCH_DB_CONNECTIONS } : {}),
        ...(READ_CONSISTENCY ? {} : { HS_READ_CONSISTENCY__ENABLED: 'false' }),
        ...(PRESENCE ? {} : { HS_PRESENCE__ENABLED: 'false' }),
      },
    });
    const url = server.url;
    console.log(
      `cs-api benchmark: ${backend}, log level ${process.env.BENCH_LOG_LEVEL === 'info' ? 'info' : 'warn'}, ${USERS} senders/rooms, ${USERS} members per room, ` +
        `${SYNC_CLIENTS} syncing clients, ${READ_CLIENTS} read-after-write clients, read consistency ${READ_CONSISTENCY ? 'on' : 'off'}, presence ${PRESENCE ? 'on' : 'off'}, ${SECONDS} s of load, server pid ${server.pid}`,
    );

    const users: TestUser[] = [];
    for (let i = 0; i < USERS; i++) users.push(await registerUser(url, `bench${i}_`));
    const rooms: string[] = [];
    for (const user of users) {
      const created = await call<{ room_id: string }>(url, 'POST', 'createRoom', { token: user.token, body: { preset: 'public_chat' } });
      if (created.status !== 200) throw new Error(`createRoom: ${created.status} ${JSON.stringify(created.body)}`);
      rooms.push(created.body.room_id);
    }
    for (const user of users) {
      for (const roomId of rooms) {
        const joined = await call(url, 'POST', `join/${encodeURIComponent(roomId)}`, { token: user.token, body: {} });
        if (joined.status !== 200) throw new Error(`join: ${joined.status} ${JSON.stringify(joined.body)}`);
      }
    }

    // Read-after-write clients: each its own user in its own room.
    const readers: { user: TestUser; roomId: string }[] = [];
    for (let i = 0; i < READ_CLIENTS; i++) {
      const user = await registerUser(url, `reader${i}_`);
      const created = await call<{ room_id: string }>(url, 'POST', 'createRoom', { token: user.token, body: { preset: 'private_chat' } });
      if (created.status !== 200) throw new Error(`createRoom: ${created.status} ${JSON.stringify(created.body)}`);
      readers.push({ user, roomId: created.body.room_id });
    }

    const http = loadClient(url, SYNC_CLIENTS + USERS + READ_CLIENTS + 2);
    // One long-polling sync client per user.
    let measuring = false;
    let running = true;
    const deliveries: number[] = [];
    let limitedResponses = 0;
    let syncResponses = 0;
    let syncErrors = 0;
    const filter = JSON.stringify({ room: { timeline: { limit: 200 }, state: { lazy_load_members: true } }, presence: { types: [] } });
    const syncLoops = users.slice(0, SYNC_CLIENTS).map(async (user) => {
      const first = await http.request<SyncBody>('GET', 'sync', user.token, { filter, timeout: '0' });
      let since: string = first.body.next_batch;
      while (running) {
        const response = await http.request<SyncBody>('GET', 'sync', user.token, { filter, timeout: '5000', since });
        const received = Date.now();
        if (response.status !== 200) {
          syncErrors += 1;
          await sleep(100);
          continue;
        }
        since = response.body.next_batch;
        if (measuring) syncResponses += 1;
        for (const room of Object.values(response.body.rooms?.join ?? {})) {
          if (room.timeline?.limited) limitedResponses += 1;
          for (const event of room.timeline?.events ?? []) {
            const sentAt = event.content.bench_sent_at;
            if (measuring && event.type === 'm.room.message' && typeof sentAt === 'number') deliveries.push(received - sentAt);
          }
        }
      }
    });

    await sleep(1000);
    // A fresh database has no statistics: plans cached while its tables were nearly empty
    // (sequential scans) would last through the run. Autovacuum analyzes a running server's
    // tables within a minute; the benchmark does it once here (BENCH_ANALYZE=0 skips it).
    if (database && process.env.BENCH_ANALYZE !== '0') await analyze(database.url);
    const afterSetUpKb = residentKb(server.pid);
    // Right after set-up the heap still holds what registering and joining allocated; V8
    // gives its young generation back after some quiet seconds. Idle is read once quiet.
    const idleSeconds = Number(process.env.BENCH_IDLE_SECONDS ?? 40);
    let idleKb = afterSetUpKb;
    for (let s = 0; s < idleSeconds; s++) {
      await sleep(1000);
      idleKb = residentKb(server.pid);
    }

    // Senders: one per room, back to back.
    const sendLatencies: number[] = [];
    let sent = 0;
    let sendErrors = 0;
    let peakKb = idleKb;
    const sampler = setInterval(() => {
      if (server) peakKb = Math.max(peakKb, residentKb(server.pid));
    }, 250);
    let sending = true;
    const senders = users.map(async (user, i) => {
      let n = 0;
      while (sending) {
        const sentAt = Date.now();
        const response = await http.request('PUT', `rooms/${encodeURIComponent(rooms[i])}/send/m.room.message/b${i}-${n++}`, user.token, undefined, {
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
    // Read-after-write clients: send, then at once GET the event (even sends) or the room's
    // latest message (odd sends); the read's latency counts from the send's response.
    const readLatencies = { event: [] as number[], messages: [] as number[] };
    const readMisses = { event: 0, messages: 0 };
    let readErrors = 0;
    const readLoops = readers.map(async ({ user, roomId }, i) => {
      const room = encodeURIComponent(roomId);
      let n = 0;
      while (sending) {
        const kind = n % 2 === 0 ? 'event' : 'messages';
        const response = await http.request<{ event_id: string }>('PUT', `rooms/${room}/send/m.room.message/r${i}-${n++}`, user.token, undefined, { msgtype: 'm.text', body: `read after write ${n}` });
        if (response.status !== 200) {
          readErrors += 1;
          continue;
        }
        const eventId = response.body.event_id;
        const readStarted = performance.now();
        let seen: boolean;
        if (kind === 'event') {
          const read = await http.request<{ event_id?: string }>('GET', `rooms/${room}/event/${encodeURIComponent(eventId)}`, user.token);
          seen = read.status === 200 && read.body.event_id === eventId;
        } else {
          const read = await http.request<{ chunk?: { event_id: string }[] }>('GET', `rooms/${room}/messages`, user.token, { dir: 'b', limit: '1' });
          seen = read.status === 200 && read.body.chunk?.[0]?.event_id === eventId;
        }
        if (measuring) {
          readLatencies[kind].push(performance.now() - readStarted);
          if (!seen) readMisses[kind] += 1;
        }
      }
    });
    await sleep(WARMUP_MS);
    measuring = true;
    const started = Date.now();
    const cpuBefore = {
      server: processCpuSeconds(server.pid),
      postgres: commandCpuSeconds('postgres'),
      bench: process.cpuUsage(),
      machine: machineCpuSeconds(),
    };
    await sleep(SECONDS * 1000);
    measuring = false;
    const elapsed = (Date.now() - started) / 1000;
    const benchCpu = process.cpuUsage(cpuBefore.bench);
    const machine = machineCpuSeconds();
    const cpu = {
      server: processCpuSeconds(server.pid) - cpuBefore.server,
      postgres: commandCpuSeconds('postgres') - cpuBefore.postgres,
      bench: (benchCpu.user + benchCpu.system) / 1e6,
      busy: machine.busy - cpuBefore.machine.busy,
      total: machine.total - cpuBefore.machine.total,
    };
    sending = false;
    await Promise.all([...senders, ...readLoops]);
    clearInterval(sampler);
    await sleep(500);
    running = false;
    await Promise.all(syncLoops);
    await http.close();

    sendLatencies.sort((a, b) => a - b);
    deliveries.sort((a, b) => a - b);
    const expectedDeliveries = sent * SYNC_CLIENTS;
    console.log(`messages/s sustained:      ${(sent / elapsed).toFixed(0)}  (${sent} messages in ${elapsed.toFixed(1)} s, ${sendErrors} send errors)`);
    console.log(`send latency:              p50 ${percentile(sendLatencies, 50)} ms, p99 ${percentile(sendLatencies, 99)} ms`);
    console.log(
      `send-to-sync delivery:     p50 ${percentile(deliveries, 50)} ms, p99 ${percentile(deliveries, 99)} ms  (${deliveries.length} deliveries of ~${expectedDeliveries} expected, ${limitedResponses} limited timelines, ${syncErrors} sync errors; ${(syncResponses / elapsed).toFixed(0)} sync responses/s)`,
    );
    if (READ_CLIENTS > 0) {
      const reads = (kind: 'event' | 'messages', label: string) => {
        const sorted = readLatencies[kind].sort((a, b) => a - b);
        return `${label} p50 ${percentile(sorted, 50).toFixed(1)} ms, p99 ${percentile(sorted, 99).toFixed(1)} ms (${sorted.length} reads, ${readMisses[kind]} missed the send)`;
      };
      console.log(
        `read right after a send:   ${reads('event', 'GET /event')}; ${reads('messages', 'GET /messages?dir=b&limit=1')}; ${readErrors} send errors; read consistency ${READ_CONSISTENCY ? 'on' : 'off'}`,
      );
    }
    console.log(
      `server resident memory:    idle ${(idleKb / 1024).toFixed(0)} MB (after ${idleSeconds} s quiet; ${(afterSetUpKb / 1024).toFixed(0)} MB right after set-up), under load (max) ${(peakKb / 1024).toFixed(0)} MB`,
    );
    const perMessage = (seconds: number) => (sent > 0 ? ((seconds * 1000) / sent).toFixed(2) : '-');
    console.log(
      `CPU under load:            server ${perMessage(cpu.server)} ms/message (${((cpu.server / elapsed) * 100).toFixed(0)}% of a core), ` +
        `PostgreSQL processes ${perMessage(cpu.postgres)} ms/message, benchmark clients ${perMessage(cpu.bench)} ms/message; ` +
        `machine ${((cpu.busy / cpu.total) * 100).toFixed(0)}% busy over ${cpus().length} CPUs`,
    );
  } finally {
    await server?.stop();
    await database?.drop();
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
