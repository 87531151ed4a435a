import { SyncProjector, SyncQueries, SyncQueryError } from '@hs/projections/sync';
import { ReceiptsProjector } from '@hs/projections/receipts';
import { PushProjector } from '@hs/projections/push';
import { TestRoom } from '../../../projections/sync/testing/test-room';
import { openProjectionHarness, type ProjectionHarness } from '../../../projections/sync/testing/harness';
import { LegacySyncService } from './legacy';
import { SyncNotifier } from './notifier';
import { SyncService } from './sync.service';
import { TypingStore } from './typing';
import { MemoryAccountData } from '../testing/memory-account-data';

const alice = '@alice:test.local';
const bob = '@bob:test.local';
const carol = '@carol:test.local';

let h: ProjectionHarness;
let notifier: SyncNotifier | undefined;
let typing: TypingStore;
let legacy: LegacySyncService;
let service: SyncService;

beforeEach(async () => {
  h = await openProjectionHarness([new SyncProjector(), new ReceiptsProjector(), new PushProjector('test.local')], (name, position, wrote, written) =>
    notifier?.checkpointAdvanced(name, position, wrote, written),
  );
  typing = new TypingStore();
  const accountData = new MemoryAccountData();
  const queries = new SyncQueries(h.db.pool);
  notifier = new SyncNotifier(h.db.pool, typing, accountData, queries);
  service = new SyncService(queries, { typing, accountData, notifier });
  legacy = new LegacySyncService(service);
});

afterEach(async () => {
  notifier?.close();
  notifier = undefined;
  typing?.close();
  await h?.close();
});

async function settle(): Promise<void> {
  await h.settle();
  await notifier?.idle();
}

describe('LegacySyncService (deprecated /events and /initialSync)', () => {
  it('GET /events: the events after `from` with their room ids; without `from`, only what comes after now', async () => {
    const room = await TestRoom.create(h.store, alice, { name: 'Lobby' });
    await room.join(bob);
    await settle();
    const now = await legacy.events({ userId: bob, deviceId: 'B1', timeoutMs: 0 });
    expect(now.chunk).toEqual([]);
    await room.message(alice, 'hello');
    await settle();
    const next = await legacy.events({ userId: bob, deviceId: 'B1', from: now.end, timeoutMs: 0 });
    expect(next.start).toBe(now.end);
    expect(next.chunk.map((e) => [e.room_id, e.content?.body])).toEqual([[room.roomId, 'hello']]);
    // A long-poll is woken by the next event.
    const waiting = legacy.events({ userId: bob, deviceId: 'B1', from: next.end, timeoutMs: 10_000 });
    await room.message(alice, 'later');
    const woken = await waiting;
    expect(woken.chunk.map((e) => e.content?.body)).toEqual(['later']);
  });

  it('GET /initialSync and /rooms/{roomId}/initialSync: latest messages, current state, archived rooms on request', async () => {
    const room = await TestRoom.create(h.store, alice, { name: 'Lobby' });
    await room.join(bob);
    for (let i = 0; i < 4; i++) await room.message(alice, `m${i}`);
    await room.state_(alice, 'm.room.topic', { topic: 'latest' });
    const left = await TestRoom.create(h.store, alice, { name: 'Left' });
    await left.join(bob);
    await left.leave(bob);
    await settle();
    const all = await legacy.initialSync({ userId: bob, deviceId: 'B1', limit: 3 });
    expect(all.rooms.map((r) => r.room_id)).toEqual([room.roomId]);
    const joined = all.rooms[0];
    expect(joined.membership).toBe('join');
    expect(joined.messages?.chunk.map((e) => e.content?.body ?? e.type)).toEqual(['m2', 'm3', 'm.room.topic']);
    expect(joined.state?.find((e) => e.type === 'm.room.topic')?.content).toEqual({ topic: 'latest' });
    expect(joined.state?.find((e) => e.type === 'm.room.name')?.content).toEqual({ name: 'Lobby' });
    // messages.start pages backwards from before the messages shown.
    const earlier = await service.queries.messages({ roomId: room.roomId, viewer: { userId: bob }, dir: 'b', from: joined.messages?.start, limit: 1 });
    expect(earlier.chunk.map((e) => e.content.body)).toEqual(['m1']);
    const archived = await legacy.initialSync({ userId: bob, deviceId: 'B1', archived: true });
    expect(archived.rooms.find((r) => r.room_id === left.roomId)?.membership).toBe('leave');

    const one = await legacy.roomInitialSync({ userId: bob, deviceId: 'B1', roomId: room.roomId, limit: 2 });
    expect(one.messages?.chunk.map((e) => e.content?.body ?? e.type)).toEqual(['m3', 'm.room.topic']);
    expect(one.state?.some((e) => e.type === 'm.room.member' && e.state_key === bob)).toBe(true);
    await expect(legacy.roomInitialSync({ userId: carol, deviceId: 'C1', roomId: room.roomId })).rejects.toBeInstanceOf(SyncQueryError);
  });

  it('GET /events with room_id: one joined room only; a world_readable room previewed; another room refused', async () => {
    const mine = await TestRoom.create(h.store, alice);
    await mine.join(bob);
    const other = await TestRoom.create(h.store, alice);
    await other.join(bob);
    const open = await TestRoom.create(h.store, alice, { historyVisibility: 'world_readable' });
    const closed = await TestRoom.create(h.store, alice);
    await settle();
    const from = await service.currentToken();
    await mine.message(alice, 'in mine');
    await other.message(alice, 'in other');
    await open.message(alice, 'in open');
    await closed.message(alice, 'in closed');
    await settle();
    const joined = await legacy.events({ userId: bob, deviceId: 'B1', from, roomId: mine.roomId, timeoutMs: 0 });
    expect(joined.chunk.filter((e) => e.type === 'm.room.message').map((e) => [e.room_id, e.content?.body])).toEqual([[mine.roomId, 'in mine']]);
    const preview = await legacy.events({ userId: bob, deviceId: 'B1', from, roomId: open.roomId, timeoutMs: 0 });
    expect(preview.chunk.map((e) => [e.room_id, e.content?.body])).toEqual([[open.roomId, 'in open']]);
    // From its end, nothing more: a client polling it does not loop.
    const after = await legacy.events({ userId: bob, deviceId: 'B1', from: preview.end, roomId: open.roomId, timeoutMs: 0 });
    expect(after.chunk).toEqual([]);
    await expect(legacy.events({ userId: bob, deviceId: 'B1', from, roomId: closed.roomId, timeoutMs: 0 })).rejects.toBeInstanceOf(SyncQueryError);
  });

  it('GET /rooms/{roomId}/initialSync previews a world_readable room to someone who never joined it', async () => {
    const room = await TestRoom.create(h.store, alice, { name: 'Open' });
    await room.message(alice, 'private');
    await room.state_(alice, 'm.room.history_visibility', { history_visibility: 'world_readable' });
    await room.message(alice, 'public');
    await settle();
    const preview = await legacy.roomInitialSync({ userId: carol, deviceId: 'C1', roomId: room.roomId });
    expect(preview.membership).toBeUndefined();
    expect(preview.messages?.chunk.map((e) => e.content?.body ?? e.type)).toContain('public');
    expect(preview.messages?.chunk.map((e) => e.content?.body)).not.toContain('private');
    expect(preview.state?.find((e) => e.type === 'm.room.name')?.content).toEqual({ name: 'Open' });
    expect(typeof preview.messages?.end).toBe('string');
  });
});
