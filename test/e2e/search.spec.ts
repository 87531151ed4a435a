/**
 * Search with a real client: matrix-js-sdk searches a room's messages (with context and
 * paging), the user directory and the public room directory, each right after the writes it
 * must reflect, against the homeserver started as a process.
 */
import { join } from 'node:path';
import { runClientScript, type ClientReport } from '../support/client-script';
import { startServer, type TestServer } from './support/server';

interface SearchReport extends ClientReport {
  sent: string[];
  count: number;
  highlights: string[];
  firstPage: string[];
  context: string[][];
  hadNextBatch: boolean;
  allPages: string[];
  directory: { limited: boolean; results: { user_id: string; display_name?: string }[] };
  aliceId: string;
  published: string[];
  hidden: string;
  directoryPages: string[][];
  directoryTotal: number;
  directoryChunk: Record<string, unknown>;
  afterUnpublish: string[];
}

describe('search with matrix-js-sdk', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer({ logLevel: 'warn' });
  }, 180_000);
  afterAll(async () => {
    await server?.stop();
  }, 60_000);

  it('searchRoomEvents with context and back-pagination, searchUserDirectory after a rename, publicRooms after publishing', async () => {
    const report = await runClientScript<SearchReport>(process.execPath, [join(__dirname, 'clients/js-sdk-search.mjs')], [server.url]);
    if (!report.ok) throw new Error(`the search flow failed after steps [${report.steps.join(', ')}]:\n${report.error}`);
    const newestFirst = [...report.sent].reverse();
    expect(report.count).toBe(7);
    expect(report.highlights).toEqual(['kumquat']);
    expect(report.firstPage).toEqual(newestFirst.slice(0, 4));
    expect(report.hadNextBatch).toBe(true);
    expect(report.allPages).toEqual(newestFirst);
    // One event each side: the small talk around each match (none after the last message).
    expect(report.context[0]).toEqual(['small talk 11', 'kumquat number 12', 'small talk 13']);
    expect(report.directory).toEqual({ limited: false, results: [{ user_id: report.aliceId, display_name: 'Alice Kumquatson' }] });
    // publicRooms: the three published rooms over two pages (the unlisted one never), then two.
    expect(report.directoryPages[0]).toHaveLength(2);
    expect(report.directoryPages[1]).toHaveLength(1);
    expect(new Set(report.directoryPages.flat())).toEqual(new Set(report.published));
    expect(report.directoryTotal).toBe(3);
    expect(report.directoryChunk).toMatchObject({ num_joined_members: 1, world_readable: false, guest_can_join: false, join_rule: 'public' });
    expect(report.directoryChunk.name).toMatch(/^Citrus \d$/);
    expect(new Set(report.afterUnpublish)).toEqual(new Set(report.published.slice(1)));
  });
});
