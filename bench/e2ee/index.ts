/**
 * End-to-end encryption keys API benchmark over real HTTP against the homeserver started as a
 * process (its `main`, a generated configuration, rate limits off, logging.level warn).
 *
 * Set-up: BENCH_USERS users (default 1,000) register, one device each, and every device uploads
 * its device keys (curve25519 and ed25519, self-signed, with random key material: the server
 * does not check the cryptography) and a signed fallback key; the first BENCH_CLAIM_DEVICES
 * devices (default 100) also upload one-time keys, enough for every measured claim
 * (BENCH_CLAIMS + the warm-up), so that each claim hands out one-time keys.
 *
 * 1. POST /keys/claim naming the BENCH_CLAIM_DEVICES devices (`signed_curve25519`), one request
 *    at a time, BENCH_CLAIMS times (default 200) after 10 warm-up claims: p50/p95/p99. Then
 *    the one-time keys are gone and the same claims hand out the fallback keys: measured too
 *    (BENCH_CLAIMS / 2 requests).
 * 2. POST /keys/query naming all BENCH_USERS users (every device of each), one at a time,
 *    BENCH_QUERIES times (default 100) after 5 warm-up queries: p50/p95/p99 and response size.
 * 3. To-device fan-out: every device runs a /sync long-poll (timeout 60 s, one HTTP connection
 *    each, so that all of them wait at once); one PUT /sendToDevice (`m.room.encrypted`, an
 *    olm-shaped message of its own for each device) names every device of every user. Timed
 *    from the start of the PUT until the last device's /sync has returned its message;
 *    BENCH_ROUNDS rounds (default 5) after one warm-up round, each started once every device
 *    has a long-poll in flight and the server has been idle for a moment. With presence on (the
 *    default), the devices' first syncs mark their users online and currently active, which
 *    ends for all of them at once ACTIVE_GRANULARITY_MS (60 s) later: the rounds start after
 *    that, and the server CPU the change cost (1,000 presence changes, each waking its user's
 *    long-poll) is printed on its own. The rounds must end before IDLE_TIMEOUT_MS (5 min)
 *    after the first syncs, when every user turns unavailable; a warning says when not.
 *
 * CPU per request of the server (and of PostgreSQL's processes) from /proc is printed beside each measure. Latencies are measured
 * by the benchmark's client, in the same 2-core machine as the server and the database.
 *
 * Run: node -r ./test/support/register-ts.cjs bench/e2ee/index.ts
 *   BENCH_DATABASE_URL=postgres://…  PostgreSQL (a temporary database beside it, dropped at the end), else PGlite
 *   BENCH_USERS=1000                 users (one device each): queried, and the fan-out's recipients
 *   BENCH_CLAIM_DEVICES=100          devices named by each claim
 *   BENCH_CLAIMS=200                 measured claims
 *   BENCH_QUERIES=100                measured queries
 *   BENCH_ROUNDS=5                   measured fan-out rounds
 *   BENCH_PHASES=claim,query,fanout  which measures to run (set-up is always done)
 *   BENCH_ENTRY=dist                 run the built server (npm run build) instead of the sources
 *   BENCH_NODE_ARGS='--cpu-prof'     extra node arguments for the server process (space separated); with
 *                                    --cpu-prof the phase boundaries are printed on stderr in the profile's
 *                                    clock (µs), to cut the profile into phases
 *   BENCH_DB_CONNECTIONS=10          the server's database.max_connections (default: the configuration's)
 *   BENCH_PRESENCE=0                 run the server with presence.enabled false
 */
import { randomBytes } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { Client } from 'pg';
import { Pool } from 'undici';
import { createTemporaryDatabase, type TemporaryDatabase } from '@hs/persistence';
import { registerUser, type TestUser } from '@hs/testing';
import { ACTIVE_GRANULARITY_MS, IDLE_TIMEOUT_MS, PRESENCE_SWEEP_INTERVAL_MS } from '../../libs/sync/src/presence';
import { startServer, type TestServer } from '../../test/e2e/support/server';
import { percentile, processCpuSeconds } from '../support/measure';

const USERS = Number(process.env.BENCH_USERS ?? 1000);
const CLAIM_DEVICES = Math.min(USERS, Number(process.env.BENCH_CLAIM_DEVICES ?? 100));
const CLAIMS = Number(process.env.BENCH_CLAIMS ?? 200);
const QUERIES = Number(process.env.BENCH_QUERIES ?? 100);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
/** BENCH_PRESENCE=0 runs the server with presence off. */
const PRESENCE = process.env.BENCH_PRESENCE !== '0';
const PHASES = new Set((process.env.BENCH_PHASES ?? 'claim,query,fanout').split(',').map((p) => p.trim()));
const CLAIM_WARMUP = 10;
const QUERY_WARMUP = 5;
/** One-time keys per claimed device: one for every claim, warm-up included. */
const ONE_TIME_KEYS = CLAIMS + CLAIM_WARMUP;
/** Most one-time keys one upload may carry (the server's limit). */
const UPLOAD_BATCH = 1000;
const SYNC_TIMEOUT_MS = 60_000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/** With --cpu-prof among BENCH_NODE_ARGS: phase boundaries on stderr, on the clock of the profiles' timestamps (µs). */
const PROFILING = (process.env.BENCH_NODE_ARGS ?? '').includes('--cpu-prof');
const mark = (phase: string) => {
  if (PROFILING) console.error(`phase ${phase} at ${process.hrtime.bigint() / 1000n} µs`);
};

const ms = (value: number) => `${value.toFixed(1)} ms`;

function summary(samples: readonly number[]): string {
  const sorted = [...samples].sort((a, b) => a - b);
  return `p50 ${ms(percentile(sorted, 50))}, p95 ${ms(percentile(sorted, 95))}, p99 ${ms(percentile(sorted, 99))}, max ${ms(sorted[sorted.length - 1])} (${sorted.length} requests)`;
}

/** CPU seconds used by each PostgreSQL backend serving `database` (its process title names the database), by pid. */
function backendCpuSeconds(database: string): Map<number, number> {
  const out = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/comm`, 'utf8').trim() !== 'postgres') continue;
      if (!readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(` ${database} `)) continue;
      out.set(Number(entry), processCpuSeconds(Number(entry)));
    } catch {
      // The process ended meanwhile.
    }
  }
  return out;
}

/**
 * CPU the server (and the PostgreSQL backends serving its database, when PostgreSQL is the
 * database) used since `before`, in ms per request: "server 12.3 ms" or "server 12.3 +
 * PostgreSQL 4.5 ms". On PGlite the database runs in the server's process. A backend that
 * ended in between is not counted.
 */
function cpuMeter(pid: number, database: string | undefined) {
  const read = () => ({ server: processCpuSeconds(pid), postgres: database ? backendCpuSeconds(database) : new Map<number, number>() });
  return {
    start: read,
    perRequest(before: ReturnType<typeof read>, requests: number): string {
      const now = read();
      const per = (seconds: number) => ((seconds * 1000) / requests).toFixed(1);
      let postgres = 0;
      for (const [backend, seconds] of now.postgres) postgres += seconds - (before.postgres.get(backend) ?? 0);
      return database ? `server ${per(now.server - before.server)} + PostgreSQL ${per(postgres)} ms` : `server ${per(now.server - before.server)} ms`;
    },
  };
}

type CpuMeter = ReturnType<typeof cpuMeter>;

/** Unpadded base64 of random bytes, the shape of a Curve25519 or Ed25519 key (32) or signature (64). */
const b64 = (bytes: number) => randomBytes(bytes).toString('base64').replace(/=+$/, '');

type Json = Record<string, unknown>;

/** Over kept-alive connections (undici's request API, cheaper in CPU than `fetch`). */
function httpClient(base: string, connections: number) {
  const pool = new Pool(base, { connections, pipelining: 1, headersTimeout: SYNC_TIMEOUT_MS + 30_000, bodyTimeout: SYNC_TIMEOUT_MS + 30_000 });
  return {
    async request<T = Json>(method: 'GET' | 'POST' | 'PUT', path: string, token: string, options: { query?: Record<string, string>; body?: unknown } = {}) {
      const search = options.query ? `?${new URLSearchParams(options.query).toString()}` : '';
      const response = await pool.request({
        method,
        path: `/_matrix/client/v3/${path}${search}`,
        headers: options.body === undefined ? { authorization: `Bearer ${token}` } : { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
      });
      const text = await response.body.text();
      if (response.statusCode !== 200) throw new Error(`${method} ${path}: ${response.statusCode} ${text.slice(0, 300)}`);
      return { body: JSON.parse(text) as T, bytes: Buffer.byteLength(text) };
    },
    close: () => pool.close(),
    /** Ends the connections at once, requests in flight (long-polls) included. */
    destroy: () => pool.destroy(),
  };
}

type Http = ReturnType<typeof httpClient>;

/** Runs `work` over the items, `concurrency` at a time. */
async function inParallel<T>(items: readonly T[], concurrency: number, work: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, items.length) }, async () => {
      while (next < items.length) {
        const index = next++;
        await work(items[index], index);
      }
    }),
  );
}

function deviceKeys(user: TestUser): Json {
  const device = user.deviceId;
  return {
    user_id: user.userId,
    device_id: device,
    algorithms: ['m.olm.v1.curve25519-aes-sha2', 'm.megolm.v1.aes-sha2'],
    keys: { [`curve25519:${device}`]: b64(32), [`ed25519:${device}`]: b64(32) },
    signatures: { [user.userId]: { [`ed25519:${device}`]: b64(64) } },
  };
}

function signedKey(user: TestUser, fallback = false): Json {
  return { key: b64(32), ...(fallback ? { fallback: true } : {}), signatures: { [user.userId]: { [`ed25519:${user.deviceId}`]: b64(64) } } };
}

/** Waits until the server process has used (almost) no CPU for `quietMs` (its long-polls are all parked). */
async function serverIdle(pid: number, quietMs = 600, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let quietSince = Date.now();
  let last = processCpuSeconds(pid);
  while (Date.now() < deadline) {
    await sleep(100);
    const now = processCpuSeconds(pid);
    if (now - last > 0.01) quietSince = Date.now();
    last = now;
    if (Date.now() - quietSince >= quietMs) return;
  }
  throw new Error('the server did not become idle');
}

async function analyze(url: string): Promise<void> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    await client.query('ANALYZE');
  } finally {
    await client.end();
  }
}

async function claimPhase(http: Http, cpu: CpuMeter, claimer: TestUser, devices: readonly TestUser[]): Promise<void> {
  const body = { one_time_keys: Object.fromEntries(devices.map((u) => [u.userId, { [u.deviceId]: 'signed_curve25519' }])) };
  const measure = async (count: number, expect: 'one-time' | 'fallback') => {
    const samples: number[] = [];
    let bytes = 0;
    const cpuBefore = cpu.start();
    for (let i = 0; i < count; i++) {
      const started = performance.now();
      const reply = await http.request<{ one_time_keys: Record<string, Record<string, Json>> }>('POST', 'keys/claim', claimer.token, { body });
      samples.push(performance.now() - started);
      bytes = reply.bytes;
      let claimed = 0;
      let fallback = 0;
      for (const user of Object.values(reply.body.one_time_keys)) {
        for (const keys of Object.values(user)) {
          claimed += 1;
          if (Object.values(keys).some((k) => (k as Json).fallback === true)) fallback += 1;
        }
      }
      if (claimed !== devices.length) throw new Error(`claim ${i}: ${claimed} of ${devices.length} devices answered`);
      if (expect === 'one-time' && fallback > 0) throw new Error(`claim ${i}: ${fallback} fallback keys handed out; one-time keys ran out`);
      if (expect === 'fallback' && fallback !== devices.length) throw new Error(`claim ${i}: ${devices.length - fallback} one-time keys left`);
    }
    return { samples, bytes, cpu: cpu.perRequest(cpuBefore, count) };
  };
  await measure(CLAIM_WARMUP, 'one-time');
  mark('claim one-time');
  const oneTime = await measure(CLAIMS, 'one-time');
  mark('claim one-time end');
  console.log(
    `POST /keys/claim, ${devices.length} devices, one-time keys: ${summary(oneTime.samples)}; response ${(oneTime.bytes / 1024).toFixed(1)} KB; CPU per request: ${oneTime.cpu}`,
  );
  mark('claim fallback');
  const fallback = await measure(Math.max(1, Math.round(CLAIMS / 2)), 'fallback');
  mark('claim fallback end');
  console.log(
    `POST /keys/claim, ${devices.length} devices, fallback keys (no one-time key left): ${summary(fallback.samples)}; CPU per request: ${fallback.cpu}`,
  );
}

async function queryPhase(http: Http, cpu: CpuMeter, requester: TestUser, users: readonly TestUser[]): Promise<void> {
  const body = { device_keys: Object.fromEntries(users.map((u) => [u.userId, []])) };
  const run = async (count: number) => {
    const samples: number[] = [];
    let bytes = 0;
    const cpuBefore = cpu.start();
    for (let i = 0; i < count; i++) {
      const started = performance.now();
      const reply = await http.request<{ device_keys: Record<string, Record<string, Json>> }>('POST', 'keys/query', requester.token, { body });
      samples.push(performance.now() - started);
      bytes = reply.bytes;
      const devices = Object.values(reply.body.device_keys).reduce((n, d) => n + Object.keys(d).length, 0);
      if (devices !== users.length) throw new Error(`query ${i}: ${devices} devices of ${users.length}`);
    }
    return { samples, bytes, cpu: cpu.perRequest(cpuBefore, count) };
  };
  await run(QUERY_WARMUP);
  mark('query');
  const measured = await run(QUERIES);
  mark('query end');
  console.log(
    `POST /keys/query, ${users.length} users (1 device each): ${summary(measured.samples)}; response ${(measured.bytes / 1024).toFixed(0)} KB; CPU per request: ${measured.cpu}`,
  );
}

interface SyncBody {
  next_batch: string;
  to_device?: { events?: { sender: string; type: string; content: { bench_round?: number } }[] };
}

async function fanOutPhase(base: string, pid: number, cpu: CpuMeter, sender: TestUser, devices: readonly TestUser[]): Promise<void> {
  // One connection per long-poll, so that every device waits at once; a few more for the PUT.
  const http = httpClient(base, devices.length + 4);
  const filter = JSON.stringify({ room: { rooms: [] }, presence: { types: [] }, account_data: { types: [] } });
  const since: string[] = [];
  await inParallel(devices, 32, async (device, i) => {
    since[i] = (await http.request<SyncBody>('GET', 'sync', device.token, { query: { filter, timeout: '0' } })).body.next_batch;
  });
  const firstSyncsDone = performance.now();

  let running = true;
  let inFlight = 0;
  /** Per round: when each device's /sync returned the round's message (ms, performance.now()). */
  const arrivals = new Map<number, number[]>();
  let otherResponses = 0;
  let syncErrors = 0;
  const loops = devices.map(async (device, i) => {
    while (running) {
      inFlight += 1;
      let reply: { body: SyncBody };
      try {
        reply = await http.request<SyncBody>('GET', 'sync', device.token, { query: { filter, timeout: String(SYNC_TIMEOUT_MS), since: since[i] } });
      } catch (error) {
        if (running) {
          syncErrors += 1;
          console.error(String(error));
          await sleep(100);
        }
        continue;
      } finally {
        inFlight -= 1;
      }
      const received = performance.now();
      since[i] = reply.body.next_batch;
      const rounds = (reply.body.to_device?.events ?? []).map((e) => e.content.bench_round).filter((r): r is number => typeof r === 'number');
      if (rounds.length === 0 && running) otherResponses += 1;
      for (const round of rounds) arrivals.get(round)?.push(received);
    }
  });

  // An olm-encrypted message of its own for each device (pre-key message, about 600 bytes of ciphertext).
  const senderKey = b64(32);
  const message = (round: number, device: TestUser) => ({
    algorithm: 'm.olm.v1.curve25519-aes-sha2',
    sender_key: senderKey,
    ciphertext: { [b64(32)]: { type: 0, body: b64(450) } },
    bench_round: round,
    bench_device: device.deviceId,
  });
  /** One round: every device long-polling, the server idle, one PUT; until every device has had its message. */
  const runRound = async (round: number) => {
    while (inFlight < devices.length) await sleep(20);
    await serverIdle(pid);
    const messages: Record<string, Record<string, Json>> = {};
    for (const device of devices) (messages[device.userId] ??= {})[device.deviceId] = message(round, device);
    const arrived: number[] = [];
    arrivals.set(round, arrived);
    const cpuBefore = cpu.start();
    mark(`fan-out round ${round}`);
    const started = performance.now();
    await http.request('PUT', `sendToDevice/m.room.encrypted/bench-${Date.now()}-${round}`, sender.token, { body: { messages } });
    const put = performance.now() - started;
    while (arrived.length < devices.length) await sleep(2);
    const total = Math.max(...arrived) - started;
    const latencies = arrived.map((t) => t - started).sort((a, b) => a - b);
    const used = cpu.perRequest(cpuBefore, 1);
    mark(`fan-out round ${round} end`);
    if (PRESENCE && performance.now() - firstSyncsDone > IDLE_TIMEOUT_MS) console.log(`  (round ${round} ended after the users' presence idle timeout: they turned unavailable meanwhile)`);
    return { total, put, p50: percentile(latencies, 50), used };
  };

  // The warm-up round. With presence on, it renews every long-poll (the server ends a long-poll
  // after 60 s at most) shortly before the users' currently_active ends, which is then measured
  // on its own: each user turns from currently active to not at once, two sweeps at most after
  // the granularity, and each change wakes its user's long-poll.
  if (PRESENCE) await sleep(Math.max(0, firstSyncsDone + ACTIVE_GRANULARITY_MS - 25_000 - performance.now()));
  await runRound(0);
  if (PRESENCE) {
    while (inFlight < devices.length) await sleep(20);
    await serverIdle(pid);
    const before = cpu.start();
    mark('presence change');
    await sleep(Math.max(0, firstSyncsDone + ACTIVE_GRANULARITY_MS + 2 * PRESENCE_SWEEP_INTERVAL_MS - performance.now()));
    await serverIdle(pid);
    mark('presence change end');
    console.log(
      `presence: the ${devices.length} users' currently_active turned false (each change wakes its user's long-poll, which finds nothing to answer): CPU ${cpu.perRequest(before, 1)} meanwhile; ${otherResponses} long-polls answered`,
    );
  }
  otherResponses = 0;
  const results: { total: number; put: number; p50: number }[] = [];
  for (let round = 1; round <= ROUNDS; round++) {
    const result = await runRound(round);
    results.push(result);
    console.log(
      `  round ${round}: PUT answered in ${ms(result.put)}, half the devices had it after ${ms(result.p50)}, all ${devices.length} after ${ms(result.total)}; CPU: ${result.used}`,
    );
  }
  running = false;
  await http.destroy().catch(() => undefined);
  await Promise.allSettled(loops);
  const totals = results.map((r) => r.total).sort((a, b) => a - b);
  const puts = results.map((r) => r.put).sort((a, b) => a - b);
  console.log(
    `to-device fan-out, 1 PUT /sendToDevice to ${devices.length} long-polling devices, ${results.length} rounds: all delivered after median ${ms(percentile(totals, 50))}, max ${ms(totals[totals.length - 1])}; ` +
      `PUT answered after median ${ms(percentile(puts, 50))}; ${otherResponses} /sync responses without the message, ${syncErrors} sync errors`,
  );
}

async function main(): Promise<void> {
  let database: TemporaryDatabase | undefined;
  if (process.env.BENCH_DATABASE_URL) database = await createTemporaryDatabase(process.env.BENCH_DATABASE_URL, 'hs_bench_e2ee');
  const backend = database ? 'PostgreSQL' : 'PGlite (embedded)';
  let server: TestServer | undefined;
  try {
    server = await startServer({
      databaseUrl: database?.url,
      entry: process.env.BENCH_ENTRY === 'dist' ? 'dist' : 'ts',
      nodeArgs: (process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean),
      logLevel: 'warn',
      env: {
        ...(process.env.BENCH_DB_CONNECTIONS ? { HS_DATABASE__MAX_CONNECTIONS: process.env.BENCH_DB_CONNECTIONS } : {}),
        ...(PRESENCE ? {} : { HS_PRESENCE__ENABLED: 'false' }),
      },
    });
    const { url, pid } = server;
    console.log(
      `e2ee benchmark: ${backend}, presence ${PRESENCE ? 'on' : 'off'}, ${USERS} users of 1 device, claims of ${CLAIM_DEVICES} devices (${ONE_TIME_KEYS} one-time keys each), server pid ${pid}`,
    );

    let started = performance.now();
    const users: TestUser[] = new Array<TestUser>(USERS);
    await inParallel(users, 8, async (_, i) => {
      users[i] = await registerUser(url, `e2ee${i}_`);
    });
    const claimer = await registerUser(url, 'claimer_');
    console.log(`set-up: ${USERS + 1} users registered in ${((performance.now() - started) / 1000).toFixed(1)} s`);

    started = performance.now();
    const http = httpClient(url, 16);
    await inParallel(users, 8, async (user, i) => {
      const uploaded = await http.request<{ one_time_key_counts: Record<string, number> }>('POST', 'keys/upload', user.token, {
        body: { device_keys: deviceKeys(user), fallback_keys: { [`signed_curve25519:F${i}`]: signedKey(user, true) } },
      });
      if (uploaded.body.one_time_key_counts.signed_curve25519 !== 0) throw new Error('unexpected one-time keys');
      if (i >= CLAIM_DEVICES) return;
      for (let from = 0; from < ONE_TIME_KEYS; from += UPLOAD_BATCH) {
        const keys: Record<string, Json> = {};
        for (let k = from; k < Math.min(ONE_TIME_KEYS, from + UPLOAD_BATCH); k++) keys[`signed_curve25519:K${k.toString().padStart(6, '0')}`] = signedKey(user);
        await http.request('POST', 'keys/upload', user.token, { body: { one_time_keys: keys } });
      }
    });
    console.log(`set-up: ${USERS} device keys and fallback keys, ${CLAIM_DEVICES} x ${ONE_TIME_KEYS} one-time keys uploaded in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    // A fresh database has no statistics yet (autovacuum would analyze it within a minute).
    if (database) await analyze(database.url);

    const cpu = cpuMeter(pid, database ? new URL(database.url).pathname.slice(1) : undefined);
    if (PHASES.has('claim')) await claimPhase(http, cpu, claimer, users.slice(0, CLAIM_DEVICES));
    if (PHASES.has('query')) await queryPhase(http, cpu, claimer, users);
    await http.close();
    if (PHASES.has('fanout')) await fanOutPhase(url, pid, cpu, claimer, users);
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
