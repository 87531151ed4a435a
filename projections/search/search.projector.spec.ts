import { randomUUID } from 'node:crypto';
import { sql } from 'slonik';
import { ROOM_EVENT_ACCEPTED, roomStream, type RoomEventAccepted } from '@hs/contracts';
import { PostgresEventStore, ProjectionRunner, rebuildProjection, type JsonValue } from '@hs/eventstore';
import { openTestDatabase, type Database, type TestDatabase } from '@hs/persistence';
import { SearchProjector } from './search.projector';
import { countSearchCandidates, searchCandidates, searchHighlights, searchQueryText, type SearchCandidatesRequest } from './search.queries';

const KEYS = ['content.body', 'content.name', 'content.topic'];

describe(`search projection (${process.env.TEST_DATABASE_URL ? 'PostgreSQL' : 'PGlite'})`, () => {
  let testDb: TestDatabase;
  let db: Database;
  let store: PostgresEventStore;
  let runner: ProjectionRunner;
  let n = 0;
  let room: string;
  let other: string;

  // One database for the suite; each test has rooms of its own.
  beforeEach(() => {
    room = `!search${n}:test.local`;
    other = `!other${n}:test.local`;
  });
  beforeAll(async () => {
    testDb = await openTestDatabase('hs_search', 4);
    db = testDb.db;
    store = await PostgresEventStore.open(db);
    runner = new ProjectionRunner(db, store, [new SearchProjector()], { batchSize: 5 });
    await runner.start();
  });
  afterAll(async () => {
    await runner?.stop();
    await store?.close();
    await testDb?.close();
  });

  /** Appends facts (one append) and waits until the projection applied them; returns their event ids. */
  async function append(roomId: string, events: { type: string; content: Record<string, JsonValue>; sender?: string; flags?: Partial<RoomEventAccepted> }[]): Promise<string[]> {
    const facts = events.map((e) => {
      const eventId = `$e${++n}`;
      const fact: RoomEventAccepted = {
        v: 1,
        room_id: roomId,
        room_version: '11',
        event_id: eventId,
        pdu: { type: e.type, sender: e.sender ?? '@alice:test.local', content: e.content, origin_server_ts: 1000 + n, room_id: roomId } as unknown as RoomEventAccepted['pdu'],
        soft_failed: false,
        outlier: false,
        state_delta: { added: [], removed: [] },
        forward_extremities: [eventId],
        ...e.flags,
      };
      return { id: randomUUID(), type: ROOM_EVENT_ACCEPTED, data: fact as unknown as JsonValue };
    });
    const result = await store.append(roomStream(roomId), 'any', facts);
    await runner.waitFor(result.position);
    return facts.map((f) => (f.data as unknown as RoomEventAccepted).event_id);
  }
  const message = (body: string, sender?: string) => ({ type: 'm.room.message', content: { msgtype: 'm.text', body }, ...(sender ? { sender } : {}) });
  const find = async (term: string, extra: Partial<SearchCandidatesRequest> = {}) =>
    (await searchCandidates(db.pool, { query: searchQueryText(term) as string, rooms: [room, other], keys: KEYS, order: 'recent', limit: 50, ...extra })).candidates.map((c) => c.event_id);
  const allRows = () =>
    db.pool.any(sql.unsafe`SELECT e.*, e.vector::text AS vector FROM proj_search.entries e ORDER BY event_id`).then(async (entries) => ({
      entries,
      redacted: await db.pool.any(sql.unsafe`SELECT * FROM proj_search.redacted ORDER BY event_id, room_id`),
    }));

  it('indexes message bodies, room names and topics (not encrypted, soft-failed or outlier events), and matches word prefixes after stemming', async () => {
    const [walking, name, topic] = await append(room, [
      message('We were walking to the lighthouse'),
      { type: 'm.room.name', content: { name: 'Lighthouse keepers' } },
      { type: 'm.room.topic', content: { topic: 'All about lighthouses' } },
      { type: 'm.room.encrypted', content: { algorithm: 'm.megolm.v1.aes-sha2', ciphertext: 'lighthouse', body: 'lighthouse' } },
      { ...message('lighthouse soft'), flags: { soft_failed: true } },
      { ...message('lighthouse outlier'), flags: { outlier: true } },
      { type: 'm.room.message', content: { msgtype: 'm.text', body: 42 } },
    ]);
    expect(await find('LIGHT')).toEqual([topic, name, walking]);
    expect(await find('walk')).toEqual([walking]);
    expect(await find('walks')).toEqual([walking]);
    expect(await find('lighthouse', { keys: ['content.name'] })).toEqual([name]);
    expect(await find('lighthouse walking')).toEqual([walking]);
    expect(await find('lighthouse', { rooms: [other] })).toEqual([]);
    expect(await find('lighthouse', { senders: ['@bob:test.local'] })).toEqual([]);
    expect(await find('lighthouse', { notSenders: ['@alice:test.local'] })).toEqual([]);
    expect(await countSearchCandidates(db.pool, { query: searchQueryText('lighthouse') as string, rooms: [room], keys: KEYS })).toBe(3);
    expect(await searchHighlights(db.pool, searchQueryText('light walk') as string, ['We were walking to the lighthouse'])).toEqual(['lighthouse', 'walking']);
    expect(searchQueryText(' ,.! ')).toBeUndefined();
    expect(searchQueryText("it's O'Brien & co | !x")).toBe('it:* & s:* & o:* & brien:* & co:* & x:*');
  });

  it('orders by rank then recency, and pages from a cursor', async () => {
    const [once, twice, again] = await append(room, [message('alpha beta'), message('alpha alpha alpha beta'), message('alpha gamma')]);
    const { candidates: ranked, total } = await searchCandidates(db.pool, { query: searchQueryText('alpha') as string, rooms: [room], keys: KEYS, order: 'rank', limit: 10 });
    expect(total).toBe(3);
    expect(ranked[0].event_id).toBe(twice);
    expect(ranked.map((c) => c.event_id).sort()).toEqual([once, twice, again].sort());
    const rest = await searchCandidates(db.pool, { query: searchQueryText('alpha') as string, rooms: [room], keys: KEYS, order: 'rank', limit: 10, after: ranked[0] });
    expect(rest.candidates.map((c) => c.event_id)).toEqual(ranked.slice(1).map((c) => c.event_id));
    expect(rest.total).toBe(3);
    const recent = await searchCandidates(db.pool, { query: searchQueryText('alpha') as string, rooms: [room], keys: KEYS, order: 'recent', limit: 1, after: { rank: 0, position: ranked.find((c) => c.event_id === again)!.position } });
    expect(recent.candidates.map((c) => c.event_id)).toEqual([twice]);
    // Newest first, the page's rows are ranked too.
    expect(recent.candidates[0].rank).toBe(ranked[0].rank);
  });

  it('takes redacted events out, also when the redaction comes first, in one batch or across batches; not for a redaction of another room', async () => {
    const [kept, gone] = await append(room, [message('zebra one'), message('zebra two')]);
    await append(room, [{ type: 'm.room.redaction', content: { redacts: gone } }]);
    expect(await find('zebra')).toEqual([kept]);
    // The redaction before its target (over federation): the target is never indexed.
    await append(room, [{ type: 'm.room.redaction', content: { redacts: `$e${n + 2}` } }]);
    expect(await append(room, [message('zebra late')])).toEqual([`$e${n}`]);
    expect(await find('zebra')).toEqual([kept]);
    // In one batch, the redaction after its target and before another one.
    await append(room, [message('zebra same batch'), { type: 'm.room.redaction', content: { redacts: `$e${n + 1}` } }, { type: 'm.room.redaction', content: { redacts: `$e${n + 4}` } }, message('zebra after')]);
    expect(await find('zebra')).toEqual([kept]);
    // The top-level `redacts` of older room versions counts too.
    const [top] = await append(room, [message('zebra top')]);
    await appendRedactionTop(room, top);
    expect(await find('zebra')).toEqual([kept]);
    // Another room's redaction naming this room's event changes nothing.
    await append(other, [{ type: 'm.room.redaction', content: { redacts: kept } }]);
    expect(await find('zebra')).toEqual([kept]);

    // A rebuild holds the same rows, in batches unlike the runner's.
    const before = await allRows();
    expect(before.entries.length).toBeGreaterThan(0);
    expect(before.redacted.length).toBeGreaterThan(0);
    await rebuildProjection(db, store, new SearchProjector(), { batchSize: 3 });
    expect(await allRows()).toEqual(before);
  });

  /** A redaction of an older room version: `redacts` at the top level of the event. */
  async function appendRedactionTop(roomId: string, target: string): Promise<string[]> {
    const eventId = `$e${++n}`;
    const fact = {
      v: 1,
      room_id: roomId,
      room_version: '10',
      event_id: eventId,
      pdu: { type: 'm.room.redaction', sender: '@alice:test.local', content: {}, redacts: target, origin_server_ts: 1, room_id: roomId },
      soft_failed: false,
      outlier: false,
      state_delta: { added: [], removed: [] },
      forward_extremities: [eventId],
    };
    const result = await store.append(roomStream(roomId), 'any', [{ id: randomUUID(), type: ROOM_EVENT_ACCEPTED, data: fact as unknown as JsonValue }]);
    await runner.waitFor(result.position);
    return [eventId];
  }
});
