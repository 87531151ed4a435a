/**
 * Reads see every acknowledged write, over real HTTP, against the homeserver started as the
 * README starts it (its own process, so that it has a core to itself), on the embedded database and (when
 * TEST_DATABASE_URL is set) on PostgreSQL: for each scenario, CONSISTENCY_ITERATIONS (500)
 * times a write, then at once the reads that must reflect it, by the writer and by another
 * member of the room, each request sent only after the previous one's response. Meanwhile 10
 * background senders, each its own user in its own room, send messages continuously (a pause
 * of 250 ms after each response), so the projections always have work in hand. Every miss is
 * counted; the counts per reader, with what the first misses saw, are the failure message.
 * The scenarios themselves are in test/support/read-your-writes.ts; bench/read-your-writes
 * prints the same counts without asserting.
 */
import { countLines, missLines, ReadYourWrites, SCENARIO_IDS, startBackgroundLoad, type BackgroundLoad, type LoadSummary } from '../../support/read-your-writes';
import { createTemporaryDatabase, type TemporaryDatabase } from '@hs/persistence';
import { startServer, type TestServer } from '../support/server';

const ITERATIONS = Number(process.env.CONSISTENCY_ITERATIONS ?? 500);
/**
 * Each sender pauses 250 ms after each response: about 40 messages a second on a quiet machine,
 * enough for every projection to have work in hand at every read (with the rule off, every
 * scenario misses), without starving the scenario's own requests on a loaded one. The load runs
 * until afterAll stops it; the cap only guards against a run that never ends.
 */
const LOAD = { senders: 10, pauseMs: Number(process.env.CONSISTENCY_LOAD_PAUSE_MS ?? 250), maxMs: 120 * 60_000 };
/** CONSISTENCY_REPORT=1 prints every scenario's counts, misses or not. */
/** CONSISTENCY_RULE_OFF=1 runs the server without the rule (read_consistency.enabled false): the suite must then fail. */
const RULE_OFF = process.env.CONSISTENCY_RULE_OFF === '1';
const REPORT = process.env.CONSISTENCY_REPORT === '1';

const databases = [
  { name: 'embedded database (PGlite)', postgres: false, enabled: true },
  { name: 'PostgreSQL', postgres: true, enabled: Boolean(process.env.TEST_DATABASE_URL) },
];

for (const database of databases) {
  (database.enabled ? describe : describe.skip)(`reads see every acknowledged write: ${database.name}, under load`, () => {
    let hs: TestServer | undefined;
    let temporary: TemporaryDatabase | undefined;
    let rw: ReadYourWrites | undefined;
    let load: BackgroundLoad | undefined;
    const report: string[] = [];

    beforeAll(async () => {
      if (database.postgres) temporary = await createTemporaryDatabase(process.env.TEST_DATABASE_URL as string, 'hs_ryw');
      hs = await startServer({
        logLevel: 'warn',
        ...(temporary ? { databaseUrl: temporary.url } : {}),
        ...(RULE_OFF ? { env: { HS_READ_CONSISTENCY__ENABLED: 'false' } } : {}),
      });
      rw = await ReadYourWrites.open(hs.url);
      load = await startBackgroundLoad(hs.url, LOAD);
    }, 180_000);

    afterAll(async () => {
      let summary: LoadSummary | undefined;
      try {
        summary = await load?.stop();
        await rw?.close();
      } finally {
        await hs?.stop();
        await temporary?.drop();
      }
      if (REPORT && summary) {
        report.push(`background load: ${summary.sent} messages in ${summary.seconds.toFixed(0)} s, ${summary.errors} errors${summary.firstError ? ` (first: ${summary.firstError})` : ''}`);
        console.log(`${database.name}\n${report.join('\n')}`);
      }
    }, 120_000);

    it.each(SCENARIO_IDS)('%s: no read misses the write before it', async (id) => {
      if (!rw || !load) throw new Error('set-up failed');
      const sentBefore = load.sent();
      const result = await rw.run(id, ITERATIONS);
      report.push(...countLines(result));
      // The load was running through the scenario.
      expect(load.sent()).toBeGreaterThan(sentBefore);
      expect(missLines(result)).toEqual([]);
    }, 20 * 60_000);
  });
}
