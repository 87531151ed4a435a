/**
 * Published room directory benchmark: BENCH_ROOMS public rooms (default 10,000) made through
 * the client API of the homeserver running in this process, each published with a name and a
 * topic, some with more members; then the latency of GET /publicRooms (first page of 20, and
 * a later page) and of POST /publicRooms with a search term, over real HTTP. Not a test: it
 * prints figures.
 *
 * Run: npm run bench:public-rooms (embedded database; BENCH_DATABASE_URL=postgres://... runs
 * it on a temporary PostgreSQL database made there).
 */
import { call, registerUser } from '@hs/testing';
import { startInProcess } from '../../test/support/in-process-server';

const ROOMS = Number(process.env.BENCH_ROOMS ?? 10_000);
const QUERIES = Number(process.env.BENCH_QUERIES ?? 200);
const CONCURRENCY = 8;

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

async function main(): Promise<void> {
  if (process.env.BENCH_DATABASE_URL) process.env.TEST_DATABASE_URL = process.env.BENCH_DATABASE_URL;
  const hs = await startInProcess({ postgresFromEnv: true });
  try {
    console.log(`database: ${process.env.BENCH_DATABASE_URL ? 'PostgreSQL' : 'PGlite (embedded)'}; ${ROOMS} public rooms`);
    const owner = await registerUser(hs.url, 'owner');
    const guests = [await registerUser(hs.url, 'guest1'), await registerUser(hs.url, 'guest2')];
    const made = performance.now();
    let next = 0;
    const worker = async () => {
      for (let i = next++; i < ROOMS; i = next++) {
        const created = await call<{ room_id: string }>(hs.url, 'POST', 'createRoom', {
          token: owner.token,
          body: { preset: 'public_chat', visibility: 'public', name: `Room ${i} about ${['cats', 'dogs', 'birds', 'boats', 'trains'][i % 5]}`, topic: `topic number ${i}` },
        });
        if (created.status !== 200) throw new Error(`createRoom: ${created.status} ${JSON.stringify(created.body)}`);
        // Every hundredth room gets more members, so the order by size has work to do.
        if (i % 100 === 0) for (const guest of guests) await call(hs.url, 'POST', `rooms/${encodeURIComponent(created.body.room_id)}/join`, { token: guest.token, body: {} });
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    console.log(`made ${ROOMS} rooms in ${((performance.now() - made) / 1000).toFixed(0)} s`);

    const first = await call<{ chunk: unknown[]; next_batch?: string; total_room_count_estimate?: number }>(hs.url, 'GET', 'publicRooms', { token: owner.token, query: { limit: '20' } });
    console.log(`first page: ${first.body.chunk.length} rooms of ${first.body.total_room_count_estimate ?? '?'}`);
    const deep = await call<{ next_batch?: string }>(hs.url, 'GET', 'publicRooms', { token: owner.token, query: { limit: '20', since: `o${Math.floor(ROOMS / 2)}` } });
    const cases: [string, () => Promise<{ status: number }>][] = [
      ['GET first page (limit 20)', () => call(hs.url, 'GET', 'publicRooms', { token: owner.token, query: { limit: '20' } })],
      [`GET a page half way (since o${Math.floor(ROOMS / 2)})`, () => call(hs.url, 'GET', 'publicRooms', { token: owner.token, query: { limit: '20', since: `o${Math.floor(ROOMS / 2)}` } })],
      ['POST search "dogs" (limit 20)', () => call(hs.url, 'POST', 'publicRooms', { token: owner.token, body: { limit: 20, filter: { generic_search_term: 'dogs' } } })],
      ['POST search "number 4242" (limit 20)', () => call(hs.url, 'POST', 'publicRooms', { token: owner.token, body: { limit: 20, filter: { generic_search_term: 'number 4242' } } })],
    ];
    if (deep.body.next_batch === undefined && ROOMS > 40) console.log('(the half-way page has no next_batch)');
    for (const [label, request] of cases) {
      const times: number[] = [];
      for (let i = 0; i < QUERIES; i++) {
        const t = performance.now();
        const reply = await request();
        times.push(performance.now() - t);
        if (reply.status !== 200) throw new Error(`${label}: ${reply.status}`);
      }
      times.sort((a, b) => a - b);
      console.log(`${label.padEnd(40)} p50 ${percentile(times, 50).toFixed(1)} ms, p99 ${percentile(times, 99).toFixed(1)} ms`);
    }
  } finally {
    await hs.close();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
