/**
 * This server side by side with Synapse, Dendrite and (given its binary) Conduit, under the
 * same load through the standard client-server API, in alternating rounds: within a round
 * every server takes the load in turn (the order rotates each round), so a machine that gets
 * busier or quieter affects all of them alike.
 *
 * Loads (ten users, each with one long-polling /sync client all along):
 *   rooms10   ten rooms of ten members, one sender per room
 *   one       one sender, one room (of ten members), messages back to back
 *   ten       ten senders into one room
 *   rooms100  one hundred rooms of one member, one sender each (ten per user)
 * Before each round the machine settles (under a sixth of a core, at most 30 s), so that work one server queued does not land in the next one's round.
 * Per round and server: messages per second, send-to-sync delivery p50/p99 (from the start of
 * the PUT to a /sync response carrying it, over every member), the machine's CPU per message
 * but the load's own (the server's and its database's: the other servers are settled), of
 * which the server process's, and the CPU that the server and the PostgreSQL processes seen
 * at both ends of the round do not account for (backends that come and go are missed).
 * Then each server's resident memory after BENCH_IDLE_SECONDS quiet, and this server's start
 * on its populated database (it is restarted in the same folder, on the same database).
 *
 * Synapse and Dendrite come from `test/interop/install.sh` (Synapse 1.98.0 from PyPI, Dendrite
 * v0.13.8 from the Go module proxy); Conduit is a binary built from its source (CONDUIT_BIN).
 *
 * Run: bash test/interop/install.sh && npm run build && npm run bench:compare
 *   BENCH_DATABASE_URL=postgres://…  every server on a temporary database of this PostgreSQL
 *                                    (Synapse gets psycopg2 in its virtual environment); else
 *                                    this server on PGlite, Synapse and Dendrite on SQLite
 *   CONDUIT_BIN=/path/to/conduit     add Conduit (RocksDB, its own folder)
 *   BENCH_SERVERS=ours,synapse,dendrite,conduit   which servers (default: every one available)
 *   BENCH_LOADS=rooms10,one,ten,rooms100          which loads (default: all)
 *   BENCH_SECONDS=10                 measured seconds per round (after 1 s of warm-up)
 *   BENCH_ROUNDS=3                   rounds per load
 *   BENCH_IDLE_SECONDS=40            quiet seconds before the memory is read
 *   BENCH_ENTRY=ts                   run this server from its sources instead of dist/
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTemporaryDatabase, type TemporaryDatabase } from '@hs/persistence';
import { call, freePort, registerUser, testCertificate } from '@hs/testing';
import { readInstallation, startPeer, type PeerKind } from '../../test/interop/peers';
import { residentKb, ROOT, startServer, type TestServer } from '../../test/e2e/support/server';
import { commandCpuSeconds, loadClient, machineCpuSeconds, percentile, processCpuSeconds, sleep, type LoadClient } from '../support/measure';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const IDLE_SECONDS = Number(process.env.BENCH_IDLE_SECONDS ?? 40);
const USERS = 10;
const ROOMS_PER_USER = 10;
const WARMUP_MS = 1000;
const LOADS = ['rooms10', 'one', 'ten', 'rooms100'] as const;
type LoadName = (typeof LOADS)[number];
const LOAD_LABELS: Record<LoadName, string> = {
  rooms10: '10 senders in 10 rooms',
  one: 'one sender, one room',
  ten: '10 senders into one room',
  rooms100: '100 rooms, one sender each',
};

interface Account {
  userId: string;
  token: string;
}

/** A server under test, started and ready. */
interface Contender {
  key: 'ours' | PeerKind | 'conduit';
  name: string;
  storage: string;
  url: string;
  pid: number;
  register(localpart: string): Promise<Account>;
  stop(): Promise<void>;
}

/** Who sends where in each load, and who syncs, on one server. */
interface Setup {
  users: Account[];
  rooms10: string[];
  rooms100: string[][];
}

interface RoundResult {
  messages: number;
  seconds: number;
  deliveries: number[];
  serverCpu: number;
  postgresCpu: number;
  /** The machine's busy CPU seconds but the load's clients' (the other servers are settled). */
  servingCpu: number;
  otherCpu: number;
  errors: number;
  load1: number;
}

function wanted(name: string, list: string | undefined): boolean {
  return list === undefined || list.split(',').map((s) => s.trim()).includes(name);
}

async function expectOk<T>(what: string, reply: Promise<{ status: number; body: T }>): Promise<T> {
  const answer = await reply;
  if (answer.status !== 200) throw new Error(`${what}: ${answer.status} ${JSON.stringify(answer.body)}`);
  return answer.body;
}

async function startOurs(databaseUrl: string | undefined, dir: string): Promise<{ contender: Contender; server: TestServer }> {
  const server = await startServer({
    dir,
    databaseUrl,
    entry: process.env.BENCH_ENTRY === 'ts' || !existsSync(join(ROOT, 'dist/apps/homeserver/src/main.js')) ? 'ts' : 'dist',
    logLevel: 'warn',
    // Presence is off on every server of the comparison.
    env: { HS_PRESENCE__ENABLED: 'false' },
  });
  const contender: Contender = {
    key: 'ours',
    name: 'this server',
    storage: databaseUrl ? 'PostgreSQL' : 'PGlite',
    url: server.url,
    pid: server.pid,
    async register(localpart) {
      const user = await registerUser(server.url, localpart);
      return { userId: user.userId, token: user.token };
    },
    async stop() {
      await server.stop();
    },
  };
  return { contender, server };
}

/** Synapse's virtual environment gets psycopg2 for PostgreSQL (once). */
function ensurePsycopg(python: string): void {
  if (spawnSync(python, ['-c', 'import psycopg2'], { stdio: 'ignore' }).status === 0) return;
  const uv = join(python, '..', 'uv');
  const installed = spawnSync(uv, ['pip', 'install', '--python', python, 'psycopg2-binary==2.9.9'], { encoding: 'utf8' });
  if (installed.status !== 0) throw new Error(`installing psycopg2-binary into Synapse's environment failed:\n${installed.stderr}`);
}

async function startConduit(binary: string): Promise<Contender> {
  const dir = mkdtempSync(join(tmpdir(), 'hs-compare-conduit-'));
  const port = await freePort();
  const version = `Conduit ${spawnSync(binary, ['--version'], { encoding: 'utf8' }).stdout.trim().replace(/^conduit\s*/i, '')}`;
  writeFileSync(
    join(dir, 'conduit.toml'),
    [
      '[global]',
      `server_name = "127.0.0.1:${port}"`,
      'database_backend = "rocksdb"',
      `database_path = "${join(dir, 'db')}"`,
      `port = ${port}`,
      'address = "127.0.0.1"',
      'allow_registration = true',
      'allow_federation = false',
      'allow_check_for_updates = false',
      'allow_local_presence = false',
      'trusted_servers = []',
      'log = "warn"',
      '',
    ].join('\n'),
  );
  const child: ChildProcess = spawn(binary, [], { cwd: dir, env: { ...process.env, CONDUIT_CONFIG: join(dir, 'conduit.toml') }, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`Conduit exited with ${child.exitCode}:\n${stderr}`);
    try {
      if ((await fetch(`${url}/_matrix/client/versions`)).status === 200) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`Conduit did not answer within 60 s:\n${stderr}`);
    await sleep(100);
  }
  return {
    key: 'conduit',
    name: version,
    storage: 'RocksDB',
    url,
    pid: child.pid ?? 0,
    async register(localpart) {
      const user = await registerUser(url, localpart);
      return { userId: user.userId, token: user.token };
    },
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await Promise.race([new Promise((resolve) => child.once('exit', resolve)), sleep(15_000)]);
        if (child.exitCode === null) child.kill('SIGKILL');
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Ten users; ten rooms of ten members; ten rooms of one member for each user. */
async function setUp(contender: Contender): Promise<Setup> {
  const users: Account[] = [];
  for (let i = 0; i < USERS; i++) users.push(await contender.register(`cmp${i}_${Date.now().toString(36)}`));
  const create = (user: Account, preset: string) =>
    expectOk('createRoom', call<{ room_id: string }>(contender.url, 'POST', 'createRoom', { token: user.token, body: { preset } })).then((b) => b.room_id);
  const rooms10: string[] = [];
  for (const user of users) rooms10.push(await create(user, 'public_chat'));
  for (const user of users) {
    for (const roomId of rooms10) {
      if (roomId === rooms10[users.indexOf(user)]) continue;
      await expectOk('join', call(contender.url, 'POST', `join/${encodeURIComponent(roomId)}`, { token: user.token, body: {} }));
    }
  }
  const rooms100: string[][] = [];
  for (const user of users) {
    const own: string[] = [];
    for (let r = 0; r < ROOMS_PER_USER; r++) own.push(await create(user, 'private_chat'));
    rooms100.push(own);
  }
  return { users, rooms10, rooms100 };
}

/** The (user, room) pairs that send, one loop each. */
function sendersOf(load: LoadName, setup: Setup): { user: Account; roomId: string }[] {
  switch (load) {
    case 'rooms10':
      return setup.users.map((user, i) => ({ user, roomId: setup.rooms10[i] }));
    case 'one':
      return [{ user: setup.users[0], roomId: setup.rooms10[0] }];
    case 'ten':
      return setup.users.map((user) => ({ user, roomId: setup.rooms10[0] }));
    case 'rooms100':
      return setup.users.flatMap((user, i) => setup.rooms100[i].map((roomId) => ({ user, roomId })));
  }
}

interface SyncBody {
  next_batch: string;
  rooms?: { join?: Record<string, { timeline?: { events?: { type: string; content: { bench_sent_at?: number } }[] } }> };
}

let txn = 0;

async function round(contender: Contender, setup: Setup, load: LoadName, postgres: boolean): Promise<RoundResult> {
  const senders = sendersOf(load, setup);
  const http: LoadClient = loadClient(contender.url, senders.length + setup.users.length + 2);
  let measuring = false;
  let running = true;
  const deliveries: number[] = [];
  const filter = JSON.stringify({ room: { timeline: { limit: 200 }, state: { lazy_load_members: true } }, presence: { types: [] } });
  const syncLoops = setup.users.map(async (user) => {
    let since = (await http.request<SyncBody>('GET', 'sync', user.token, { filter, timeout: '0' })).body.next_batch;
    while (running) {
      const response = await http.request<SyncBody>('GET', 'sync', user.token, { filter, timeout: '2000', since });
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
  await sleep(500);
  let sending = true;
  let messages = 0;
  let errors = 0;
  const loops = senders.map(async ({ user, roomId }) => {
    const room = encodeURIComponent(roomId);
    while (sending) {
      const sentAt = Date.now();
      const response = await http.request('PUT', `rooms/${room}/send/m.room.message/c${++txn}-${sentAt}`, user.token, undefined, { msgtype: 'm.text', body: `compare ${txn}`, bench_sent_at: sentAt });
      if (response.status !== 200) {
        errors += 1;
        await sleep(50);
        continue;
      }
      if (measuring) messages += 1;
    }
  });
  await sleep(WARMUP_MS);
  const before = { server: processCpuSeconds(contender.pid), postgres: postgres ? commandCpuSeconds('postgres') : 0, bench: process.cpuUsage(), machine: machineCpuSeconds() };
  const started = Date.now();
  measuring = true;
  await sleep(SECONDS * 1000);
  measuring = false;
  const seconds = (Date.now() - started) / 1000;
  const serverCpu = processCpuSeconds(contender.pid) - before.server;
  const postgresCpu = postgres ? commandCpuSeconds('postgres') - before.postgres : 0;
  const bench = process.cpuUsage(before.bench);
  const machine = machineCpuSeconds();
  const load1 = loadavg()[0];
  sending = false;
  await Promise.all(loops);
  await sleep(300);
  running = false;
  await Promise.all(syncLoops);
  await http.close();
  const servingCpu = machine.busy - before.machine.busy - (bench.user + bench.system) / 1e6;
  const otherCpu = servingCpu - serverCpu - postgresCpu;
  return { messages, seconds, deliveries: deliveries.sort((a, b) => a - b), serverCpu, postgresCpu, servingCpu, otherCpu: Math.max(0, otherCpu), errors, load1 };
}

/** Waits (at most 30 s) until the machine uses under a sixth of a core (over half a second). */
async function settle(): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    const before = machineCpuSeconds().busy;
    await sleep(500);
    if (machineCpuSeconds().busy - before < 0.08) return;
  }
}

const median = (values: number[]) => percentile([...values].sort((a, b) => a - b), 50);
const fixed = (value: number, digits = 0) => (Number.isFinite(value) ? value.toFixed(digits) : '-');

async function main(): Promise<void> {
  const installation = readInstallation();
  const baseUrl = process.env.BENCH_DATABASE_URL;
  const databases: TemporaryDatabase[] = [];
  const database = async (prefix: string, cLocale = false) => {
    if (!baseUrl) return undefined;
    const made = await createTemporaryDatabase(baseUrl, prefix, { cCollation: cLocale });
    databases.push(made);
    return made.url;
  };
  const contenders: Contender[] = [];
  let ours: TestServer | undefined;
  let oursDatabase: string | undefined;
  // This server's folder (configuration, keys, embedded database), kept for its restart.
  const oursDir = mkdtempSync(join(tmpdir(), 'hs-compare-ours-'));
  // Interrupted (Ctrl-C, kill), the servers are stopped and the databases dropped all the same.
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      console.error(`${signal}: stopping the servers`);
      void cleanUp().finally(() => process.exit(130));
    });
  }
  try {
    if (wanted('ours', process.env.BENCH_SERVERS)) {
      oursDatabase = await database('hs_compare_ours');
      const started = await startOurs(oursDatabase, oursDir);
      ours = started.server;
      contenders.push(started.contender);
    }
    for (const kind of ['synapse', 'dendrite'] as const) {
      if (!wanted(kind, process.env.BENCH_SERVERS)) continue;
      const peer = installation[kind];
      if (!('installed' in peer) || !peer.installed) {
        console.log(`${kind}: left out (${'reason' in peer ? peer.reason : 'not installed'}; run test/interop/install.sh)`);
        continue;
      }
      if (kind === 'synapse' && baseUrl && peer.kind === 'synapse') ensurePsycopg(peer.python);
      const databaseUrl = await database(`hs_compare_${kind}`, kind === 'synapse');
      const tls = await testCertificate({ subject: `compare: ${kind}` });
      const started = await startPeer(peer, { tls, trust: [tls.cert], ...(databaseUrl ? { databaseUrl } : {}) });
      contenders.push({
        key: kind,
        name: `${kind === 'synapse' ? 'Synapse' : 'Dendrite'} ${peer.version}`,
        storage: databaseUrl ? 'PostgreSQL' : 'SQLite',
        url: started.clientUrl,
        pid: started.pid,
        async register(localpart) {
          const user = await started.register(localpart);
          return { userId: user.userId, token: user.accessToken };
        },
        stop: () => started.stop(),
      });
    }
    if (process.env.CONDUIT_BIN && wanted('conduit', process.env.BENCH_SERVERS)) contenders.push(await startConduit(process.env.CONDUIT_BIN));
    else if (wanted('conduit', process.env.BENCH_SERVERS)) console.log('conduit: left out (CONDUIT_BIN names no binary)');

    console.log(`compare: ${contenders.map((c) => `${c.name} (${c.storage}, pid ${c.pid})`).join(', ')}; ${ROUNDS} rounds of ${SECONDS} s per load; presence off everywhere`);
    const setups = new Map<Contender, Setup>();
    for (const contender of contenders) setups.set(contender, await setUp(contender));

    const loads = LOADS.filter((load) => wanted(load, process.env.BENCH_LOADS));
    const results = new Map<string, RoundResult[]>();
    for (const load of loads) {
      console.log(`\n${LOAD_LABELS[load]}`);
      for (let r = 0; r < ROUNDS; r++) {
        const order = contenders.map((_, i) => contenders[(i + r) % contenders.length]);
        for (const contender of order) {
          // Work a server queued during its round (its own or PostgreSQL's) would land in the next one's.
          await settle();
          const result = await round(contender, setups.get(contender)!, load, contender.storage === 'PostgreSQL');
          const key = `${load}|${contender.key}`;
          results.set(key, [...(results.get(key) ?? []), result]);
          const per = (cpu: number) => (result.messages > 0 ? fixed((cpu * 1000) / result.messages, 2) : '-');
          console.log(
            `  round ${r + 1} ${contender.name.padEnd(22)} ${fixed(result.messages / result.seconds).padStart(6)} msg/s, delivery p50 ${fixed(percentile(result.deliveries, 50))} ms p99 ${fixed(percentile(result.deliveries, 99))} ms, ` +
              `CPU per message: machine ${per(result.servingCpu)} ms (server ${per(result.serverCpu)}${result.postgresCpu > 0 ? `, PostgreSQL processes seen ${per(result.postgresCpu)}` : ''}), ` +
              `rest of the machine ${fixed((result.otherCpu / result.seconds) * 100)}% of a core, load ${fixed(result.load1, 1)}${result.errors > 0 ? `, ${result.errors} failed sends` : ''}`,
          );
        }
      }
    }

    console.log(`\nsummary (medians over ${ROUNDS} rounds; ratio: this server / the other)`);
    const oursKey = contenders.find((c) => c.key === 'ours')?.key;
    for (const load of loads) {
      const rate = (key: string) => median((results.get(`${load}|${key}`) ?? []).map((r) => r.messages / r.seconds));
      const p99 = (key: string) => median((results.get(`${load}|${key}`) ?? []).map((r) => percentile(r.deliveries, 99)));
      const cpu = (key: string) => median((results.get(`${load}|${key}`) ?? []).map((r) => (r.messages > 0 ? (r.servingCpu * 1000) / r.messages : NaN)));
      const line = contenders.map((c) => {
        const ratio = oursKey && c.key !== 'ours' ? ` (x${fixed(rate('ours') / rate(c.key), 2)})` : '';
        return `${c.name} ${fixed(rate(c.key))} msg/s p99 ${fixed(p99(c.key))} ms ${fixed(cpu(c.key), 2)} ms CPU/msg${ratio}`;
      });
      console.log(`  ${LOAD_LABELS[load].padEnd(28)} ${line.join(' | ')}`);
    }

    console.log(`\nresident memory after ${IDLE_SECONDS} s quiet`);
    const peaks = new Map(contenders.map((c) => [c, residentKb(c.pid)]));
    await sleep(IDLE_SECONDS * 1000);
    for (const contender of contenders) {
      console.log(`  ${contender.name.padEnd(22)} ${fixed(residentKb(contender.pid) / 1024)} MB (right after the load ${fixed(peaks.get(contender)! / 1024)} MB)`);
    }

    if (ours) {
      // A restart on the populated database (and the configuration and keys of the first
      // start): from the start until /versions answers.
      const index = contenders.findIndex((c) => c.key === 'ours');
      await contenders[index].stop();
      contenders.splice(index, 1);
      ours = undefined;
      const spawned = Date.now();
      const again = await startOurs(oursDatabase, oursDir);
      contenders.push(again.contender);
      await expectOk('versions', call(again.contender.url, 'GET', '/_matrix/client/versions'));
      console.log(`\nthis server, restarted on its populated database: /versions answered ${fixed((Date.now() - spawned) / 1000, 2)} s after the start`);
    }
  } finally {
    await cleanUp();
  }

  async function cleanUp(): Promise<void> {
    for (const contender of contenders.splice(0)) await contender.stop().catch((error: unknown) => console.error(`stopping ${contender.name}:`, error));
    for (const made of databases.splice(0)) await made.drop().catch(() => undefined);
    rmSync(oursDir, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
