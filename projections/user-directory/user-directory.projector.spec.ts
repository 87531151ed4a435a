import { randomUUID } from 'node:crypto';
import { sql } from 'slonik';
import { ROOM_EVENT_ACCEPTED, roomStream, type RoomEventAccepted, type StateEntry } from '@hs/contracts';
import { PostgresEventStore, ProjectionRunner, rebuildProjection, type JsonValue } from '@hs/eventstore';
import { openTestDatabase, type Database, type TestDatabase } from '@hs/persistence';
import { UserDirectoryProjector } from './user-directory.projector';
import { searchUserDirectory } from './user-directory.queries';
import { directoryWords, matchesTerm } from './words';

const alice = '@alice:test.local';
const bob = '@bob:test.local';
const carol = '@carol:remote.example';
const dave = '@dave:remote.example';

interface Fact {
  type: string;
  stateKey: string;
  content: Record<string, JsonValue>;
  /** Entries the fact adds besides its own (a join through another server brings the room's state). */
  alsoAdded?: StateEntry[];
  removed?: StateEntry[];
  outlier?: boolean;
}

describe('directory words', () => {
  it('are letters and digits, lower case, accents dropped; a term matches word prefixes', () => {
    expect(directoryWords('@Zoë_Quartermaine:Example.ORG')).toEqual(['zoe', 'quartermaine', 'example', 'org']);
    expect(directoryWords('Ångström 北京 ﬁne')).toEqual(['angstrom', '北京', 'fine']);
    expect(matchesTerm(directoryWords('zo QUART'), '@x:y', 'Zoë Quartermaine')).toBe(true);
    expect(matchesTerm(directoryWords('uart'), '@x:y', 'Zoë Quartermaine')).toBe(false);
    expect(matchesTerm(directoryWords('x'), '@x:y', null)).toBe(true);
  });
});

describe(`user directory projection (${process.env.TEST_DATABASE_URL ? 'PostgreSQL' : 'PGlite'})`, () => {
  let testDb: TestDatabase;
  let db: Database;
  let store: PostgresEventStore;
  let runner: ProjectionRunner;
  let n = 0;

  beforeAll(async () => {
    testDb = await openTestDatabase('hs_userdir', 4);
    db = testDb.db;
    store = await PostgresEventStore.open(db);
    runner = new ProjectionRunner(db, store, [new UserDirectoryProjector()], { batchSize: 4 });
    await runner.start();
  });
  afterAll(async () => {
    await runner?.stop();
    await store?.close();
    await testDb?.close();
  });

  /** Appends state facts (one append; each adds its own entry unless an outlier) and waits for the projection; returns their event ids. */
  async function append(roomId: string, facts: Fact[]): Promise<string[]> {
    const events = facts.map((f) => {
      const eventId = `$u${++n}`;
      const own = f.outlier ? [] : [{ type: f.type, state_key: f.stateKey, event_id: eventId }];
      const fact: RoomEventAccepted = {
        v: 1,
        room_id: roomId,
        room_version: '11',
        event_id: eventId,
        pdu: { type: f.type, state_key: f.stateKey, sender: f.stateKey.startsWith('@') ? f.stateKey : alice, content: f.content, origin_server_ts: n } as unknown as RoomEventAccepted['pdu'],
        soft_failed: false,
        outlier: f.outlier ?? false,
        state_delta: { added: [...(f.alsoAdded ?? []), ...own], removed: f.removed ?? [] },
        forward_extremities: [eventId],
      };
      return { id: randomUUID(), type: ROOM_EVENT_ACCEPTED, data: fact as unknown as JsonValue };
    });
    const result = await store.append(roomStream(roomId), 'any', events);
    await runner.waitFor(result.position);
    return events.map((e) => (e.data as unknown as RoomEventAccepted).event_id);
  }
  const join = (user: string, displayname?: string): Fact => ({ type: 'm.room.member', stateKey: user, content: { membership: 'join', ...(displayname ? { displayname } : {}) } });
  const leave = (user: string): Fact => ({ type: 'm.room.member', stateKey: user, content: { membership: 'leave' } });
  const rules = (joinRule: string): Fact => ({ type: 'm.room.join_rules', stateKey: '', content: { join_rule: joinRule } });
  const visibility = (value: string): Fact => ({ type: 'm.room.history_visibility', stateKey: '', content: { history_visibility: value } });
  const found = async (searcher: string, term: string, limit = 10) => (await searchUserDirectory(db.pool, searcher, directoryWords(term), limit, term)).results.map((r) => r.user_id);
  const allRows = async () => ({
    rooms: await db.pool.any(sql.unsafe`SELECT * FROM proj_user_directory.rooms ORDER BY room_id`),
    members: await db.pool.any(sql.unsafe`SELECT * FROM proj_user_directory.members ORDER BY room_id, user_id`),
    users: await db.pool.any(sql.unsafe`SELECT * FROM proj_user_directory.users ORDER BY user_id`),
    state: await db.pool.any(sql.unsafe`SELECT * FROM proj_user_directory.state_events ORDER BY event_id`),
  });

  it('finds members of shared rooms and of public or world-readable rooms, follows leaves, profile changes and join rule changes', async () => {
    const room = '!private:test.local';
    await append(room, [join(alice, 'Alice'), rules('invite'), visibility('shared'), join(bob, 'Bobby Tables')]);
    expect(await found(alice, 'bobby')).toEqual([bob]);
    expect(await found(alice, 'TABLE')).toEqual([bob]);
    expect(await found(alice, 'bob test')).toEqual([bob]);
    expect(await found(carol, 'bobby')).toEqual([]);
    await append(room, [visibility('world_readable')]);
    expect(await found(carol, 'bobby')).toEqual([bob]);
    await append(room, [visibility('joined'), rules('public')]);
    expect(await found(carol, 'bobby')).toEqual([bob]);
    await append(room, [rules('knock')]);
    expect(await found(carol, 'bobby')).toEqual([]);
    // A new display name replaces the old one.
    await append(room, [join(bob, 'Robert')]);
    expect(await found(alice, 'bobby')).toEqual([]);
    expect(await found(alice, 'robert')).toEqual([bob]);
    const [{ display_name }] = (await searchUserDirectory(db.pool, alice, ['robert'], 10, 'robert')).results as { display_name?: string }[];
    expect(display_name).toBe('Robert');
    // Leaving: no longer shares the room.
    await append(room, [leave(bob)]);
    expect(await found(alice, 'robert')).toEqual([]);
  });

  it('applies state brought by a join through another server (outliers first) and entries a state reset removes', async () => {
    const room = '!remote:remote.example';
    const [carolJoin, rulesId, davesJoin] = await append(room, [
      { ...join(carol, 'Carol Remote'), outlier: true },
      { ...rules('public'), outlier: true },
      { ...join(dave, 'Dave Remote'), outlier: true },
    ]);
    expect(await found(alice, 'remote')).toEqual([]);
    await append(room, [
      {
        ...join(alice),
        alsoAdded: [
          { type: 'm.room.member', state_key: carol, event_id: carolJoin },
          { type: 'm.room.join_rules', state_key: '', event_id: rulesId },
          { type: 'm.room.member', state_key: dave, event_id: davesJoin },
          // An event the directory never saw changes nothing.
          { type: 'm.room.member', state_key: '@eve:remote.example', event_id: '$unknown' },
        ],
      },
    ]);
    expect(await found(bob, 'remote')).toEqual([carol, dave]);
    // A state reset takes dave's membership out of the state.
    await append(room, [{ type: 'm.room.message', stateKey: 'x', content: {}, outlier: true, removed: [{ type: 'm.room.member', state_key: dave, event_id: davesJoin }] }]);
    expect(await found(bob, 'remote')).toEqual([carol]);
    expect(await found(bob, 'remote', 0)).toEqual([]);
    const limited = await searchUserDirectory(db.pool, bob, ['remote'], 1, 'remote');
    expect(limited.limited).toBe(false);

    // A rebuild holds the same rows, in batches unlike the runner's.
    const before = await allRows();
    expect(before.members.length).toBeGreaterThan(0);
    await rebuildProjection(db, store, new UserDirectoryProjector(), { batchSize: 3 });
    expect(await allRows()).toEqual(before);
  });
});
