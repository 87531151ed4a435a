/**
 * POST /search benchmark: a searcher in ROOMS rooms holding BENCH_MESSAGES messages (default
 * 100,000) whose words follow a Zipf-like law over a vocabulary of 5,000 words; then the
 * latency of the room-event search the endpoint runs (search index, visibility and events
 * from the sync projection, count, highlights; one page of 10 results) for queries of common,
 * middling and rare words, one word or two, ranked and newest first. Also prints how fast the
 * search projection indexed the messages. Not a test: it prints figures.
 *
 * Run: node -r ./test/support/register-ts.cjs bench/search/index.ts
 * (on the embedded database; BENCH_DATABASE_URL=postgres://... runs it on a temporary
 * PostgreSQL database made there.)
 */
import { randomUUID } from 'node:crypto';
import { ROOM_EVENT_ACCEPTED, roomStream, type RoomEventAccepted } from '@hs/contracts';
import { PostgresEventStore, ProjectionRunner, type JsonValue } from '@hs/eventstore';
import { createTemporaryDatabase, migrate, openDatabase } from '@hs/persistence';
import { SearchProjector } from '@hs/projections/search';
import { SyncProjector, SyncQueries } from '@hs/projections/sync';
import { RoomEventSearch, type RoomEventsCriteria } from '@hs/sync';
import { TestRoom } from '../../projections/sync/testing/test-room';

const MESSAGES = Number(process.env.BENCH_MESSAGES ?? 100_000);
const ROOMS = 20;
const VOCABULARY = 5000;
const QUERIES = Number(process.env.BENCH_QUERIES ?? 200);
const searcher = '@searcher:bench.local';
const sender = '@talker:bench.local';

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/** A pronounceable word per index (the same on every run). */
function word(i: number): string {
  const syllables = ['ka', 'lo', 'mi', 'ne', 'ru', 'sa', 'te', 'vo', 'zi', 'pa', 'do', 'ge'];
  let out = '';
  let n = i + 12;
  while (n > 0) {
    out += syllables[n % syllables.length];
    n = Math.floor(n / syllables.length);
  }
  return out;
}

/** A deterministic pseudo-random generator (mulberry32). */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

async function main(): Promise<void> {
  const temporary = process.env.BENCH_DATABASE_URL ? await createTemporaryDatabase(process.env.BENCH_DATABASE_URL, 'hs_bench_search') : undefined;
  const db = await openDatabase({ maxConnections: 8, ...(temporary ? { url: temporary.url } : {}) });
  await migrate(db);
  const store = await PostgresEventStore.open(db);
  console.log(`database: ${temporary ? 'PostgreSQL' : 'PGlite (embedded)'}; ${MESSAGES} messages in ${ROOMS} rooms`);

  const rooms: TestRoom[] = [];
  for (let i = 0; i < ROOMS; i++) {
    const room = await TestRoom.create(store, sender);
    await room.join(searcher);
    rooms.push(room);
  }
  // Zipf-like word choice: the word at rank r is picked with weight 1/(r+1).
  const weights: number[] = [];
  let sum = 0;
  for (let r = 0; r < VOCABULARY; r++) weights.push((sum += 1 / (r + 1)));
  const next = random(42);
  const pick = () => {
    const x = next() * sum;
    let lo = 0;
    let hi = VOCABULARY - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (weights[mid] < x) lo = mid + 1;
      else hi = mid;
    }
    return word(lo);
  };
  const batch = 1000;
  for (let done = 0; done < MESSAGES; done += batch) {
    const roomId = rooms[(done / batch) % ROOMS].roomId;
    const events = Array.from({ length: Math.min(batch, MESSAGES - done) }, (_, i) => {
      const eventId = `$bench${done + i}`;
      const body = Array.from({ length: 4 + Math.floor(next() * 12) }, pick).join(' ');
      const fact: RoomEventAccepted = {
        v: 1,
        room_id: roomId,
        room_version: '11',
        event_id: eventId,
        pdu: { type: 'm.room.message', sender, content: { msgtype: 'm.text', body }, origin_server_ts: 1_700_000_000_000 + done + i, room_id: roomId } as unknown as RoomEventAccepted['pdu'],
        soft_failed: false,
        outlier: false,
        state_delta: { added: [], removed: [] },
        forward_extremities: [eventId],
      };
      return { id: randomUUID(), type: ROOM_EVENT_ACCEPTED, data: fact as unknown as JsonValue };
    });
    await store.append(roomStream(roomId), 'any', events);
  }
  const head = await store.headPosition();

  const runner = new ProjectionRunner(db, store, [new SyncProjector(), new SearchProjector()]);
  const started = performance.now();
  await runner.start();
  await runner.waitFor(head, 'search');
  const indexSeconds = (performance.now() - started) / 1000;
  await runner.waitFor(head);
  console.log(`search projection catch-up (beside the sync projection): ${MESSAGES} messages in ${indexSeconds.toFixed(1)} s = ${Math.round(MESSAGES / indexSeconds)} events/s`);

  const search = new RoomEventSearch(new SyncQueries(db.pool));
  const viewer = { userId: searcher };
  const terms: [string, string[]][] = [
    ['common word (rank 1)', [word(0)]],
    ['common word (rank 10)', [word(9)]],
    ['middling word (rank 300)', [word(299)]],
    ['rare word (rank 4000)', [word(3999)]],
    ['two words (ranks 2 and 50)', [word(1), word(49)]],
    ['prefix of a word (rank 20)', [word(19).slice(0, 3)]],
  ];
  for (const order of ['rank', 'recent'] as const) {
    for (const [label, words] of terms) {
      const criteria: RoomEventsCriteria = { search_term: words.join(' '), order_by: order };
      const first = await search.search(viewer, criteria);
      const times: number[] = [];
      for (let i = 0; i < QUERIES; i++) {
        const t = performance.now();
        await search.search(viewer, criteria);
        times.push(performance.now() - t);
      }
      times.sort((a, b) => a - b);
      console.log(
        `order ${order.padEnd(6)} ${label.padEnd(28)} matches ${String(first.count).padStart(6)}: p50 ${percentile(times, 50).toFixed(1)} ms, p99 ${percentile(times, 99).toFixed(1)} ms`,
      );
    }
  }

  await runner.stop();
  await store.close();
  await db.close();
  await temporary?.drop();
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
