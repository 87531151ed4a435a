/**
 * Joining a large room over federation. Two homeservers federate over HTTPS on loopback
 * (certificate checking on): the resident runs in this process, the joining server as a child
 * process (its `main`, a generated configuration), so that its memory is its own.
 *
 * 1. The resident holds a synthetic room: a user of the resident creates a public room through
 *    the client API, then BENCH_MEMBERS users of the resident join it and each changes its
 *    display name once (so the first joins are the auth chain of the state), and the creator
 *    sets filler state events (`org.example.bench.filler`, one per member) until the room has
 *    BENCH_STATE state events in its current state. The events are built and signed here with
 *    the resident's key and placed through the write side's DAG path (`RoomWriter.ingest`):
 *    held as outliers (each checked against its auth events), and the last one placed on the
 *    whole state, as a server that joins a room does. They are valid signed events: the
 *    joining server fetches the resident's key and checks every one.
 * 2. A user of the joining server, already syncing (lazy-loaded members, as clients of large
 *    rooms do), joins the room through the resident. Printed: the time until POST /join
 *    answered (make_join, send_join, its answer checked and stored), the time until the room
 *    showed in the user's /sync, and the joining server's peak resident memory (VmHWM).
 * 3. A burst of BENCH_MESSAGES messages of the resident's user, which the resident's federation
 *    sender sends to the joining server: printed, inbound PDUs accepted per second (from the
 *    first to the last message seen in the joining user's /sync), checked at the end by
 *    reading the room's timeline back on the joining server.
 *
 * Run: node -r ./test/support/register-ts.cjs bench/federation-join/index.ts
 *   BENCH_DATABASE_URL=postgres://…  both servers on PostgreSQL (a temporary database each), else PGlite
 *   BENCH_MEMBERS=10000               members of the room
 *   BENCH_STATE=20000                 state events in the room's current state (at least the members)
 *   BENCH_MESSAGES=10000              messages of the burst (0: no burst)
 *   BENCH_ENTRY=dist                  run the joining server built (npm run build) instead of the sources
 *   BENCH_NODE_ARGS='--cpu-prof'      extra node arguments for the joining server (space separated); with
 *                                     --cpu-prof the phase boundaries are printed on stderr in the profile's
 *                                     clock (µs), to cut the profile into phases
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTemporaryDatabase, type TemporaryDatabase } from '@hs/persistence';
import {
  eventTemplate,
  parseSigningKeyFile,
  stateKey,
  signNewEvent,
  type BuiltEvent,
  type JsonObject,
  type RoomVersionRules,
  type SigningKey,
  type StateKey,
} from '@hs/protocol';
import { RoomWriter, type IncomingPdu } from '@hs/room';
import { call, freePort, registerUser, type TestUser } from '@hs/testing';
import { startServer, type TestServer } from '../../test/e2e/support/server';
import { startFederationInstance, writeFederationTls } from '../../test/support/federation-instances';
import type { InProcessServer } from '../../test/support/in-process-server';

const MEMBERS = Number(process.env.BENCH_MEMBERS ?? 10_000);
const STATE = Math.max(MEMBERS, Number(process.env.BENCH_STATE ?? 20_000));
const MESSAGES = Number(process.env.BENCH_MESSAGES ?? 10_000);
const FILLER = 'org.example.bench.filler';
/** Events placed on the resident per ingest call while the room is built. */
const BUILD_BATCH = 5000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/** With --cpu-prof among BENCH_NODE_ARGS: phase boundaries on stderr, on the clock of the profiles' timestamps (µs). */
const PROFILING = (process.env.BENCH_NODE_ARGS ?? '').includes('--cpu-prof');
const mark = (phase: string) => {
  if (PROFILING) console.error(`phase ${phase} at ${process.hrtime.bigint() / 1000n} µs`);
};
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/** Peak and current resident memory of a process in MB (VmHWM, VmRSS of /proc/<pid>/status). */
function memoryMb(pid: number): { peak: number; now: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+)\\s+kB$`, 'm').exec(status)?.[1] ?? NaN);
  return { peak: Math.round(kb('VmHWM') / 1024), now: Math.round(kb('VmRSS') / 1024) };
}

/** CPU seconds (user + system) a process has used, from /proc. */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** Builds the synthetic room's events on top of the room's current state, signed with the resident's key. */
class RoomBuilder {
  readonly events: BuiltEvent[] = [];
  private readonly state: Map<StateKey, string>;
  private prev: { eventId: string; depth: number }[];
  private clock = Date.now() - 3_600_000;

  constructor(
    private readonly rules: RoomVersionRules,
    private readonly roomId: string,
    private readonly serverName: string,
    private readonly key: SigningKey,
    state: ReadonlyMap<StateKey, string>,
    extremities: readonly { eventId: string; depth: number }[],
  ) {
    this.state = new Map(state);
    this.prev = [...extremities];
  }

  /** The state before the next event. */
  snapshot(): Map<StateKey, string> {
    return new Map(this.state);
  }

  add(sender: string, type: string, key: string, content: JsonObject, extraPrevs: readonly { eventId: string; depth: number }[] = []): BuiltEvent {
    const template = eventTemplate({
      roomVersion: this.rules,
      roomId: this.roomId,
      sender,
      type,
      stateKey: key,
      content,
      prevEvents: [...this.prev, ...extraPrevs],
      state: this.state,
      originServerTs: this.clock++,
    });
    const built = signNewEvent(template, this.rules, this.serverName, this.key);
    this.events.push(built);
    this.state.set(stateKey(type, key), built.event.event_id);
    this.prev = [{ eventId: built.event.event_id, depth: built.event.depth }];
    return built;
  }
}

interface SyncAnswer {
  next_batch: string;
  rooms?: { join?: Record<string, { timeline?: { events?: { event_id: string; content?: { body?: unknown } }[] } }> };
}

const SYNC_FILTER = JSON.stringify({ room: { state: { lazy_load_members: true }, timeline: { limit: 5, lazy_load_members: true } } });

/** One /sync long-poll of a user (lazy-loaded members). */
async function syncOnce(base: string, user: TestUser, since: string | undefined, timeoutMs: number): Promise<SyncAnswer> {
  const query: Record<string, string> = { filter: SYNC_FILTER, timeout: String(timeoutMs) };
  if (since) query.since = since;
  const reply = await call<SyncAnswer>(base, 'GET', 'sync', { token: user.token, query });
  if (reply.status !== 200) throw new Error(`sync: ${reply.status} ${JSON.stringify(reply.body).slice(0, 500)}`);
  return reply.body;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'hs-bench-fedjoin-'));
  const databases: TemporaryDatabase[] = [];
  let resident: InProcessServer | undefined;
  let joiner: TestServer | undefined;
  try {
    const url = process.env.BENCH_DATABASE_URL;
    if (url) databases.push(await createTemporaryDatabase(url, 'hs_bench_fedjoin_a'), await createTemporaryDatabase(url, 'hs_bench_fedjoin_b'));
    const backend = url ? 'PostgreSQL' : 'PGlite (embedded)';
    const ports = [await freePort(), await freePort()];
    const names = [`127.0.0.1:${ports[0]}`, `localhost:${ports[1]}`];
    const tls = await writeFederationTls(dir, ports, (i) => `federation bench server ${names[i]}`);

    resident = await startFederationInstance({
      dir,
      caFile: tls.caFile,
      name: names[0],
      port: ports[0],
      env: databases[0] ? { HS_DATABASE__URL: databases[0].url } : {},
    });
    joiner = await startServer({
      databaseUrl: databases[1]?.url,
      entry: process.env.BENCH_ENTRY === 'dist' ? 'dist' : 'ts',
      nodeArgs: (process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean),
      // info: the join's own timings are logged (`joined a room through another server`).
      logLevel: 'info',
      keepLines: 5000,
      env: {
        HS_SERVER_NAME: names[1],
        HS_FEDERATION_LISTENER__ENABLED: 'true',
        HS_FEDERATION_LISTENER__BIND_ADDRESS: '127.0.0.1',
        HS_FEDERATION_LISTENER__PORT: String(ports[1]),
        HS_FEDERATION_LISTENER__TLS_CERTIFICATE_PATH: join(dir, `${ports[1]}.crt`),
        HS_FEDERATION_LISTENER__TLS_PRIVATE_KEY_PATH: join(dir, `${ports[1]}.key`),
        HS_FEDERATION__TLS_CA_FILE: tls.caFile,
      },
    });
    console.log(`federation join benchmark: ${backend}, ${MEMBERS} members, ${STATE} state events, burst of ${MESSAGES} messages`);

    // 1. The synthetic room on the resident.
    const setupStart = performance.now();
    const alice = await registerUser(resident.url, 'alice');
    const created = await call<{ room_id: string }>(resident.url, 'POST', 'createRoom', { token: alice.token, body: { preset: 'public_chat', name: 'Large room' } });
    if (created.status !== 200) throw new Error(`createRoom: ${created.status} ${JSON.stringify(created.body)}`);
    const roomId = created.body.room_id;
    const writer = resident.server.clientApp.get(RoomWriter, { strict: false });
    const snapshot = await writer.reader.snapshot(roomId);
    if (!snapshot) throw new Error('the room is not in the write model');
    const key = parseSigningKeyFile(readFileSync(resident.config.signing_key_path, 'utf8'))[0];
    const builder = new RoomBuilder(
      snapshot.rules,
      roomId,
      names[0],
      key,
      new Map([...snapshot.state].map(([k, e]) => [k, e.event_id])),
      snapshot.extremities.map((x) => ({ eventId: x.eventId, depth: x.depth })),
    );
    const firstPrevs = snapshot.extremities.map((x) => ({ eventId: x.eventId, depth: x.depth }));
    const member = (i: number) => `@m${String(i).padStart(6, '0')}:${names[0]}`;
    for (let i = 0; i < MEMBERS; i++) builder.add(member(i), 'm.room.member', member(i), { membership: 'join' });
    for (let i = 0; i < MEMBERS; i++) builder.add(member(i), 'm.room.member', member(i), { membership: 'join', displayname: `Member ${i}` });
    const fillers = STATE - MEMBERS - snapshot.state.size;
    for (let i = 0; i < fillers - 1; i++) builder.add(alice.userId, FILLER, `f${i}`, { value: i });
    // The last event is placed on the state before it, and also names the room's extremity (so it is the only one).
    const stateBeforeLast = builder.snapshot();
    builder.add(alice.userId, FILLER, `f${fillers - 1}`, { value: fillers - 1 }, firstPrevs);
    const built = performance.now();
    const outliers: IncomingPdu[] = builder.events.slice(0, -1).map((e) => ({ event: e.event, pdu: e.pdu, outlier: true }));
    for (let i = 0; i < outliers.length; i += BUILD_BATCH) await writer.ingest(roomId, outliers.slice(i, i + BUILD_BATCH));
    const last = builder.events[builder.events.length - 1];
    const [placed] = await writer.ingest(roomId, [{ event: last.event, pdu: last.pdu, stateBefore: stateBeforeLast }]);
    if (placed.outcome !== 'accepted') throw new Error(`the room's last event was ${placed.outcome}: ${placed.reason ?? ''}`);
    const ingested = performance.now();
    const projections = resident.server.projections;
    while (projections && (await projections.status()).some((s) => s.lag > 0n)) await sleep(200);
    console.log(
      `resident room: ${builder.events.length} events built and signed in ${seconds(built - setupStart)}, placed in ${seconds(ingested - built)}, ` +
        `read models caught up after ${seconds(performance.now() - ingested)}; current state ${(await writer.reader.currentStateEntries(roomId)).length} events`,
    );

    // 2. The join.
    const bob = await registerUser(joiner.url, 'bob');
    let since = (await syncOnce(joiner.url, bob, undefined, 0)).next_batch;
    const cpuBefore = cpuSeconds(joiner.pid);
    mark('join');
    const joinStart = performance.now();
    let joinedAt = 0;
    let joinError: unknown;
    const joining = call(joiner.url, 'POST', `/_matrix/client/v3/join/${encodeURIComponent(roomId)}`, {
      token: bob.token,
      query: { server_name: names[0] },
      body: {},
    }).then(
      (reply) => {
        joinedAt = performance.now();
        mark('join answered');
        if (reply.status !== 200) joinError = new Error(`join: ${reply.status} ${JSON.stringify(reply.body)}`);
      },
      (error: unknown) => {
        joinError = error;
      },
    );
    let shownAt = 0;
    const deadline = Date.now() + 600_000;
    while (!shownAt && !joinError && Date.now() < deadline) {
      const answer = await syncOnce(joiner.url, bob, since, 5000);
      since = answer.next_batch;
      if (answer.rooms?.join?.[roomId]) shownAt = performance.now();
    }
    await joining;
    if (joinError) throw joinError;
    if (!shownAt) throw new Error('the room did not show in /sync within 10 minutes');
    mark('joined');
    const afterJoin = memoryMb(joiner.pid);
    const joinCpu = cpuSeconds(joiner.pid) - cpuBefore;
    console.log(`join completed (POST /join answered): ${seconds(joinedAt - joinStart)}  [target < 30 s]`);
    const phases = joiner.lines.find((line) => line.msg === 'joined a room through another server');
    if (phases) {
      const ms = (name: string) => seconds(Number(phases[name]));
      console.log(
        `  of which: make_join and send_join answered ${ms('answerMs')} (${String(phases.state)} state events, ${String(phases.authChain)} in the auth chain), ` +
          `checked ${ms('checkMs')}, stored ${ms('storeMs')}`,
      );
    }
    console.log(`room shown in the joining user's /sync: ${seconds(shownAt - joinStart)}`);
    console.log(`joining server: peak resident memory ${afterJoin.peak} MB [target < 500 MB], now ${afterJoin.now} MB; CPU ${joinCpu.toFixed(1)} s`);

    // 3. The burst.
    if (MESSAGES > 0) {
      mark('burst');
      const burstStart = performance.now();
      const body = (i: number) => `burst ${i}`;
      const writing = (async () => {
        for (let i = 0; i < MESSAGES; i += 100) {
          const count = Math.min(100, MESSAGES - i);
          await writer.write(roomId, () => ({
            events: Array.from({ length: count }, (_, j) => ({ sender: alice.userId, type: 'm.room.message', content: { msgtype: 'm.text', body: body(i + j) } })),
          }));
        }
        return performance.now();
      })();
      let firstSeen = 0;
      let lastSeen = 0;
      const lastBody = body(MESSAGES - 1);
      const burstDeadline = Date.now() + 1_200_000;
      const cpuBurst = cpuSeconds(joiner.pid);
      while (!lastSeen && Date.now() < burstDeadline) {
        const answer = await syncOnce(joiner.url, bob, since, 5000);
        since = answer.next_batch;
        const events = answer.rooms?.join?.[roomId]?.timeline?.events ?? [];
        const bodies = events.map((e) => e.content?.body).filter((b): b is string => typeof b === 'string' && b.startsWith('burst '));
        if (bodies.length > 0 && !firstSeen) firstSeen = performance.now();
        if (bodies.includes(lastBody)) lastSeen = performance.now();
      }
      mark('burst end');
      const written = await writing;
      if (!lastSeen) throw new Error('the last message of the burst did not arrive within 20 minutes');
      const burstCpu = cpuSeconds(joiner.pid) - cpuBurst;
      // Every message arrived: read the joining server's timeline back.
      let received = 0;
      let from: string | undefined;
      for (;;) {
        const page = await call<{ chunk: { content?: { body?: unknown } }[]; end?: string }>(joiner.url, 'GET', `rooms/${encodeURIComponent(roomId)}/messages`, {
          token: bob.token,
          query: { dir: 'b', limit: '1000', ...(from ? { from } : {}) },
        });
        received += page.body.chunk.filter((e) => typeof e.content?.body === 'string' && e.content.body.startsWith('burst ')).length;
        if (!page.body.end || page.body.chunk.length === 0) break;
        from = page.body.end;
      }
      console.log(`burst: ${MESSAGES} messages written on the resident in ${seconds(written - burstStart)}`);
      console.log(
        `inbound PDUs accepted: ${Math.round(MESSAGES / ((lastSeen - burstStart) / 1000))}/s from the first write to the last seen ` +
          `(${seconds(lastSeen - burstStart)}), ${firstSeen < lastSeen ? Math.round((MESSAGES - 1) / ((lastSeen - firstSeen) / 1000)) : NaN}/s from the first seen to the last; ` +
          `${received} of ${MESSAGES} in the joining server's timeline; joining server CPU ${(burstCpu / (MESSAGES / 1000)).toFixed(2)} s per 1000`,
      );
      console.log(`joining server: peak resident memory ${memoryMb(joiner.pid).peak} MB after the burst`);
    }
  } catch (error) {
    if (joiner) {
      console.error('joining server, last log lines:');
      for (const line of joiner.lines.slice(-30)) console.error(JSON.stringify(line).slice(0, 1000));
      console.error(joiner.stderr.join('').slice(-5000));
    }
    throw error;
  } finally {
    await joiner?.stop();
    await resident?.close();
    for (const database of databases) await database.drop();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
