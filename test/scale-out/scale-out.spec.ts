/**
 * The homeserver as several processes on one PostgreSQL database, joined by a real Kafka
 * broker: one process with the projector role (and the background senders), two client
 * processes and two room writers. Users on different client processes chat in the same rooms;
 * twenty concurrent senders lose and duplicate nothing; a room writer is killed in the middle
 * of a load and its rooms move to the other with every acknowledged event kept; the projector
 * process is killed and comes back; a client process is killed and its users go on through
 * the other one. The server federates with another instance: the process with the federation
 * roles serves other servers and sends to them, the client processes hand it what their users
 * send to other servers (to-device messages) over the bus. One client process also serves the
 * content repository, the other refuses it.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { call, freePort, registerUser, type TestUser } from '@hs/testing';
import { Partitioners } from 'kafkajs';
import { createTemporaryDatabase, type TemporaryDatabase } from '@hs/persistence';
import { startServer, type TestServer } from '../e2e/support/server';
import { startKafkaBroker, type KafkaBroker } from '../support/kafka-broker';
import { startFederationInstance, writeFederationTls } from '../support/federation-instances';
import type { InProcessServer } from '../support/in-process-server';
import { TestUser as FederatedUser } from '../federation/support/instances';
import { describeScaleOut } from './kafka-available';

interface SyncBody {
  next_batch: string;
  presence?: { events: Array<{ sender: string; content: { presence?: string; status_msg?: string } }> };
  rooms?: {
    join?: Record<string, { timeline?: { events: Array<{ event_id: string; type: string; sender: string; content: { body?: string } }> }; ephemeral?: { events: Array<{ type: string; content: { user_ids?: string[] } }> } }>;
  };
}

/** A timeline limit above any batch of these tests: incremental syncs leave nothing out. */
const FULL_TIMELINES = JSON.stringify({ room: { timeline: { limit: 1000 } } });

async function sync(base: string, user: TestUser, since?: string, timeoutMs = 0): Promise<SyncBody> {
  const reply = await call<SyncBody>(base, 'GET', 'sync', { token: user.token, query: { timeout: String(timeoutMs), filter: FULL_TIMELINES, ...(since ? { since } : {}) } });
  if (reply.status !== 200) throw new Error(`sync: ${reply.status} ${JSON.stringify(reply.body)}`);
  return reply.body;
}

/**
 * Long-polls like a client (each answer's next_batch is the next since) until `found` picks
 * something out of an answer; other news (presence, typing) may wake a poll first.
 */
async function syncUntil<T>(base: string, user: TestUser, since: string, found: (body: SyncBody) => T | undefined): Promise<T> {
  let token = since;
  for (let round = 0; round < 20; round++) {
    const body = await sync(base, user, token, 60_000);
    const value = found(body);
    if (value !== undefined) return value;
    token = body.next_batch;
  }
  throw new Error('twenty long-polls and still not there');
}

/** The presence of `userId` as /syncs from `since` show it, once its status message is `statusMsg` (or after ten polls). */
async function presenceSeen(base: string, user: TestUser, since: string, userId: string, statusMsg: string): Promise<{ presence?: string; status_msg?: string } | undefined> {
  let token = since;
  let seen: { presence?: string; status_msg?: string } | undefined;
  for (let round = 0; round < 10 && seen?.status_msg !== statusMsg; round++) {
    const body = await sync(base, user, token, 10_000);
    token = body.next_batch;
    seen = body.presence?.events.find((event) => event.sender === userId)?.content ?? seen;
  }
  return seen;
}

function timeline(body: SyncBody, roomId: string) {
  return body.rooms?.join?.[roomId]?.timeline?.events ?? [];
}

let txn = 0;
/** Sends a message; like a client, tries again with the same transaction id after a 5xx. */
async function send(base: string, user: TestUser, roomId: string, text: string, retries = 0): Promise<string> {
  txn += 1;
  const path = `rooms/${encodeURIComponent(roomId)}/send/m.room.message/t${txn}`;
  for (let attempt = 0; ; attempt++) {
    const reply = await call<{ event_id: string }>(base, 'PUT', path, { token: user.token, body: { msgtype: 'm.text', body: text } });
    if (reply.status === 200) return reply.body.event_id;
    if (reply.status < 500 || attempt >= retries) throw new Error(`send: ${reply.status} ${JSON.stringify(reply.body)}`);
  }
}

async function joinRoom(base: string, user: TestUser, roomId: string): Promise<void> {
  const reply = await call(base, 'POST', `join/${encodeURIComponent(roomId)}`, { token: user.token, body: {} });
  if (reply.status !== 200) throw new Error(`join: ${reply.status} ${JSON.stringify(reply.body)}`);
}

/** Every m.room.message body of the room, newest first, read back through /messages. */
async function bodies(base: string, user: TestUser, roomId: string): Promise<string[]> {
  const found: string[] = [];
  let from: string | undefined;
  for (;;) {
    const reply = await call<{ chunk: Array<{ type: string; content: { body?: string } }>; end?: string }>(base, 'GET', `rooms/${encodeURIComponent(roomId)}/messages`, {
      token: user.token,
      query: { dir: 'b', limit: '100', ...(from ? { from } : {}) },
    });
    if (reply.status !== 200) throw new Error(`messages: ${reply.status} ${JSON.stringify(reply.body)}`);
    for (const event of reply.body.chunk) if (event.type === 'm.room.message' && event.content.body !== undefined) found.push(event.content.body);
    if (reply.body.end === undefined || reply.body.chunk.length === 0) return found;
    from = reply.body.end;
  }
}

const PARTITIONS = 4;

/** The partition of the room-commands topic a room's commands go to (the producer's own choice). */
function partitionOf(roomId: string): number {
  const partitioner = Partitioners.DefaultPartitioner();
  const partitionMetadata = Array.from({ length: PARTITIONS }, (_, partitionId) => ({ partitionId, leader: 1, replicas: [1], isr: [1], partitionErrorCode: 0 }));
  return partitioner({ topic: 'room-commands', partitionMetadata, message: { key: roomId, value: '' } });
}

/** The partitions of room commands a room writer holds, as it last logged them. */
function shareOf(server: TestServer): number[] {
  const joins = server.lines.filter((line) => line.msg === 'bus: consumer group share assigned' && line.group === 'room-writers');
  return (joins[joins.length - 1]?.partitions as number[] | undefined) ?? [];
}

/** Room events a process appended to the event store itself (its /metrics). */
async function roomEventsAppendedBy(server: TestServer): Promise<number> {
  const metrics = await (await fetch(`${server.url}/metrics`)).text();
  const match = /^eventstore_appended_events_total\{category="room"\} ([0-9]+)/m.exec(metrics);
  return match ? Number(match[1]) : 0;
}

describeScaleOut('scale-out: two client processes and a projector process on Kafka', true, () => {
  jest.setTimeout(180_000);
  let broker: KafkaBroker;
  let database: TemporaryDatabase;
  let dir: string;
  let env: Record<string, string>;
  let projector: TestServer;
  let clientA: TestServer;
  let clientB: TestServer;
  let writer1: TestServer;
  let writer2: TestServer;
  let alice: TestUser;
  let bob: TestUser;
  let roomId: string;
  /** Another server, federating with this one, and a user of it in the room. */
  let remote: { name: string; port: number; server: InProcessServer };
  let carol: FederatedUser;

  const startProjector = () =>
    startServer({
      dir,
      databaseUrl: database.url,
      readyMessage: 'homeserver running',
      keepLines: 5000,
      env: { ...env, HS_ROLES: '["projector","pusher","appservice-sender","federation","federation-sender"]' },
    });
  /** Client A also serves the content repository; client B does not. */
  const startClientA = () => startServer({ dir, databaseUrl: database.url, keepLines: 5000, env: { ...env, HS_ROLES: '["client","media"]' } });
  const startClientB = () => startServer({ dir, databaseUrl: database.url, keepLines: 5000, env: { ...env, HS_ROLES: '["client"]' } });
  const startWriter = () => startServer({ dir, databaseUrl: database.url, readyMessage: 'homeserver running', keepLines: 5000, env: { ...env, HS_ROLES: '["room-writer"]' } });

  beforeAll(async () => {
    broker = await startKafkaBroker();
    database = await createTemporaryDatabase(process.env.TEST_DATABASE_URL!, 'hs_scale_out');
    dir = mkdtempSync(join(tmpdir(), 'hs-scale-out-'));
    const [port, remotePort] = await Promise.all([freePort(), freePort()]);
    const { caFile } = await writeFederationTls(dir, [port, remotePort], (i) => `scale-out test server ${i}`);
    env = {
      HS_SERVER_NAME: `127.0.0.1:${port}`,
      HS_FEDERATION_LISTENER__ENABLED: 'true',
      HS_FEDERATION_LISTENER__BIND_ADDRESS: '127.0.0.1',
      HS_FEDERATION_LISTENER__PORT: String(port),
      HS_FEDERATION_LISTENER__TLS_CERTIFICATE_PATH: join(dir, `${port}.crt`),
      HS_FEDERATION_LISTENER__TLS_PRIVATE_KEY_PATH: join(dir, `${port}.key`),
      HS_FEDERATION__TLS_CA_FILE: caFile,
      HS_FEDERATION__REQUEST_TIMEOUT_MS: '5000',
      HS_KAFKA__BROKERS: JSON.stringify([broker.bootstrap]),
      HS_KAFKA__TOPIC_PREFIX: `hs.${randomBytes(3).toString('hex')}.`,
      HS_KAFKA__PARTITIONS: String(PARTITIONS),
    };
    // The first start writes the configuration and keys every process of the server shares.
    projector = await startProjector();
    [clientA, clientB, writer1, writer2] = await Promise.all([startClientA(), startClientB(), startWriter(), startWriter()]);
    remote = {
      name: `localhost:${remotePort}`,
      port: remotePort,
      server: await startFederationInstance({ dir, caFile, name: `localhost:${remotePort}`, port: remotePort, env: { HS_FEDERATION__REQUEST_TIMEOUT_MS: '5000' } }),
    };
    alice = await registerUser(clientA.url, 'alice');
    bob = await registerUser(clientB.url, 'bob');
    const created = await call<{ room_id: string }>(clientA.url, 'POST', 'createRoom', { token: alice.token, body: { preset: 'public_chat', name: 'scale-out' } });
    expect(created.status).toBe(200);
    roomId = created.body.room_id;
    await joinRoom(clientB.url, bob, roomId);
  });

  afterEach(() => {
    // What went wrong inside the processes, for a failing test.
    for (const [name, server] of [['projector', projector], ['client A', clientA], ['client B', clientB], ['writer 1', writer1], ['writer 2', writer2]] as const) {
      const errors = server?.lines.filter((line) => typeof line.level === 'number' && line.level >= 40 && line.logger !== 'kafkajs') ?? [];
      if (errors.length > 0) console.warn(`${name} logged errors:\n${errors.slice(-5).map((line) => JSON.stringify(line)).join('\n')}`);
    }
  });

  afterAll(async () => {
    await Promise.allSettled([clientA, clientB, writer1, writer2, projector].filter(Boolean).map((server) => server.stop()));
    await remote?.server.close();
    await broker?.stop();
    await database?.drop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('wakes a /sync on one client process with a message sent through the other', async () => {
    const since = (await sync(clientB.url, bob)).next_batch;
    const started = Date.now();
    let eventId = '';
    const waiting = syncUntil(clientB.url, bob, since, (body) => timeline(body, roomId).find((event) => event.event_id === eventId));
    await new Promise((resolve) => setTimeout(resolve, 300));
    eventId = await send(clientA.url, alice, roomId, 'hello from A');
    const woken = await waiting;
    // Woken by the message, long before a long-poll's own 60 s.
    expect(Date.now() - started).toBeLessThan(30_000);
    expect(woken.content.body).toBe('hello from A');
  });

  it('reads on one client process see every write acknowledged on the other', async () => {
    for (let i = 0; i < 20; i++) {
      const eventId = await send(clientA.url, alice, roomId, `read-your-writes ${i}`);
      const reply = await call<{ chunk: Array<{ event_id: string }> }>(clientB.url, 'GET', `rooms/${encodeURIComponent(roomId)}/messages`, {
        token: bob.token,
        query: { dir: 'b', limit: '1' },
      });
      expect(reply.status).toBe(200);
      expect(reply.body.chunk[0]?.event_id).toBe(eventId);
      const event = await call(clientB.url, 'GET', `rooms/${encodeURIComponent(roomId)}/event/${encodeURIComponent(eventId)}`, { token: bob.token });
      expect(event.status).toBe(200);
    }
  });

  it('shows typing on one client process to a /sync on the other', async () => {
    const since = (await sync(clientB.url, bob)).next_batch;
    const waiting = syncUntil(clientB.url, bob, since, (body) => body.rooms?.join?.[roomId]?.ephemeral?.events.find((event) => event.type === 'm.typing'));
    await new Promise((resolve) => setTimeout(resolve, 300));
    const typing = await call(clientA.url, 'PUT', `rooms/${encodeURIComponent(roomId)}/typing/${encodeURIComponent(alice.userId)}`, {
      token: alice.token,
      body: { typing: true, timeout: 20_000 },
    });
    expect(typing.status).toBe(200);
    expect((await waiting).content.user_ids).toEqual([alice.userId]);
  });

  it('shows presence set on one client process to a /sync on the other', async () => {
    const token = (await sync(clientB.url, bob)).next_batch;
    const set = await call(clientA.url, 'PUT', `presence/${encodeURIComponent(alice.userId)}/status`, { token: alice.token, body: { presence: 'online', status_msg: 'on A' } });
    expect(set.status).toBe(200);
    expect(await presenceSeen(clientB.url, bob, token, alice.userId, 'on A')).toMatchObject({ presence: 'online', status_msg: 'on A' });
    const read = await call<{ presence: string; status_msg?: string }>(clientB.url, 'GET', `presence/${encodeURIComponent(alice.userId)}/status`, { token: bob.token });
    expect(read.body).toMatchObject({ presence: 'online', status_msg: 'on A' });
  });

  it('federates: another server joins through the federation process, and messages and to-device messages reach it from the client processes', async () => {
    carol = await FederatedUser.register(remote, 'carol');
    await carol.join(roomId, [env.HS_SERVER_NAME]);
    // Ours to theirs: the federation sender reads the room event from the store.
    await send(clientA.url, alice, roomId, 'hello other server');
    await carol.waitForMessage(roomId, 'hello other server', 60_000);
    // Theirs to ours: in through the federation listener, out through /sync on a client process.
    const since = (await sync(clientB.url, bob)).next_batch;
    await carol.send(roomId, 'hello from the other server');
    const seen = await syncUntil(clientB.url, bob, since, (body) => timeline(body, roomId).find((event) => event.content.body === 'hello from the other server'));
    expect(seen.sender).toBe(carol.userId);
    // A to-device message of a client process without the sender travels the bus to it.
    const toDevice = await call(clientB.url, 'PUT', `sendToDevice/org.example.scale_out/td${Date.now()}`, {
      token: bob.token,
      body: { messages: { [carol.userId]: { '*': { greeting: 'through the sender process' } } } },
    });
    expect(toDevice.status).toBe(200);
    const received = await carol.syncUntil((body) => {
      const events = (body.to_device as { events?: Array<{ type: string; sender: string; content: Record<string, unknown> }> } | undefined)?.events ?? [];
      return events.find((event) => event.type === 'org.example.scale_out');
    }, 60_000);
    expect(received).toEqual({ type: 'org.example.scale_out', sender: bob.userId, content: { greeting: 'through the sender process' } });
    // Presence of the other server's user, received by the federation process, shows on a client process.
    const token = (await sync(clientB.url, bob)).next_batch;
    expect((await carol.call('PUT', `/_matrix/client/v3/presence/${encodeURIComponent(carol.userId)}/status`, { presence: 'online', status_msg: 'from afar' })).status).toBe(200);
    expect(await presenceSeen(clientB.url, bob, token, carol.userId, 'from afar')).toMatchObject({ presence: 'online', status_msg: 'from afar' });
  });

  it('serves the content repository on the process with the media role only', async () => {
    const upload = await fetch(`${clientA.url}/_matrix/media/v3/upload?filename=a.txt`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${alice.token}`, 'Content-Type': 'text/plain' },
      body: 'media on its own process',
    });
    expect(upload.status).toBe(200);
    const uri = ((await upload.json()) as { content_uri: string }).content_uri;
    const [serverName, mediaId] = uri.slice('mxc://'.length).split('/');
    const download = await fetch(`${clientA.url}/_matrix/client/v1/media/download/${serverName}/${mediaId}`, { headers: { Authorization: `Bearer ${bob.token}` } });
    expect(download.status).toBe(200);
    expect(await download.text()).toBe('media on its own process');
    // Client B runs no media role: the content repository is not there, the rest of the API is.
    const refused = await fetch(`${clientB.url}/_matrix/client/v1/media/download/${serverName}/${mediaId}`, { headers: { Authorization: `Bearer ${bob.token}` } });
    expect(refused.status).toBe(404);
    expect(await refused.json()).toEqual({ errcode: 'M_UNRECOGNIZED', error: 'This endpoint is not served by this process of the server' });
    const refusedUpload = await fetch(`${clientB.url}/_matrix/media/v3/upload`, { method: 'POST', headers: { Authorization: `Bearer ${bob.token}`, 'Content-Type': 'text/plain' }, body: 'x' });
    expect(refusedUpload.status).toBe(404);
    expect((await sync(clientB.url, bob)).next_batch).toEqual(expect.any(String));
  });

  it('keeps every message of twenty concurrent senders on both processes, each once', async () => {
    const senders = await Promise.all(Array.from({ length: 20 }, (_, i) => registerUser(i % 2 === 0 ? clientA.url : clientB.url, `sender${i}`)));
    const via = (i: number) => (i % 2 === 0 ? clientA.url : clientB.url);
    await Promise.all(senders.map((sender, i) => joinRoom(via(i), sender, roomId)));
    const since = (await sync(clientA.url, alice)).next_batch;
    const appendedBefore = await Promise.all([clientA, clientB].map(roomEventsAppendedBy));
    const sent = await Promise.all(
      senders.map(async (sender, i) => {
        const ids: string[] = [];
        for (let n = 0; n < 10; n++) ids.push(await send(via(i), sender, roomId, `load ${i}.${n}`));
        return ids;
      }),
    );
    const ids = sent.flat();
    expect(new Set(ids).size).toBe(200);
    const expected = senders.flatMap((_, i) => Array.from({ length: 10 }, (__, n) => `load ${i}.${n}`));
    const read = (await bodies(clientB.url, bob, roomId)).filter((body) => body.startsWith('load '));
    expect([...read].sort()).toEqual([...expected].sort());
    // Each sender's messages in the order it sent them.
    const chronological = read.reverse();
    for (let i = 0; i < 20; i++) {
      const own = chronological.filter((body) => body.startsWith(`load ${i}.`));
      expect(own).toEqual(Array.from({ length: 10 }, (_, n) => `load ${i}.${n}`));
    }
    // The incremental /sync of the other process delivers each event exactly once.
    const delivered: string[] = [];
    let token = since;
    for (let round = 0; round < 100 && delivered.filter((id) => ids.includes(id)).length < 200; round++) {
      const body = await sync(clientA.url, alice, token, 5_000);
      delivered.push(...timeline(body, roomId).map((event) => event.event_id));
      token = body.next_batch;
    }
    const loadEvents = delivered.filter((id) => ids.includes(id));
    expect(loadEvents).toHaveLength(200);
    expect(new Set(loadEvents).size).toBe(200);
    // The client processes sent the commands to the room writers and appended no room event themselves.
    expect(await Promise.all([clientA, clientB].map(roomEventsAppendedBy))).toEqual(appendedBefore);
  });

  it('moves the rooms of a room writer killed in the middle of a load to the other, keeping every acknowledged event', async () => {
    // Two rooms the writer to be killed owns, two the other one owns.
    const share = shareOf(writer1);
    expect(share.length).toBeGreaterThan(0);
    const owned: string[] = [];
    const others: string[] = [];
    while (owned.length < 2 || others.length < 2) {
      const created = await call<{ room_id: string }>(clientA.url, 'POST', 'createRoom', { token: alice.token, body: { preset: 'public_chat' } });
      expect(created.status).toBe(200);
      const list = share.includes(partitionOf(created.body.room_id)) ? owned : others;
      if (list.length < 2) list.push(created.body.room_id);
    }
    const rooms = [owned[0], others[0], owned[1], others[1]];
    const senders = await Promise.all(Array.from({ length: 8 }, (_, i) => registerUser(i % 2 === 0 ? clientA.url : clientB.url, `crash${i}`)));
    const via = (i: number) => (i % 2 === 0 ? clientA.url : clientB.url);
    await Promise.all(senders.map((sender, i) => joinRoom(via(i), sender, rooms[i % 4])));
    let acknowledged = 0;
    const killed = (async () => {
      while (acknowledged < 40) await new Promise((resolve) => setTimeout(resolve, 10));
      process.kill(writer1.pid, 'SIGKILL');
      await writer1.stop();
    })();
    const sent = await Promise.all(
      senders.map(async (sender, i) => {
        const ids: string[] = [];
        for (let n = 0; n < 20; n++) {
          ids.push(await send(via(i), sender, rooms[i % 4], `crash ${i}.${n}`, 3));
          acknowledged += 1;
        }
        return ids;
      }),
    );
    await killed;
    expect(new Set(sent.flat()).size).toBe(160);
    for (let r = 0; r < 4; r++) {
      const read = (await bodies(clientB.url, senders[r], rooms[r])).filter((body) => body.startsWith('crash ')).reverse();
      const expected = senders.flatMap((_, i) => (i % 4 === r ? Array.from({ length: 20 }, (__, n) => `crash ${i}.${n}`) : []));
      // Every message once, and each sender's in the order it sent them.
      expect([...read].sort()).toEqual([...expected].sort());
      for (let i = r; i < 8; i += 4) expect(read.filter((body) => body.startsWith(`crash ${i}.`))).toEqual(Array.from({ length: 20 }, (_, n) => `crash ${i}.${n}`));
    }
    // Back to two writers: the rooms are shared out again.
    writer1 = await startWriter();
  });

  it('keeps a second projector and federation sender standing by, and lets it take over when the first dies', async () => {
    const standby = await startServer({
      dir,
      databaseUrl: database.url,
      readyMessage: 'another process runs the projections: this one stands by and takes over when it stops',
      keepLines: 5000,
      env: { ...env, HS_ROLES: '["projector","federation-sender"]' },
    });
    try {
      process.kill(projector.pid, 'SIGKILL');
      await projector.stop();
      const deadline = Date.now() + 60_000;
      while (!standby.lines.some((line) => line.msg === 'homeserver running') && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
      expect(standby.lines.some((line) => line.msg === 'homeserver running')).toBe(true);
      const eventId = await send(clientA.url, alice, roomId, 'read through the standby');
      const read = await call<{ chunk: Array<{ event_id: string }> }>(clientB.url, 'GET', `rooms/${encodeURIComponent(roomId)}/messages`, { token: bob.token, query: { dir: 'b', limit: '1' } });
      expect(read.body.chunk[0]?.event_id).toBe(eventId);
      // The other server hears of it from the process that took over the sending.
      await carol.waitForMessage(roomId, 'read through the standby', 60_000);
      expect(standby.lines.some((line) => line.msg === 'federation sender started')).toBe(true);
    } finally {
      await standby.stop();
    }
    projector = await startProjector();
  });

  it('keeps writes acknowledged while the projector process is down, and shows them once it is back', async () => {
    process.kill(projector.pid, 'SIGKILL');
    await projector.stop();
    const sent: string[] = [];
    for (let i = 0; i < 20; i++) {
      await send(i % 2 === 0 ? clientA.url : clientB.url, alice, roomId, `while down ${i}`);
      sent.push(`while down ${i}`);
    }
    projector = await startProjector();
    const deadline = Date.now() + 60_000;
    let read: string[] = [];
    while (Date.now() < deadline) {
      read = (await bodies(clientB.url, bob, roomId)).filter((body) => body.startsWith('while down '));
      if (read.length >= sent.length) break;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    expect(read.reverse()).toEqual(sent);
    // Caught up: a new write is read at once again.
    const eventId = await send(clientA.url, alice, roomId, 'after the restart');
    const last = await call<{ chunk: Array<{ event_id: string }> }>(clientB.url, 'GET', `rooms/${encodeURIComponent(roomId)}/messages`, { token: bob.token, query: { dir: 'b', limit: '1' } });
    expect(last.body.chunk[0]?.event_id).toBe(eventId);
  });

  it('lets the users of a client process that was killed go on through the other one', async () => {
    const since = (await sync(clientA.url, alice)).next_batch;
    process.kill(clientA.pid, 'SIGKILL');
    await clientA.stop();
    // The same access token and sync token, on the other process (which may answer at once with
    // what its own typing and presence counters say is new: the client syncs again, as clients do).
    const seen: string[] = [];
    const polling = (async () => {
      let token = since;
      for (let round = 0; round < 20 && seen.length === 0; round++) {
        const body = await sync(clientB.url, alice, token, 30_000);
        seen.push(...timeline(body, roomId).map((event) => event.event_id));
        token = body.next_batch;
      }
    })();
    await new Promise((resolve) => setTimeout(resolve, 300));
    const eventId = await send(clientB.url, bob, roomId, 'after A died');
    await polling;
    expect(seen).toContain(eventId);
    const own = await send(clientB.url, alice, roomId, 'alice on B');
    const read = await call<{ chunk: Array<{ event_id: string }> }>(clientB.url, 'GET', `rooms/${encodeURIComponent(roomId)}/messages`, { token: bob.token, query: { dir: 'b', limit: '1' } });
    expect(read.body.chunk[0]?.event_id).toBe(own);
    clientA = await startClientA();
    expect((await sync(clientA.url, alice)).next_batch).toEqual(expect.any(String));
  });
});
