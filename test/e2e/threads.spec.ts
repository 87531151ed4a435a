/**
 * Threads and edits with a real client: matrix-js-sdk replies in a thread, edits the reply,
 * reads them back with `relations(...)`, lists the room's threads (GET /threads) and shows the
 * edited reply, against the homeserver started as a process.
 */
import { join } from 'node:path';
import { runClientScript, type ClientReport } from '../support/client-script';
import { startServer, type TestServer } from './support/server';

interface ThreadsReport extends ClientReport {
  threadListSupport: boolean;
  ids: { root: string; reply: string; edit: string };
  thread: { original: string; events: string[] };
  replacements: string[];
  threads: { roots: string[]; summary: { count: number; current_user_participated: boolean; latest_event: { event_id: string } } };
  participatedRoots: string[];
  shownBody: string;
  threadUnreadBefore: number;
  threadUnreadAfter: number;
  mainUnreadAfterThreadReceipt: number;
}

describe('threads and edits with matrix-js-sdk', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer({ logLevel: 'warn' });
  }, 180_000);
  afterAll(async () => {
    await server?.stop();
  }, 60_000);

  it('replies in a thread, edits the reply, and reads both back', async () => {
    const report = await runClientScript<ThreadsReport>(process.execPath, [join(__dirname, 'clients/js-sdk-threads.mjs')], [server.url]);
    if (!report.ok) throw new Error(`the threads flow failed after steps [${report.steps.join(', ')}]:\n${report.error}`);
    const { root, reply, edit } = report.ids;
    expect(report.threadListSupport).toBe(true);
    expect(report.thread).toEqual({ original: root, events: [reply] });
    expect(report.replacements).toEqual([edit]);
    expect(report.threads.roots).toEqual([root]);
    expect(report.threads.summary).toMatchObject({ count: 1, current_user_participated: true, latest_event: { event_id: reply } });
    expect(report.participatedRoots).toEqual([root]);
    expect(report.shownBody).toBe('At the station');
    // The threaded receipt read the thread (1 unread before: the edit does not notify) and
    // left the main timeline's message unread.
    expect([report.threadUnreadBefore, report.threadUnreadAfter]).toEqual([1, 0]);
    expect(report.mainUnreadAfterThreadReceipt).toBeGreaterThan(0);
  }, 300_000);
});
