/**
 * Read-your-writes scenarios over real HTTP: each iteration makes one write, waits for its
 * 200, then reads at once (each request starts only after the previous response arrived) and
 * counts the reads that do not reflect the write ("misses"). A background load of senders
 * keeps the projections busy meanwhile. bench/read-your-writes prints the counts without
 * asserting; a suite asserts that they are zero.
 *
 * Reads of one write by several readers are taken in an order that rotates with the
 * iteration, so that each reader is the first to read after the write as often as the others.
 */
import { Pool } from 'undici';
import { registerUser, type TestUser } from '@hs/testing';

const enc = encodeURIComponent;

export interface Reply<T> {
  status: number;
  body: T;
}

export interface RequestOptions {
  token?: string;
  body?: unknown;
  query?: Record<string, string>;
}

/** A JSON client over kept-alive connections (undici), cheap enough not to be the bottleneck. */
export interface Http {
  request<T = Record<string, unknown>>(method: 'GET' | 'PUT' | 'POST', path: string, options?: RequestOptions): Promise<Reply<T>>;
  close(): Promise<void>;
}

export function httpClient(base: string, connections: number): Http {
  const pool = new Pool(base, { connections, pipelining: 1 });
  return {
    async request<T>(method: 'GET' | 'PUT' | 'POST', path: string, options: RequestOptions = {}): Promise<Reply<T>> {
      const search = options.query ? `?${new URLSearchParams(options.query).toString()}` : '';
      const headers: Record<string, string> = {};
      if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
      if (options.body !== undefined) headers['content-type'] = 'application/json';
      const response = await pool.request({
        method,
        path: `/_matrix/client/v3/${path}${search}`,
        headers,
        ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
      });
      const text = await response.body.text();
      let body: unknown = text;
      try {
        body = text.length > 0 ? JSON.parse(text) : {};
      } catch {
        // not JSON: kept as text for the report
      }
      return { status: response.statusCode, body: body as T };
    },
    close: () => pool.close(),
  };
}

// ---------------------------------------------------------------------------------------------
// Background load

export interface LoadOptions {
  /** How many senders, each its own user sending into its own room (default 10). */
  senders?: number;
  /** Pause of each sender between the response to a send and its next send, in ms (default 0: back to back). */
  pauseMs?: number;
  /** The load stops by itself after this many messages in all (default 1,000,000). */
  maxMessages?: number;
  /** ... or after this long, in ms (default 15 minutes). */
  maxMs?: number;
}

export interface LoadSummary {
  senders: number;
  sent: number;
  errors: number;
  seconds: number;
  /** The first failed send, if any. */
  firstError?: string;
}

export interface BackgroundLoad {
  /** Messages sent so far. */
  sent(): number;
  /** Stops every sender and waits for their last requests. */
  stop(): Promise<LoadSummary>;
}

/** Registers the senders, creates their rooms, starts sending; resolves once every sender has sent once. */
export async function startBackgroundLoad(base: string, options: LoadOptions = {}): Promise<BackgroundLoad> {
  const count = options.senders ?? 10;
  const pauseMs = options.pauseMs ?? 0;
  const maxMessages = options.maxMessages ?? 1_000_000;
  const deadline = Date.now() + (options.maxMs ?? 15 * 60_000);
  const http = httpClient(base, count);
  const senders: { user: TestUser; roomId: string }[] = [];
  for (let i = 0; i < count; i++) {
    const user = await registerUser(base, `load${i}_`);
    const created = await http.request<{ room_id: string }>('POST', 'createRoom', { token: user.token, body: { preset: 'private_chat', name: `load ${i}` } });
    if (created.status !== 200) throw new Error(`load createRoom: ${created.status} ${JSON.stringify(created.body)}`);
    senders.push({ user, roomId: created.body.room_id });
  }
  let running = true;
  let sent = 0;
  let errors = 0;
  let firstError: string | undefined;
  const started = Date.now();
  let firstSends = 0;
  let allStarted: () => void = () => undefined;
  const everySenderSent = new Promise<void>((resolve) => (allStarted = resolve));
  const loops = senders.map(async ({ user, roomId }, i) => {
    let n = 0;
    let first = true;
    while (running && sent < maxMessages && Date.now() < deadline) {
      try {
        const response = await http.request('PUT', `rooms/${enc(roomId)}/send/m.room.message/load${i}-${n++}`, {
          token: user.token,
          body: { msgtype: 'm.text', body: `load ${n}` },
        });
        if (response.status === 200) sent += 1;
        else {
          errors += 1;
          firstError ??= `${response.status} ${JSON.stringify(response.body)}`;
        }
      } catch (error) {
        if (!running) break;
        errors += 1;
        firstError ??= String(error);
      }
      if (first) {
        first = false;
        if (++firstSends === senders.length) allStarted();
      }
      if (pauseMs > 0) await new Promise((resolve) => setTimeout(resolve, pauseMs));
    }
    if (first && ++firstSends === senders.length) allStarted();
  });
  await everySenderSent;
  let summary: Promise<LoadSummary> | undefined;
  return {
    sent: () => sent,
    stop() {
      summary ??= (async () => {
        running = false;
        await Promise.all(loops);
        await http.close();
        return { senders: count, sent, errors, seconds: (Date.now() - started) / 1000, firstError };
      })();
      return summary;
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Scenarios

/** One read after a write: answers undefined when it reflects the write, else what it saw. */
interface Read {
  reader: string;
  check: () => Promise<string | undefined>;
  /** Taken before the others, in the iteration itself (its check reports what it saw); not rotated. */
  fixed?: boolean;
}

interface Scenario {
  id: string;
  title: string;
  /** Makes the write(s) of iteration `i` (throws when a write fails) and returns the reads to take. */
  iteration(i: number): Promise<Read[]>;
}

export interface ReaderCounts {
  reads: number;
  misses: number;
  /** What the first misses saw (at most 3). */
  examples: string[];
}

export interface ScenarioResult {
  id: string;
  title: string;
  iterations: number;
  readers: Record<string, ReaderCounts>;
  /** Writes (or the set-up writes of an iteration) that did not answer 200. */
  writeErrors: number;
  writeErrorExamples: string[];
  /** Events (or receipts) a /sync missed that no later incremental /sync of that user delivered either. */
  lost?: number;
  seconds: number;
}

export const SCENARIO_IDS = ['create-room', 'join', 'send-event', 'send-messages', 'redact', 'receipt', 'send-sync', 'profile', 'state'] as const;
export type ScenarioId = (typeof SCENARIO_IDS)[number];

interface ClientEvent {
  event_id: string;
  type: string;
  sender: string;
  state_key?: string;
  content: Record<string, unknown>;
}

interface SyncBody {
  next_batch: string;
  rooms?: {
    join?: Record<
      string,
      {
        timeline?: { events?: ClientEvent[] };
        ephemeral?: { events?: { type: string; content: Record<string, Record<string, Record<string, unknown>>> }[] };
      }
    >;
  };
}

class WriteFailed extends Error {}

function describeReply(reply: Reply<unknown>): string {
  const text = typeof reply.body === 'string' ? reply.body : JSON.stringify(reply.body);
  return `${reply.status} ${text.length > 120 ? `${text.slice(0, 120)}…` : text}`;
}

/**
 * The users and rooms the scenarios share: `creator` creates rooms; `joiner` leaves and joins
 * `joinRoom` (created by `creator`); `alice` writes and `bob` reads in `room`, where both are
 * joined and nobody else is.
 */
export class ReadYourWrites {
  private creator!: TestUser;
  private joiner!: TestUser;
  private alice!: TestUser;
  private bob!: TestUser;
  private room!: string;
  private joinRoom!: string;
  private readonly since = new Map<string, string>();
  private filter = '';
  private counter = 0;

  private constructor(
    private readonly base: string,
    private readonly http: Http,
  ) {}

  /** Registers the users and creates the rooms (and waits until the first reads see them). */
  static async open(base: string): Promise<ReadYourWrites> {
    const rw = new ReadYourWrites(base, httpClient(base, 2));
    await rw.setUp();
    return rw;
  }

  close(): Promise<void> {
    return this.http.close();
  }

  private async setUp(): Promise<void> {
    [this.creator, this.joiner, this.alice, this.bob] = [
      await registerUser(this.base, 'creator'),
      await registerUser(this.base, 'joiner'),
      await registerUser(this.base, 'alice'),
      await registerUser(this.base, 'bob'),
    ];
    this.room = await this.createRoom(this.alice, { preset: 'public_chat', name: 'read your writes' });
    await this.write('join', this.http.request('POST', `rooms/${enc(this.room)}/join`, { token: this.bob.token, body: {} }));
    this.joinRoom = await this.createRoom(this.creator, { preset: 'public_chat', name: 'join and leave' });
    await this.write('join', this.http.request('POST', `rooms/${enc(this.joinRoom)}/join`, { token: this.joiner.token, body: {} }));
    this.filter = JSON.stringify({
      room: { rooms: [this.room], timeline: { limit: 10 }, state: { lazy_load_members: true } },
      presence: { types: [] },
      account_data: { types: [] },
    });
    // Set-up is not measured: wait until the read side has bob's membership.
    for (let i = 0; i < 200; i++) {
      const members = await this.http.request<{ joined?: Record<string, unknown> }>('GET', `rooms/${enc(this.room)}/joined_members`, { token: this.alice.token });
      if (members.status === 200 && members.body.joined?.[this.bob.userId]) return;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    throw new Error('set-up: bob never appeared in /joined_members');
  }

  private async createRoom(user: TestUser, body: Record<string, unknown>): Promise<string> {
    const created = await this.write<{ room_id: string }>('createRoom', this.http.request('POST', 'createRoom', { token: user.token, body }));
    return created.room_id;
  }

  private async write<T>(what: string, reply: Promise<Reply<T>>): Promise<T> {
    const answered = await reply;
    if (answered.status !== 200) throw new WriteFailed(`${what}: ${describeReply(answered)}`);
    return answered.body;
  }

  private txn(): string {
    this.counter += 1;
    return `ryw${Date.now().toString(36)}${this.counter}`;
  }

  private async send(user: TestUser, body: string): Promise<string> {
    const sent = await this.write<{ event_id: string }>(
      'send',
      this.http.request('PUT', `rooms/${enc(this.room)}/send/m.room.message/${this.txn()}`, { token: user.token, body: { msgtype: 'm.text', body } }),
    );
    return sent.event_id;
  }

  /** An incremental /sync?timeout=0 of `user` from its last token (an initial one first, not measured). */
  private async sync(user: TestUser): Promise<Reply<SyncBody>> {
    let since = this.since.get(user.userId);
    if (since === undefined) {
      const initial = await this.http.request<SyncBody>('GET', 'sync', { token: user.token, query: { filter: this.filter, timeout: '0' } });
      if (initial.status !== 200) throw new WriteFailed(`initial sync: ${describeReply(initial)}`);
      since = initial.body.next_batch;
    }
    const reply = await this.http.request<SyncBody>('GET', 'sync', { token: user.token, query: { filter: this.filter, timeout: '0', since } });
    if (reply.status === 200) {
      this.since.set(user.userId, reply.body.next_batch);
      this.noteDelivered(user, reply.body);
    }
    return reply;
  }

  /** What a /sync body carries for the room: its timeline's event ids and the events its m.read receipts name (`receipt:<id>`). */
  private delivered(body: SyncBody): { timeline: string[]; receipts: string[] } {
    const section = body.rooms?.join?.[this.room];
    const receipts: string[] = [];
    for (const event of section?.ephemeral?.events ?? []) {
      if (event.type !== 'm.receipt') continue;
      for (const [eventId, types] of Object.entries(event.content)) if (types['m.read'] && Object.keys(types['m.read']).length > 0) receipts.push(`receipt:${eventId}`);
    }
    return { timeline: (section?.timeline?.events ?? []).map((e) => e.event_id), receipts };
  }

  private getEvent(user: TestUser, eventId: string): Promise<Reply<ClientEvent>> {
    return this.http.request<ClientEvent>('GET', `rooms/${enc(this.room)}/event/${enc(eventId)}`, { token: user.token });
  }

  private scenario(id: ScenarioId): Scenario {
    const { alice, bob, creator, joiner } = this;
    const room = this.room;
    switch (id) {
      case 'create-room':
        return {
          id,
          title: 'createRoom (with a name) then GET /rooms/{id}/state/m.room.name',
          iteration: async (i) => {
            const name = `consistency ${i} ${this.txn()}`;
            const roomId = await this.createRoom(creator, { name, preset: 'public_chat' });
            return [
              {
                reader: 'creator',
                check: async () => {
                  const reply = await this.http.request<{ name?: string }>('GET', `rooms/${enc(roomId)}/state/m.room.name`, { token: creator.token });
                  return reply.status === 200 && reply.body.name === name ? undefined : describeReply(reply);
                },
              },
            ];
          },
        };
      case 'join': {
        const joinedRooms = (user: TestUser) => this.http.request<{ joined_rooms?: string[] }>('GET', 'joined_rooms', { token: user.token });
        return {
          id,
          title: 'leave then GET /joined_rooms; join then GET /joined_rooms (joiner) and /joined_members (room creator)',
          iteration: async () => {
            await this.write('leave', this.http.request('POST', `rooms/${enc(this.joinRoom)}/leave`, { token: joiner.token, body: {} }));
            const afterLeave = await joinedRooms(joiner);
            const leaveMiss = afterLeave.status === 200 && !afterLeave.body.joined_rooms?.includes(this.joinRoom) ? undefined : describeReply(afterLeave);
            await this.write('join', this.http.request('POST', `rooms/${enc(this.joinRoom)}/join`, { token: joiner.token, body: {} }));
            return [
              { reader: 'joiner /joined_rooms after the leave', check: async () => leaveMiss, fixed: true },
              {
                reader: 'joiner /joined_rooms',
                check: async () => {
                  const reply = await joinedRooms(joiner);
                  return reply.status === 200 && reply.body.joined_rooms?.includes(this.joinRoom) ? undefined : describeReply(reply);
                },
              },
              {
                reader: 'creator /joined_members',
                check: async () => {
                  const reply = await this.http.request<{ joined?: Record<string, unknown> }>('GET', `rooms/${enc(this.joinRoom)}/joined_members`, { token: creator.token });
                  return reply.status === 200 && reply.body.joined?.[joiner.userId] ? undefined : describeReply(reply);
                },
              },
            ];
          },
        };
      }
      case 'send-event':
        return {
          id,
          title: 'send then GET /rooms/{id}/event/{eventId}',
          iteration: async (i) => {
            const eventId = await this.send(alice, `event ${i}`);
            const read = (reader: string, user: TestUser): Read => ({
              reader,
              check: async () => {
                const reply = await this.getEvent(user, eventId);
                return reply.status === 200 && reply.body.event_id === eventId ? undefined : describeReply(reply);
              },
            });
            return [read('sender', alice), read('other member', bob)];
          },
        };
      case 'send-messages':
        return {
          id,
          title: 'send then GET /rooms/{id}/messages?dir=b&limit=1',
          iteration: async (i) => {
            const eventId = await this.send(alice, `messages ${i}`);
            const read = (reader: string, user: TestUser): Read => ({
              reader,
              check: async () => {
                const reply = await this.http.request<{ chunk?: ClientEvent[] }>('GET', `rooms/${enc(room)}/messages`, { token: user.token, query: { dir: 'b', limit: '1' } });
                const top = reply.body.chunk?.[0];
                return reply.status === 200 && top?.event_id === eventId ? undefined : reply.status === 200 ? `top event ${top?.event_id ?? 'none'} (${top?.type ?? '-'})` : describeReply(reply);
              },
            });
            return [read('sender', alice), read('other member', bob)];
          },
        };
      case 'redact':
        return {
          id,
          title: 'redact then GET /rooms/{id}/event/{eventId} (content gone)',
          iteration: async (i) => {
            const eventId = await this.send(alice, `to be redacted ${i}`);
            await this.write('redact', this.http.request('PUT', `rooms/${enc(room)}/redact/${enc(eventId)}/${this.txn()}`, { token: alice.token, body: { reason: 'test' } }));
            const read = (reader: string, user: TestUser): Read => ({
              reader,
              check: async () => {
                const reply = await this.getEvent(user, eventId);
                if (reply.status !== 200) return describeReply(reply);
                return Object.keys(reply.body.content ?? {}).length === 0 ? undefined : `content ${JSON.stringify(reply.body.content)}`;
              },
            });
            return [read('redactor', alice), read('other member', bob)];
          },
        };
      case 'receipt':
        return {
          id,
          title: 'POST /receipt/m.read then the other member\'s incremental /sync?timeout=0 (ephemeral)',
          iteration: async (i) => {
            if (!this.since.has(bob.userId)) await this.sync(bob);
            const eventId = await this.send(bob, `receipt ${i}`);
            await this.write('receipt', this.http.request('POST', `rooms/${enc(room)}/receipt/m.read/${enc(eventId)}`, { token: alice.token, body: {} }));
            return [
              {
                reader: 'other member',
                check: async () => {
                  const reply = await this.sync(bob);
                  if (reply.status !== 200) return describeReply(reply);
                  const ephemeral = reply.body.rooms?.join?.[room]?.ephemeral?.events ?? [];
                  if (ephemeral.some((e) => e.type === 'm.receipt' && e.content[eventId]?.['m.read']?.[alice.userId] !== undefined)) return undefined;
                  this.noteMissed(bob, `receipt:${eventId}`);
                  const named = ephemeral.flatMap((e) => (e.type === 'm.receipt' ? Object.keys(e.content) : []));
                  return `receipts for [${named.join(', ')}]`;
                },
              },
            ];
          },
        };
      case 'send-sync':
        return {
          id,
          title: 'send then incremental /sync?timeout=0 (timeline)',
          iteration: async (i) => {
            for (const user of [alice, bob]) if (!this.since.has(user.userId)) await this.sync(user);
            const eventId = await this.send(alice, `sync ${i}`);
            const read = (reader: string, user: TestUser): Read => ({
              reader,
              check: async () => {
                const reply = await this.sync(user);
                if (reply.status !== 200) return describeReply(reply);
                const ids = this.delivered(reply.body).timeline;
                if (ids.includes(eventId)) return undefined;
                this.noteMissed(user, eventId);
                return `timeline [${ids.join(', ')}]`;
              },
            });
            return [read('sender', alice), read('other member', bob)];
          },
        };
      case 'profile':
        return {
          id,
          title: 'PUT /profile/{userId}/displayname then GET /rooms/{id}/joined_members',
          iteration: async (i) => {
            const name = `alice ${i} ${this.txn()}`;
            await this.write('displayname', this.http.request('PUT', `profile/${enc(alice.userId)}/displayname`, { token: alice.token, body: { displayname: name } }));
            const read = (reader: string, user: TestUser): Read => ({
              reader,
              check: async () => {
                const reply = await this.http.request<{ joined?: Record<string, { display_name?: string }> }>('GET', `rooms/${enc(room)}/joined_members`, { token: user.token });
                const seen = reply.body.joined?.[alice.userId]?.display_name;
                return reply.status === 200 && seen === name ? undefined : reply.status === 200 ? `display_name ${JSON.stringify(seen)}` : describeReply(reply);
              },
            });
            return [read('the user', alice), read('other member', bob)];
          },
        };
      case 'state':
        return {
          id,
          title: 'PUT /rooms/{id}/state/m.room.member/{userId} (new displayname) then GET /rooms/{id}/state and /members',
          iteration: async (i) => {
            const name = `state ${i} ${this.txn()}`;
            await this.write(
              'state',
              this.http.request('PUT', `rooms/${enc(room)}/state/m.room.member/${enc(alice.userId)}`, { token: alice.token, body: { membership: 'join', displayname: name } }),
            );
            const member = (events: ClientEvent[] | undefined) => events?.find((e) => e.type === 'm.room.member' && e.state_key === alice.userId)?.content.displayname;
            const state = (reader: string, user: TestUser): Read => ({
              reader: `${reader} /state`,
              check: async () => {
                const reply = await this.http.request<ClientEvent[]>('GET', `rooms/${enc(room)}/state`, { token: user.token });
                const seen = reply.status === 200 && Array.isArray(reply.body) ? member(reply.body) : undefined;
                return seen === name ? undefined : reply.status === 200 ? `displayname ${JSON.stringify(seen)}` : describeReply(reply);
              },
            });
            const members = (reader: string, user: TestUser): Read => ({
              reader: `${reader} /members`,
              check: async () => {
                const reply = await this.http.request<{ chunk?: ClientEvent[] }>('GET', `rooms/${enc(room)}/members`, { token: user.token });
                const seen = reply.status === 200 ? member(reply.body.chunk) : undefined;
                return seen === name ? undefined : reply.status === 200 ? `displayname ${JSON.stringify(seen)}` : describeReply(reply);
              },
            });
            return [state('writer', alice), members('other member', bob), members('writer', alice), state('other member', bob)];
          },
        };
    }
  }

  private readonly missed = new Map<string, Set<string>>();

  private noteMissed(user: TestUser, eventId: string): void {
    let set = this.missed.get(user.userId);
    if (!set) this.missed.set(user.userId, (set = new Set()));
    set.add(eventId);
  }

  private noteDelivered(user: TestUser, body: SyncBody): void {
    const set = this.missed.get(user.userId);
    if (!set || set.size === 0) return;
    const { timeline, receipts } = this.delivered(body);
    for (const id of timeline) set.delete(id);
    // Only alice posts receipts in the room: a later m.read of hers supersedes the earlier ones.
    if (receipts.length > 0) for (const id of set) if (id.startsWith('receipt:')) set.delete(id);
  }

  /** Runs `iterations` of one scenario and counts the misses of each reader. */
  async run(id: ScenarioId, iterations: number, onProgress?: (done: number) => void): Promise<ScenarioResult> {
    const scenario = this.scenario(id);
    const started = Date.now();
    const readers: Record<string, ReaderCounts> = {};
    let writeErrors = 0;
    const writeErrorExamples: string[] = [];
    this.missed.clear();
    for (let i = 0; i < iterations; i++) {
      let reads: Read[];
      try {
        reads = await scenario.iteration(i);
      } catch (error) {
        if (!(error instanceof WriteFailed)) throw error;
        writeErrors += 1;
        if (writeErrorExamples.length < 3) writeErrorExamples.push(error.message);
        continue;
      }
      // Reads already taken during the iteration come first; the others rotate.
      const fixed = reads.filter((r) => r.fixed);
      const rotating = reads.filter((r) => !r.fixed);
      const shift = rotating.length > 0 ? i % rotating.length : 0;
      const ordered = [...fixed, ...rotating.slice(shift), ...rotating.slice(0, shift)];
      for (const read of ordered) {
        const counts = (readers[read.reader] ??= { reads: 0, misses: 0, examples: [] });
        counts.reads += 1;
        let miss: string | undefined;
        try {
          miss = await read.check();
        } catch (error) {
          miss = error instanceof Error ? error.message : String(error);
        }
        if (miss !== undefined) {
          counts.misses += 1;
          if (counts.examples.length < 3) counts.examples.push(`#${i}: ${miss}`);
        }
      }
      onProgress?.(i + 1);
    }
    const result: ScenarioResult = { id, title: scenario.title, iterations, readers, writeErrors, writeErrorExamples, seconds: (Date.now() - started) / 1000 };
    if (id === 'send-sync' || id === 'receipt') {
      // Did a later incremental /sync deliver what one missed? (A token that went past an
      // event or receipt it did not carry loses it for good.)
      for (const user of [this.alice, this.bob]) {
        if ((this.missed.get(user.userId)?.size ?? 0) === 0) continue;
        await new Promise((resolve) => setTimeout(resolve, 500));
        for (let k = 0; k < 3; k++) await this.sync(user);
      }
      result.lost = [...this.missed.values()].reduce((sum, set) => sum + set.size, 0);
    }
    return result;
  }
}

/** One line per reader with a miss, per write error and per lost event (empty when the scenario held). */
export function missLines(result: ScenarioResult): string[] {
  const lines: string[] = [];
  for (const [reader, counts] of Object.entries(result.readers)) {
    if (counts.misses > 0) lines.push(`${result.id}, ${reader}: ${counts.misses}/${counts.reads} reads missed the write (${counts.examples.join('; ')})`);
  }
  if (result.writeErrors > 0) lines.push(`${result.id}: ${result.writeErrors} writes failed (${result.writeErrorExamples.join('; ')})`);
  if (result.lost) lines.push(`${result.id}: ${result.lost} events or receipts missed by a /sync were never delivered by the later ones`);
  return lines;
}

/** The counts of a scenario in one line per reader, misses or not. */
export function countLines(result: ScenarioResult): string[] {
  const lines = Object.entries(result.readers).map(([reader, c]) => `  ${reader}: ${c.misses}/${c.reads} missed${c.examples.length > 0 ? `  e.g. ${c.examples[0]}` : ''}`);
  if (result.writeErrors > 0) lines.push(`  write errors: ${result.writeErrors}  e.g. ${result.writeErrorExamples[0]}`);
  if (result.lost !== undefined) lines.push(`  missed by a /sync and never delivered later: ${result.lost}`);
  return [`${result.id} (${result.iterations} iterations, ${result.seconds.toFixed(1)} s): ${result.title}`, ...lines];
}
