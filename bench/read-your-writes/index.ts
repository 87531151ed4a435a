/**
 * Read-your-writes miss counts, without asserting: the scenarios of the consistency suite
 * (test/support/read-your-writes.ts) against the homeserver in this process, under a
 * background load of senders, printing for each scenario and reader how many reads right
 * after an acknowledged write did not reflect it.
 *
 * Run: node -r ./test/support/register-ts.cjs bench/read-your-writes/index.ts
 *   RYW_ITERATIONS=500             iterations per scenario
 *   RYW_SCENARIOS=send-event,redact  only these scenarios (default all; ids in SCENARIO_IDS)
 *   RYW_LOAD_SENDERS=10            background senders (0: no load)
 *   RYW_LOAD_PAUSE_MS=50           pause of each background sender between its sends (as in the suite)
 *   BENCH_DATABASE_URL=postgres://…  PostgreSQL (a temporary database beside it), else PGlite
 *   BENCH_READ_CONSISTENCY=0       run the server with read_consistency.enabled false
 */
import { startInProcess } from '../../test/support/in-process-server';
import { countLines, ReadYourWrites, SCENARIO_IDS, startBackgroundLoad, type BackgroundLoad, type ScenarioId } from '../../test/support/read-your-writes';

const ITERATIONS = Number(process.env.RYW_ITERATIONS ?? 500);
const SENDERS = Number(process.env.RYW_LOAD_SENDERS ?? 10);
const PAUSE_MS = Number(process.env.RYW_LOAD_PAUSE_MS ?? 50);

function scenarios(): ScenarioId[] {
  const asked = (process.env.RYW_SCENARIOS ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  if (asked.length === 0) return [...SCENARIO_IDS];
  const unknown = asked.filter((s) => !(SCENARIO_IDS as readonly string[]).includes(s));
  if (unknown.length > 0) throw new Error(`unknown scenarios ${unknown.join(', ')}; known: ${SCENARIO_IDS.join(', ')}`);
  return asked as ScenarioId[];
}

async function main(): Promise<void> {
  const chosen = scenarios();
  if (process.env.BENCH_DATABASE_URL) process.env.TEST_DATABASE_URL = process.env.BENCH_DATABASE_URL;
  else delete process.env.TEST_DATABASE_URL;
  const env: Record<string, string> = process.env.BENCH_READ_CONSISTENCY === '0' ? { HS_READ_CONSISTENCY__ENABLED: 'false' } : {};
  const started = Date.now();
  const hs = await startInProcess({ postgresFromEnv: true, env });
  let load: BackgroundLoad | undefined;
  let rw: ReadYourWrites | undefined;
  try {
    console.log(
      `read-your-writes: ${process.env.BENCH_DATABASE_URL ? 'PostgreSQL' : 'PGlite (embedded)'}, ${ITERATIONS} iterations per scenario, ` +
        `${SENDERS} background senders (pause ${PAUSE_MS} ms), read consistency ${process.env.BENCH_READ_CONSISTENCY === '0' ? 'off' : 'as configured (default)'}`,
    );
    rw = await ReadYourWrites.open(hs.url);
    if (SENDERS > 0) load = await startBackgroundLoad(hs.url, { senders: SENDERS, pauseMs: PAUSE_MS });
    for (const id of chosen) {
      const before = load?.sent() ?? 0;
      const result = await rw.run(id, ITERATIONS);
      for (const line of countLines(result)) console.log(line);
      if (load) console.log(`  background: ${((load.sent() - before) / result.seconds).toFixed(0)} messages/s during the scenario`);
    }
  } finally {
    const summary = await load?.stop();
    if (summary) console.log(`background load: ${summary.sent} messages in ${summary.seconds.toFixed(1)} s, ${summary.errors} errors${summary.firstError ? ` (first: ${summary.firstError})` : ''}`);
    await rw?.close();
    await hs.close();
    console.log(`total ${((Date.now() - started) / 1000).toFixed(1)} s`);
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
