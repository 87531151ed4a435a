/**
 * Real Matrix clients against the homeserver started as a process (as the README starts it):
 * matrix-js-sdk (Node, ESM) and matrix-nio (Python, r0 paths). Each runs the same flow:
 * register two users, create a room, invite, join, converse, send 200 messages, paginate
 * back through all of them, change a display name. Runs on the embedded database, and on
 * PostgreSQL as well when TEST_DATABASE_URL is set.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { createTemporaryDatabase, type TemporaryDatabase } from '@hs/persistence';
import { runClientScript } from '../support/client-script';
import { startServer, type TestServer } from './support/server';

const PYTHON = '/usr/bin/python3';
const NIO_AVAILABLE = spawnSync(PYTHON, ['-c', 'import nio'], { stdio: 'ignore' }).status === 0;
if (!NIO_AVAILABLE) {
  console.warn(`matrix-nio is not installed for ${PYTHON} (apt-get install -y python3-matrix-nio): the matrix-nio flow is skipped`);
}

interface FlowReport {
  ok: boolean;
  error?: string;
  steps: string[];
  conversation: string[];
  aliceTimeline: string[];
  bobTimeline: string[];
  paginated: string[];
  scrolledBack?: string[];
  initialWindow?: string[];
  bobLiveTail?: string[];
  bobSawInvite: boolean;
  bobNameSeenByAlice: string;
  pendingAlice?: number;
}

/** Runs a client script with the server URL and a result file; resolves with its report. */
function runClient(command: string, args: string[], url: string): Promise<FlowReport> {
  return runClientScript<FlowReport>(command, args, [url]);
}

const messages = (from: number, to: number): string[] => Array.from({ length: to - from }, (_, i) => `message ${from + i}`);

function expectFlow(report: FlowReport): void {
  if (!report.ok) throw new Error(`the client flow failed after steps [${report.steps.join(', ')}]:\n${report.error}`);
  expect(report.bobSawInvite).toBe(true);
  // Each client's sync delivered the conversation once each, in the order it was sent.
  for (const timeline of [report.aliceTimeline, report.bobTimeline]) {
    expect(timeline.filter((body) => report.conversation.includes(body))).toEqual(report.conversation);
  }
  // Backwards pagination returns every one of the 200 messages, newest first, then the conversation.
  const paginatedMessages = report.paginated.filter((body) => body.startsWith('message '));
  expect(paginatedMessages).toEqual(messages(0, 200).reverse());
  expect(report.paginated.filter((body) => report.conversation.includes(body))).toEqual([...report.conversation].reverse());
  expect(report.bobNameSeenByAlice).toBe('Bob the Builder');
}

const databases: [string, boolean][] = [['embedded database (PGlite)', false]];
if (process.env.TEST_DATABASE_URL) databases.push(['PostgreSQL database (TEST_DATABASE_URL)', true]);
else console.info('client e2e: TEST_DATABASE_URL is not set, the PostgreSQL run is not made');

describe.each(databases)(
  'real clients on the %s',
  (_name, postgres) => {
    let server: TestServer;
    let database: TemporaryDatabase | undefined;

    beforeAll(async () => {
      if (postgres) database = await createTemporaryDatabase(process.env.TEST_DATABASE_URL as string, 'hs_e2e');
      server = await startServer({ databaseUrl: database?.url });
    }, 180_000);

    afterAll(async () => {
      await server?.stop();
      await database?.drop();
    }, 60_000);

    it('matrix-js-sdk: register, create, invite, join, converse, paginate 200 messages, rename', async () => {
      const report = await runClient(process.execPath, [join(__dirname, 'clients/js-sdk-flow.mjs')], server.url);
      expectFlow(report);
      expect(report.pendingAlice).toBe(0);
      // A client that starts with a 5-event window fills it back with scrollback.
      expect((report.initialWindow ?? []).length).toBeLessThanOrEqual(5);
      expect((report.scrolledBack ?? []).filter((body) => body.startsWith('message '))).toEqual(messages(0, 200));
    }, 300_000);

    (NIO_AVAILABLE ? it : it.skip)('matrix-nio: the same flow over r0 paths', async () => {
      const report = await runClient(PYTHON, [join(__dirname, 'clients/nio_flow.py')], server.url);
      expectFlow(report);
      // Bob's syncs ended with the last message (earlier ones may come in a limited timeline).
      expect(report.bobLiveTail?.[report.bobLiveTail.length - 1]).toBe('message 199');
    }, 300_000);
  },
);
