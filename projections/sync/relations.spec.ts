import { rebuildProjection } from '@hs/eventstore';
import type { JsonObject } from '@hs/protocol';
import type { ClientEvent } from './client-event';
import { bundleAggregations, relations, threads } from './relations';
import { SyncProjector } from './sync.projector';
import { SyncQueries, type Viewer } from './sync.queries';
import { TestRoom } from './testing/test-room';
import { openProjectionHarness, type ProjectionHarness } from './testing/harness';

const alice = '@alice:test.local';
const bob = '@bob:test.local';
const carol = '@carol:test.local';
const NOW = 1_700_000_100_000;

let h: ProjectionHarness;
let q: SyncQueries;

beforeEach(async () => ({ h, q } = await openSync()));
afterEach(() => h?.close());

/** A database with the sync projection running, and its queries at a fixed time. */
async function openSync(): Promise<{ h: ProjectionHarness; q: SyncQueries }> {
  const harness = await openProjectionHarness([new SyncProjector()]);
  return { h: harness, q: new SyncQueries(harness.db.pool, { now: () => NOW }) };
}

const thread = (root: string, extra: JsonObject = {}) => ({ 'm.relates_to': { rel_type: 'm.thread', event_id: root, ...extra } });
const edit = (target: string, body: string) => ({ 'm.new_content': { msgtype: 'm.text', body }, 'm.relates_to': { rel_type: 'm.replace', event_id: target } });
const reference = (target: string) => ({ 'm.relates_to': { rel_type: 'm.reference', event_id: target } });

async function served(roomId: string, eventId: string, viewer: Viewer): Promise<ClientEvent> {
  const event = await q.eventForUser(roomId, eventId, viewer);
  await bundleAggregations(q, q.pool, [event], viewer);
  return event;
}

const relationsOf = (event: ClientEvent) => event.unsigned?.['m.relations'] as Record<string, JsonObject & { latest_event?: ClientEvent }> | undefined;

describe('bundled aggregations', () => {
  it('m.replace: the most recent valid edit, whole, without changing the served content', async () => {
    const room = await TestRoom.create(h.store, alice);
    await room.join(bob);
    const original = await room.message(alice, 'tpyo');
    const first = await room.message(alice, '* typo', edit(original.eventId, 'typo'));
    await room.message(alice, '* typo!', edit(original.eventId, 'typo!'));
    const third = await room.message(alice, '* typo!!', edit(original.eventId, 'typo!!'));
    // Not valid: another sender, no m.new_content, another event type, a state event.
    await room.message(bob, '* hijacked', edit(original.eventId, 'hijacked'));
    await room.message(alice, 'no new content', { 'm.relates_to': { rel_type: 'm.replace', event_id: original.eventId } });
    await room.send(alice, 'm.sticker', { body: 'x', ...edit(original.eventId, 'sticker') });
    // The latest edit is redacted: it drops out.
    const redacted = await room.message(alice, '* typo!!!', edit(original.eventId, 'typo!!!'));
    await room.redact(alice, redacted.eventId);
    await h.settle();

    const event = await served(room.roomId, original.eventId, { userId: bob });
    expect(event.content.body).toBe('tpyo');
    const replace = relationsOf(event)?.['m.replace'] as unknown as ClientEvent;
    expect(replace.event_id).toBe(third.eventId);
    expect(replace.content['m.new_content']).toEqual({ msgtype: 'm.text', body: 'typo!!' });
    expect(replace.unsigned?.age).toBe(NOW - replace.origin_server_ts);
    // An edit is not edited itself: an edit of an edit is ignored.
    await room.message(alice, '* again', edit(first.eventId, 'again'));
    await h.settle();
    expect(relationsOf(await served(room.roomId, first.eventId, { userId: alice }))).toBeUndefined();
  });

  it('m.thread: latest reply, count and participation; m.reference: the ids', async () => {
    const room = await TestRoom.create(h.store, alice);
    await room.join(bob);
    await room.join(carol);
    const root = await room.message(alice, 'root');
    await room.message(bob, 'r1', thread(root.eventId));
    const r2 = await room.message(bob, 'r2', thread(root.eventId));
    const r3 = await room.message(bob, 'r3', thread(root.eventId));
    await room.redact(bob, r3.eventId);
    const r2edit = await room.message(bob, '* r2', edit(r2.eventId, 'r2 edited'));
    const ref1 = await room.message(carol, 'see above', reference(root.eventId));
    const ref2 = await room.message(bob, 'me too', reference(root.eventId));
    await h.settle();

    for (const [viewer, participated] of [
      [alice, true],
      [bob, true],
      [carol, false],
    ] as const) {
      const event = await served(room.roomId, root.eventId, { userId: viewer });
      const aggregations = relationsOf(event);
      expect(aggregations?.['m.thread']).toMatchObject({ count: 2, current_user_participated: participated });
      const latest = aggregations?.['m.thread'].latest_event as ClientEvent;
      expect(latest.event_id).toBe(r2.eventId);
      // The latest reply comes with its own edit.
      expect((latest.unsigned?.['m.relations'] as JsonObject)['m.replace']).toMatchObject({ event_id: r2edit.eventId });
      expect(aggregations?.['m.reference']).toEqual({ chunk: [{ event_id: ref1.eventId }, { event_id: ref2.eventId }] });
    }
  });

  it('counts only children up to a position, and survives a rebuild', async () => {
    const room = await TestRoom.create(h.store, alice);
    const root = await room.message(alice, 'root');
    const r1 = await room.message(alice, 'r1', thread(root.eventId));
    await room.message(alice, 'r2', thread(root.eventId));
    await h.settle();
    const event = await q.eventForUser(room.roomId, root.eventId, { userId: alice });
    await bundleAggregations(q, q.pool, [event], { userId: alice }, { upTo: r1.position });
    expect(relationsOf(event)?.['m.thread']).toMatchObject({ count: 1, latest_event: { event_id: r1.eventId } });
    await rebuildProjection(h.db, h.store, new SyncProjector());
    expect(relationsOf(await served(room.roomId, root.eventId, { userId: alice }))?.['m.thread']).toMatchObject({ count: 2 });
    // An event served twice in one answer: counted once, both copies bundled.
    const copies = [await q.eventForUser(room.roomId, root.eventId, { userId: alice }), await q.eventForUser(room.roomId, root.eventId, { userId: alice })];
    await bundleAggregations(q, q.pool, copies, { userId: alice });
    expect(relationsOf(copies[0])?.['m.thread']).toMatchObject({ count: 2 });
    expect(relationsOf(copies[1])).toEqual(relationsOf(copies[0]));
  });

  it('leaves out an edit or latest reply the viewer may not see', async () => {
    const room = await TestRoom.create(h.store, alice, { historyVisibility: 'joined' });
    await room.join(bob);
    const root = await room.message(alice, 'root');
    const seen = await room.message(alice, 'seen', thread(root.eventId));
    await room.leave(bob);
    await room.message(alice, 'after bob left', thread(root.eventId));
    await room.message(alice, '* root', edit(root.eventId, 'edited after bob left'));
    await h.settle();
    const forBob = relationsOf(await served(room.roomId, root.eventId, { userId: bob }));
    expect(forBob?.['m.replace']).toBeUndefined();
    expect(forBob?.['m.thread']).toBeUndefined();
    const forAlice = relationsOf(await served(room.roomId, root.eventId, { userId: alice }));
    expect(forAlice?.['m.thread']).toMatchObject({ count: 2 });
    expect(forAlice?.['m.replace']).toBeDefined();
    expect(seen.eventId).toBeDefined();
  });
});

describe('GET /relations', () => {
  it('pages both ways, filters by relation and event type, recurses', async () => {
    const room = await TestRoom.create(h.store, alice);
    const root = await room.message(alice, 'root');
    const replies = [];
    for (let i = 0; i < 5; i++) replies.push(await room.message(alice, `r${i}`, thread(root.eventId)));
    const annotation = await room.send(alice, 'm.reaction', { 'm.relates_to': { rel_type: 'm.annotation', event_id: root.eventId, key: '👍' } });
    const nested = await room.message(alice, '* r4', edit(replies[4].eventId, 'r4 edited'));
    await h.settle();
    const viewer = { userId: alice };
    const base = { roomId: room.roomId, eventId: root.eventId, viewer };
    const ids = (events: ClientEvent[]) => events.map((e) => e.event_id);

    const all = await relations(q, base);
    expect(ids(all.chunk)).toEqual([annotation.eventId, ...replies.map((r) => r.eventId).reverse()]);
    expect(all.next_batch).toBeUndefined();
    expect(all.recursion_depth).toBeUndefined();
    // The reply that was edited carries its edit.
    expect((all.chunk[1].unsigned?.['m.relations'] as JsonObject)['m.replace']).toMatchObject({ event_id: nested.eventId });

    const page1 = await relations(q, { ...base, relType: 'm.thread', limit: 2 });
    expect(ids(page1.chunk)).toEqual([replies[4].eventId, replies[3].eventId]);
    const page2 = await relations(q, { ...base, relType: 'm.thread', limit: 2, from: page1.next_batch });
    expect(ids(page2.chunk)).toEqual([replies[2].eventId, replies[1].eventId]);
    expect(page2.prev_batch).toBe(page1.next_batch);
    const page3 = await relations(q, { ...base, relType: 'm.thread', limit: 2, from: page2.next_batch });
    expect(ids(page3.chunk)).toEqual([replies[0].eventId]);
    expect(page3.next_batch).toBeUndefined();

    const forward = await relations(q, { ...base, relType: 'm.thread', dir: 'f', limit: 3 });
    expect(ids(forward.chunk)).toEqual(replies.slice(0, 3).map((r) => r.eventId));
    const rest = await relations(q, { ...base, relType: 'm.thread', dir: 'f', limit: 3, from: forward.next_batch });
    expect(ids(rest.chunk)).toEqual(replies.slice(3).map((r) => r.eventId));

    expect(ids((await relations(q, { ...base, relType: 'm.annotation', eventType: 'm.reaction' })).chunk)).toEqual([annotation.eventId]);
    expect((await relations(q, { ...base, relType: 'm.annotation', eventType: 'm.room.message' })).chunk).toEqual([]);

    const deep = await relations(q, { ...base, recurse: true });
    expect(ids(deep.chunk)[0]).toBe(nested.eventId);
    expect(deep.chunk).toHaveLength(7);
    expect(deep.recursion_depth).toBe(3);
    expect((await relations(q, { ...base, recurse: false })).recursion_depth).toBe(1);
  });

  it('answers M_NOT_FOUND for an unknown parent or one the user may not see, and hides children they may not see', async () => {
    const room = await TestRoom.create(h.store, alice, { historyVisibility: 'joined' });
    const root = await room.message(alice, 'before carol');
    await room.message(alice, 'hidden reply', thread(root.eventId));
    await room.join(carol);
    const seen = await room.message(alice, 'seen reply', thread(root.eventId));
    const later = await room.message(alice, 'later root');
    await h.settle();
    await expect(relations(q, { roomId: room.roomId, eventId: '$nope', viewer: { userId: alice } })).rejects.toMatchObject({ errcode: 'M_NOT_FOUND' });
    await expect(relations(q, { roomId: room.roomId, eventId: root.eventId, viewer: { userId: carol } })).rejects.toMatchObject({ errcode: 'M_NOT_FOUND' });
    await expect(relations(q, { roomId: room.roomId, eventId: root.eventId, viewer: { userId: bob } })).rejects.toMatchObject({ errcode: 'M_NOT_FOUND' });
    await expect(relations(q, { roomId: '!other:test.local', eventId: root.eventId, viewer: { userId: alice } })).rejects.toMatchObject({ errcode: 'M_NOT_FOUND' });
    expect((await relations(q, { roomId: room.roomId, eventId: later.eventId, viewer: { userId: carol } })).chunk).toEqual([]);
    await expect(relations(q, { roomId: room.roomId, eventId: root.eventId, viewer: { userId: alice }, from: 'nope' })).rejects.toMatchObject({
      errcode: 'M_INVALID_PARAM',
    });
    expect(seen.eventId).toBeDefined();
  });
});

describe('GET /threads', () => {
  it('lists thread roots by latest activity, all or participated, page by page', async () => {
    const room = await TestRoom.create(h.store, alice);
    await room.join(bob);
    const a = await room.message(alice, 'thread a');
    const b = await room.message(bob, 'thread b');
    const c = await room.message(bob, 'thread c');
    await room.message(bob, 'not a thread');
    await room.message(bob, 'c1', thread(c.eventId));
    await room.message(bob, 'a1', thread(a.eventId));
    await room.message(bob, 'b1', thread(b.eventId));
    await room.message(bob, 'c2', thread(c.eventId));
    const redacted = await room.message(alice, 'redacted root');
    const gone = await room.message(bob, 'x', thread(redacted.eventId));
    await room.redact(bob, gone.eventId);
    await h.settle();
    const viewer = { userId: alice };
    const ids = (events: ClientEvent[]) => events.map((e) => e.event_id);

    const all = await threads(q, { roomId: room.roomId, viewer });
    expect(ids(all.chunk)).toEqual([c.eventId, b.eventId, a.eventId]);
    expect(relationsOf(all.chunk[0])?.['m.thread']).toMatchObject({ count: 2, current_user_participated: false });
    expect(relationsOf(all.chunk[2])?.['m.thread']).toMatchObject({ count: 1, current_user_participated: true });

    const page1 = await threads(q, { roomId: room.roomId, viewer, limit: 2 });
    expect(ids(page1.chunk)).toEqual([c.eventId, b.eventId]);
    const page2 = await threads(q, { roomId: room.roomId, viewer, limit: 2, from: page1.next_batch });
    expect(ids(page2.chunk)).toEqual([a.eventId]);
    expect(page2.next_batch).toBeUndefined();

    expect(ids((await threads(q, { roomId: room.roomId, viewer, include: 'participated' })).chunk)).toEqual([a.eventId]);
    await expect(threads(q, { roomId: room.roomId, viewer: { userId: carol } })).rejects.toMatchObject({ errcode: 'M_FORBIDDEN' });
  });
});
