import { sql } from 'slonik';
import { PostgresEventStore, rebuildProjection, type Projector, type RecordedEvent, type WrittenBatch } from '@hs/eventstore';
import { type Database, openTestDatabase, type TestDatabase } from '@hs/persistence';
import { SyncTokenError, encodePaginationToken } from '@hs/contracts';
import type { JsonValue } from '@hs/protocol';
import { SYNC_PROJECTION, SYNC_TABLES, SyncProjector, writtenEventRows } from './sync.projector';
import { SyncQueries } from './sync.queries';
import { SyncQueryError } from './errors';
import { TestRoom } from './testing/test-room';
import { appendOutOfBandMembership } from './testing/out-of-band';
import { openProjectionHarness, type ProjectionHarness } from './testing/harness';

const alice = '@alice:test.local';
const bob = '@bob:test.local';
const carol = '@carol:test.local';
const mallory = '@mallory:evil.example';
const NOW = 1_700_000_100_000;

let h: ProjectionHarness;
let q: SyncQueries;

beforeEach(async () => {
  h = await openProjectionHarness([new SyncProjector()]);
  q = new SyncQueries(h.db.pool, { now: () => NOW });
});

afterEach(async () => {
  await h?.close();
});

function bodies(events: { content: { body?: unknown } }[]): unknown[] {
  return events.map((e) => e.content.body);
}

describe('sync projector', () => {
  it('projects the timeline in store order, in client format, with unsigned for the viewer', async () => {
    const room = await TestRoom.create(h.store, alice);
    const one = await room.message(alice, 'one', {}, { local: { user_id: alice, device_id: 'DEV1', txn_id: 'txn-1' } });
    await room.message(alice, 'two');
    await h.settle();
    const rows = await q.timeline(q.pool, room.roomId, { from: await q.position(), dir: 'b', limit: 2 });
    expect(rows.map((r) => r.event.content.body)).toEqual(['two', 'one']);
    const mine = q.format(rows[1], { userId: alice, deviceId: 'DEV1' });
    expect(mine).toMatchObject({
      event_id: one.eventId,
      type: 'm.room.message',
      sender: alice,
      room_id: room.roomId,
      content: { msgtype: 'm.text', body: 'one' },
      unsigned: { transaction_id: 'txn-1' },
    });
    expect(mine.unsigned?.age).toBe(NOW - mine.origin_server_ts);
    expect(q.format(rows[1], { userId: alice, deviceId: 'OTHER' }).unsigned?.transaction_id).toBeUndefined();
    expect(q.format(rows[1], { userId: bob, deviceId: 'DEV1' }).unsigned?.transaction_id).toBeUndefined();
  });

  it('forgets a purged room, rows and all, also when rebuilt; other rooms stay', async () => {
    const purged = await TestRoom.create(h.store, alice);
    await purged.join(bob);
    await purged.message(bob, 'gone');
    const kept = await TestRoom.create(h.store, bob);
    await kept.message(bob, 'stays');
    await purged.purge('@admin:test.local');
    await h.settle();
    const rowsOf = async (table: string) =>
      h.db.pool.anyFirst(sql.unsafe`SELECT count(*)::int FROM ${sql.identifier(['proj_sync', table])} WHERE room_id = ${purged.roomId}`);
    for (const table of ['rooms', 'events', 'state_changes', 'current_state', 'memberships']) expect(await rowsOf(table)).toEqual([0]);
    expect(await q.joinedRooms(q.pool, bob)).toEqual([kept.roomId]);
    await expect(q.messages({ roomId: purged.roomId, viewer: { userId: bob }, dir: 'b' })).rejects.toMatchObject({ errcode: 'M_FORBIDDEN' });
    expect(bodies((await q.messages({ roomId: kept.roomId, viewer: { userId: bob }, dir: 'b' })).chunk)).toEqual(['stays']);
    await rebuildProjection(h.db, h.store, new SyncProjector());
    for (const table of ['rooms', 'events', 'memberships']) expect(await rowsOf(table)).toEqual([0]);
    expect(await q.joinedRooms(q.pool, bob)).toEqual([kept.roomId]);
  });

  it('keeps soft-failed and outlier events out of the timeline', async () => {
    const room = await TestRoom.create(h.store, alice);
    await room.message(alice, 'shown');
    const soft = await room.message(alice, 'soft', {}, { softFailed: true });
    const outlier = await room.message(alice, 'outlier', {}, { outlier: true });
    await h.settle();
    const rows = await q.timeline(q.pool, room.roomId, { from: await q.position(), dir: 'b', limit: 3 });
    expect(rows[0].event.content.body).toBe('shown');
    await expect(q.eventForUser(room.roomId, soft.eventId, { userId: alice })).rejects.toMatchObject({ errcode: 'M_NOT_FOUND' });
    await expect(q.eventForUser(room.roomId, outlier.eventId, { userId: alice })).rejects.toMatchObject({ errcode: 'M_NOT_FOUND' });
  });

  it('projects a join-shaped batch: state events held as outliers, then one fact adding the whole state', async () => {
    const room = await TestRoom.create(h.store, alice, { name: 'Large' });
    const { position: before } = await room.message(alice, 'before');
    await h.settle();
    const aliceBefore = await q.membership(q.pool, room.roomId, alice);
    const users = Array.from({ length: 30 }, (_, i) => `@u${i}:far.example`);
    const held: { type: string; state_key: string; event_id: string }[] = [];
    for (const user of users) {
      const { eventId } = await room.send(user, 'm.room.member', { membership: 'join', displayname: `U ${user}` }, { stateKey: user, outlier: true });
      held.push({ type: 'm.room.member', state_key: user, event_id: eventId });
    }
    const invite = await room.send(alice, 'm.room.member', { membership: 'invite' }, { stateKey: carol, outlier: true });
    held.push({ type: 'm.room.member', state_key: carol, event_id: invite.eventId });
    const topic = await room.send(alice, 'm.room.topic', { topic: 'held' }, { stateKey: '', outlier: true });
    held.push({ type: 'm.room.topic', state_key: '', event_id: topic.eventId });
    // The whole state again, alice's own join (unchanged) among it.
    const placed = await room.placeOnState(alice, [...held, { type: 'm.room.member', state_key: alice, event_id: aliceBefore!.event_id! }]);
    await h.settle();

    const outlierRows = await h.db.pool.any(sql.unsafe`SELECT state_key, in_timeline FROM proj_sync.events WHERE event_id = ${topic.eventId}`);
    expect(outlierRows).toEqual([{ state_key: '', in_timeline: false }]);
    const members = await q.joinedMembers(q.pool, room.roomId);
    expect(Object.keys(members).sort()).toEqual([alice, ...users].sort());
    expect(members[users[3]]).toEqual({ display_name: `U ${users[3]}` });
    const joined = await q.membership(q.pool, room.roomId, users[7]);
    expect(joined).toMatchObject({ membership: 'join', event_id: held[7].event_id, position: placed.position, stripped_state: null });
    // Alice's membership did not change: it keeps the position it took it at.
    expect((await q.membership(q.pool, room.roomId, alice))?.position).toBe(aliceBefore!.position);
    expect(aliceBefore!.position).toBeLessThan(before);
    const invited = await q.membership(q.pool, room.roomId, carol);
    expect(invited).toMatchObject({ membership: 'invite', position: placed.position });
    expect(invited?.stripped_state?.map((e) => e.type)).toEqual(expect.arrayContaining(['m.room.create', 'm.room.name', 'm.room.topic']));
    const state = await q.currentState(q.pool, room.roomId);
    expect(state.find((r) => r.type === 'm.room.topic')?.event.content).toEqual({ topic: 'held' });
    // The whole state is the state *before* the placed event: a timeline that starts with it
    // starts on that state, while the state after the event before it stays as it was.
    const justBefore = placed.position - 1n;
    const topics = async (beforeNext: boolean) =>
      (await q.stateAt(q.pool, room.roomId, justBefore, { beforeNext })).filter((r) => r.type === 'm.room.topic').map((r) => r.event_id);
    expect(await topics(true)).toEqual([topic.eventId]);
    expect(await topics(false)).toEqual([]);
    expect(await q.stateKeysChanged(q.pool, room.roomId, justBefore, justBefore, true)).toHaveLength(held.length + 1);
    expect(await q.stateKeysChanged(q.pool, room.roomId, justBefore, justBefore)).toEqual([]);
    expect((await q.stateAt(q.pool, room.roomId, placed.position, { types: ['m.room.topic'] })).map((r) => r.event_id)).toEqual([topic.eventId]);
  });

  it('tracks current state, memberships, prev_content and invite stripped state', async () => {
    const room = await TestRoom.create(h.store, alice, { name: 'First' });
    await room.state_(alice, 'm.room.name', { name: 'Second' });
    await room.join(bob, 'Bob');
    await room.invite(alice, carol);
    await h.settle();
    const state = await q.currentState(q.pool, room.roomId);
    const name = state.find((r) => r.type === 'm.room.name');
    expect(name?.event.content.name).toBe('Second');
    const formatted = q.format(name!, { userId: alice });
    expect(formatted.unsigned).toMatchObject({ prev_content: { name: 'First' }, prev_sender: alice });
    expect(await q.joinedRooms(q.pool, bob)).toEqual([room.roomId]);
    expect(await q.joinedMembers(q.pool, room.roomId)).toEqual({ [alice]: {}, [bob]: { display_name: 'Bob' } });
    const invite = await q.membership(q.pool, room.roomId, carol);
    expect(invite?.membership).toBe('invite');
    const types = invite?.stripped_state?.map((s) => `${s.type}|${s.state_key}`).sort();
    expect(types).toEqual(['m.room.create|', 'm.room.join_rules|', `m.room.member|${alice}`, 'm.room.name|']);
    expect(invite?.stripped_state?.find((s) => s.type === 'm.room.name')?.content).toEqual({ name: 'Second' });
  });

  it('shows the stripped state another server sent with an invite to a room this server does not hold', async () => {
    const roomId = '!elsewhere:remote.example';
    const inviteId = '$invite-of-carol';
    const inviter = '@zoe:remote.example';
    const sent = [
      { type: 'm.room.create', state_key: '', sender: inviter, content: { room_version: '10' } },
      { type: 'm.room.join_rules', state_key: '', sender: inviter, content: { join_rule: 'invite' } },
      { type: 'm.room.name', state_key: '', sender: inviter, content: { name: 'Elsewhere' } },
      { type: 'm.room.topic', sender: inviter, content: { topic: 'no state key: left out' } },
      'not an event',
    ];
    await appendOutOfBandMembership(h.store, {
      roomId,
      eventId: inviteId,
      sender: inviter,
      userId: carol,
      membership: 'invite',
      prevEvent: '$prev',
      unsigned: { invite_room_state: sent as unknown as JsonValue[] },
    });
    await h.settle();
    const invite = await q.membership(q.pool, roomId, carol);
    expect(invite?.membership).toBe('invite');
    expect(invite?.stripped_state).toEqual(sent.slice(0, 3));
  });

  it('answers members now, with membership filters, and at a token', async () => {
    const room = await TestRoom.create(h.store, alice);
    await room.join(bob);
    await h.settle();
    const before = await q.position();
    await room.invite(alice, carol);
    await room.leave(bob);
    await h.settle();
    const all = await q.membersForUser(room.roomId, { userId: alice });
    expect(all.map((e) => [e.state_key, e.content.membership]).sort()).toEqual([
      [alice, 'join'],
      [bob, 'leave'],
      [carol, 'invite'],
    ]);
    const joined = await q.membersForUser(room.roomId, { userId: alice }, { membership: 'join' });
    expect(joined.map((e) => e.state_key)).toEqual([alice]);
    const notLeft = await q.membersForUser(room.roomId, { userId: alice }, { notMembership: 'leave' });
    expect(notLeft.map((e) => e.state_key).sort()).toEqual([alice, carol]);
    const then = await q.membersForUser(room.roomId, { userId: alice }, { at: encodePaginationToken(before) });
    expect(then.map((e) => [e.state_key, e.content.membership]).sort()).toEqual([
      [alice, 'join'],
      [bob, 'join'],
    ]);
    // Bob left: he sees the members as of his leave, not Carol's later changes.
    await room.join(carol);
    await h.settle();
    const bobs = await q.membersForUser(room.roomId, { userId: bob });
    expect(bobs.find((e) => e.state_key === carol)?.content.membership).toBe('invite');
    await expect(q.membersForUser(room.roomId, { userId: '@stranger:test.local' })).rejects.toBeInstanceOf(SyncQueryError);
    await expect(q.membersForUser(room.roomId, { userId: alice }, { at: 'garbage' })).rejects.toBeInstanceOf(SyncTokenError);
  });

  it('shows a former member the state as of their leave, and a world-readable room to anyone', async () => {
    const room = await TestRoom.create(h.store, alice, { name: 'Before', historyVisibility: 'joined' });
    await room.join(bob);
    await room.leave(bob);
    await room.state_(alice, 'm.room.name', { name: 'After' });
    await h.settle();
    const bobs = await q.roomStateForUser(room.roomId, { userId: bob });
    expect(bobs.find((e) => e.type === 'm.room.name')?.content).toEqual({ name: 'Before' });
    expect((await q.stateEventForUser(room.roomId, 'm.room.name', '', { userId: alice })).content).toEqual({ name: 'After' });
    await expect(q.roomStateForUser(room.roomId, { userId: carol })).rejects.toMatchObject({ errcode: 'M_FORBIDDEN' });
    await expect(q.joinedMembersForUser(room.roomId, { userId: bob })).rejects.toMatchObject({ errcode: 'M_FORBIDDEN' });
    // Messages after Bob left are not his to read.
    const page = await q.messages({ roomId: room.roomId, viewer: { userId: bob }, dir: 'b', limit: 50 });
    expect(page.chunk.some((e) => e.type === 'm.room.name' && e.content.name === 'After')).toBe(false);
    expect(page.chunk[0].state_key).toBe(bob);

    const open = await TestRoom.create(h.store, alice, { historyVisibility: 'world_readable' });
    await open.message(alice, 'for everyone');
    await h.settle();
    const peek = await q.messages({ roomId: open.roomId, viewer: { userId: carol }, dir: 'b', limit: 1 });
    expect(peek.chunk.map((e) => e.content.body)).toEqual(['for everyone']);
    expect((await q.roomStateForUser(open.roomId, { userId: carol })).length).toBeGreaterThan(3);
  });

  it('applies redactions: redacted content and unsigned.redacted_because', async () => {
    const room = await TestRoom.create(h.store, alice);
    await room.join(bob);
    const msg = await room.message(bob, 'secret', { url: 'mxc://x/y' });
    const redaction = await room.redact(bob, msg.eventId);
    await h.settle();
    const event = await q.eventForUser(room.roomId, msg.eventId, { userId: alice });
    expect(event.content).toEqual({});
    expect((event.unsigned?.redacted_because as { event_id?: string }).event_id).toBe(redaction.eventId);
    const withUrl = await q.timeline(q.pool, room.roomId, { from: await q.position(), dir: 'b', limit: 10, filter: { contains_url: true } });
    expect(withUrl).toHaveLength(0);
    // The state event's redaction keeps the keys its room version keeps.
    const name = await room.state_(alice, 'm.room.name', { name: 'n' });
    await room.redact(alice, name.eventId);
    await h.settle();
    const state = await q.stateEventForUser(room.roomId, 'm.room.name', '', { userId: alice });
    expect(state.content).toEqual({});
  });

  it('applies a redaction that arrived before its target once the target arrives', async () => {
    const room = await TestRoom.create(h.store, alice);
    const late = room.prepare(alice, 'm.room.message', { msgtype: 'm.text', body: 'late' });
    const redaction = await room.redact(alice, late.eventId);
    await late.append();
    await h.settle();
    const event = await q.eventForUser(room.roomId, late.eventId, { userId: alice });
    expect(event.content).toEqual({});
    expect((event.unsigned?.redacted_because as { event_id?: string }).event_id).toBe(redaction.eventId);
    const pending = await h.db.pool.anyFirst(sql.unsafe`SELECT target_id FROM proj_sync.pending_redactions`);
    expect(pending).toEqual([]);
  });

  it('does not apply a redaction from another server by a user without power', async () => {
    const room = await TestRoom.create(h.store, alice);
    await room.join(mallory);
    const msg = await room.message(alice, 'keep me');
    await room.redact(mallory, msg.eventId);
    await h.settle();
    const event = await q.eventForUser(room.roomId, msg.eventId, { userId: alice });
    expect(event.content.body).toBe('keep me');
    expect(event.unsigned?.redacted_because).toBeUndefined();
  });

  it('handles state resets: removed entries leave the state and the membership', async () => {
    const room = await TestRoom.create(h.store, alice, { name: 'named' });
    await room.join(bob);
    await h.settle();
    const before = await q.position();
    await room.resetState(alice, [
      { type: 'm.room.name', stateKey: '' },
      { type: 'm.room.member', stateKey: bob },
    ]);
    await h.settle();
    const state = await q.currentState(q.pool, room.roomId);
    expect(state.find((r) => r.type === 'm.room.name')).toBeUndefined();
    expect(state.find((r) => r.state_key === bob)).toBeUndefined();
    expect((await q.membership(q.pool, room.roomId, bob))?.membership).toBe('leave');
    expect(await q.joinedRooms(q.pool, bob)).toEqual([]);
    const old = await q.stateAt(q.pool, room.roomId, before);
    expect(old.find((r) => r.type === 'm.room.name')?.event.content.name).toBe('named');
  });

  it('paginates /messages both ways with tokens and filters', async () => {
    const room = await TestRoom.create(h.store, alice);
    await room.join(bob);
    for (let i = 0; i < 7; i++) await room.message(i % 2 === 0 ? alice : bob, `m${i}`);
    await h.settle();
    const page1 = await q.messages({ roomId: room.roomId, viewer: { userId: alice }, dir: 'b', limit: 3, filter: { types: ['m.room.message'] } });
    expect(bodies(page1.chunk)).toEqual(['m6', 'm5', 'm4']);
    const page2 = await q.messages({ roomId: room.roomId, viewer: { userId: alice }, dir: 'b', limit: 3, from: page1.end, filter: { types: ['m.room.message'] } });
    expect(bodies(page2.chunk)).toEqual(['m3', 'm2', 'm1']);
    const page3 = await q.messages({ roomId: room.roomId, viewer: { userId: alice }, dir: 'b', limit: 3, from: page2.end, filter: { types: ['m.room.*'] } });
    expect(page3.chunk.map((e) => e.content.body ?? e.type)).toEqual(['m0', 'm.room.member', 'm.room.history_visibility']);
    const forward = await q.messages({ roomId: room.roomId, viewer: { userId: alice }, dir: 'f', from: page2.end, limit: 10, filter: { senders: [bob] } });
    expect(bodies(forward.chunk)).toEqual(['m1', 'm3', 'm5']);
    const bounded = await q.messages({ roomId: room.roomId, viewer: { userId: alice }, dir: 'b', from: page1.start, to: page2.end, limit: 50, filter: { not_senders: [alice] } });
    expect(bodies(bounded.chunk)).toEqual(['m5', 'm3', 'm1']);
    const all = await q.messages({ roomId: room.roomId, viewer: { userId: alice }, dir: 'b', limit: 100 });
    expect(all.end).toBeUndefined();
    const lazy = await q.messages({ roomId: room.roomId, viewer: { userId: alice }, dir: 'b', limit: 1, filter: { lazy_load_members: true } });
    expect(lazy.state?.map((e) => e.state_key)).toEqual([alice]);
    await expect(q.messages({ roomId: room.roomId, viewer: { userId: alice }, dir: 'b', from: 'nope' })).rejects.toMatchObject({ errcode: 'M_INVALID_PARAM' });
    await expect(q.messages({ roomId: room.roomId, viewer: { userId: carol }, dir: 'b' })).rejects.toMatchObject({ errcode: 'M_FORBIDDEN' });
    await expect(q.messages({ roomId: '!nowhere:test.local', viewer: { userId: alice }, dir: 'b' })).rejects.toMatchObject({ errcode: 'M_FORBIDDEN' });
  });

  it('answers /context with events around one and the state at the last', async () => {
    const room = await TestRoom.create(h.store, alice);
    const sent = [];
    for (let i = 0; i < 6; i++) sent.push(await room.message(alice, `c${i}`));
    await h.settle();
    const ctx = await q.context(room.roomId, sent[3].eventId, { userId: alice }, 4);
    expect(ctx.event.content.body).toBe('c3');
    expect(bodies(ctx.events_before)).toEqual(['c2', 'c1']);
    expect(bodies(ctx.events_after)).toEqual(['c4', 'c5']);
    expect(ctx.state.some((e) => e.type === 'm.room.create')).toBe(true);
    const after = await q.messages({ roomId: room.roomId, viewer: { userId: alice }, dir: 'f', from: ctx.end, limit: 10 });
    expect(after.chunk).toEqual([]);
    const before = await q.messages({ roomId: room.roomId, viewer: { userId: alice }, dir: 'b', from: ctx.start, limit: 1 });
    expect(bodies(before.chunk)).toEqual(['c0']);
    await expect(q.context(room.roomId, '$missing', { userId: alice })).rejects.toMatchObject({ errcode: 'M_NOT_FOUND' });
  });

  describe('history visibility', () => {
    async function scenario(visibility: 'shared' | 'invited' | 'joined' | 'world_readable') {
      const room = await TestRoom.create(h.store, alice, { historyVisibility: visibility });
      const early = await room.message(alice, 'before invite');
      await room.invite(alice, bob);
      const invited = await room.message(alice, 'while invited');
      await room.join(bob);
      const joined = await room.message(alice, 'while joined');
      await room.leave(bob);
      const left = await room.message(alice, 'after leave');
      await h.settle();
      const sees = async (id: string, user = bob) =>
        q.eventForUser(room.roomId, id, { userId: user }).then(
          () => true,
          (e: unknown) => {
            if (e instanceof SyncQueryError && e.errcode === 'M_NOT_FOUND') return false;
            throw e;
          },
        );
      return {
        early: await sees(early.eventId),
        invited: await sees(invited.eventId),
        joined: await sees(joined.eventId),
        left: await sees(left.eventId),
        stranger: await sees(early.eventId, carol),
      };
    }

    it('shared: everything up to the leave, since the user joined after', async () => {
      expect(await scenario('shared')).toEqual({ early: true, invited: true, joined: true, left: false, stranger: false });
    });
    it('invited: from the invite on', async () => {
      expect(await scenario('invited')).toEqual({ early: false, invited: true, joined: true, left: false, stranger: false });
    });
    it('joined: only while joined', async () => {
      expect(await scenario('joined')).toEqual({ early: false, invited: false, joined: true, left: false, stranger: false });
    });
    it('world_readable: everything, to anyone', async () => {
      expect(await scenario('world_readable')).toEqual({ early: true, invited: true, joined: true, left: true, stranger: true });
    });
  });

  it('rebuilds into a new generation holding the same rows', async () => {
    const room = await TestRoom.create(h.store, alice);
    await room.join(bob);
    const msg = await room.message(bob, 'x');
    await room.redact(alice, msg.eventId);
    await room.invite(alice, carol);
    await room.resetState(alice, [{ type: 'm.room.member', stateKey: bob }]);
    await h.settle();
    const dump = async () => {
      const out: Record<string, unknown> = {};
      for (const table of ['rooms', 'events', 'state_changes', 'current_state', 'memberships', 'pending_redactions']) {
        out[table] = await h.db.pool.any(sql.unsafe`SELECT * FROM ${sql.identifier(['proj_sync', table])} ORDER BY 1, 2`);
      }
      return out;
    };
    const before = await dump();
    expect((before.events as unknown[]).length).toBeGreaterThan(5);
    const { generation } = await rebuildProjection(h.db, h.store, new SyncProjector());
    expect(generation).toBe(2);
    expect(await dump()).toEqual(before);
    // One event per batch writes the same rows as whole batches.
    expect((await rebuildProjection(h.db, h.store, new SyncProjector(), { batchSize: 1 })).generation).toBe(3);
    expect(await dump()).toEqual(before);
  });
});

describe('sync projector: the rows a batch statement reports writing', () => {
  it('are the rows a read of the batch range returns', async () => {
    const reports: { position: bigint; written: WrittenBatch }[] = [];
    const harness = await openProjectionHarness([new SyncProjector()], (name, position, _wrote, written) => {
      if (name === SYNC_PROJECTION && written) reports.push({ position, written });
    });
    try {
      const queries = new SyncQueries(harness.db.pool);
      const room = await TestRoom.create(harness.store, alice);
      await room.join(bob);
      await harness.settle();
      reports.length = 0;
      await room.message(alice, 'one', {}, { local: { user_id: alice, device_id: 'D', txn_id: 't1' } });
      await room.message(bob, 'with url', { url: 'mxc://x/y' });
      await room.message(alice, 'soft', {}, { softFailed: true });
      await room.message(alice, 'outlier', {}, { outlier: true });
      await room.message(bob, 'unicode \u00e9\u{1F600} "quoted"', { n: -15, big: 9007199254740991, nested: { list: [1, 'two', null] } });
      // The state event goes in a batch of its own (batches are what the runner read together).
      await harness.settle();
      await room.send(alice, 'm.room.topic', { topic: 'state' }, { stateKey: '' });
      await harness.settle();
      await room.message(alice, 'after state');
      await harness.settle();
      const reported = reports.flatMap((r) => writtenEventRows(r.written.value) ?? []);
      // Every plain event was reported by its batch statement; the state event was not (its batch went through handle).
      expect(reported.map((row) => row.event.content.body)).toEqual(['one', 'with url', 'soft', 'outlier', 'unicode \u00e9\u{1F600} "quoted"', 'after state']);
      for (const { position, written } of reports) {
        const { rows, users, stateRooms } = await queries.rangeBetween(harness.db.pool, written.after, position);
        expect(writtenEventRows(written.value)).toEqual(rows);
        expect(users.size + stateRooms.size).toBe(0);
      }
    } finally {
      await harness.close();
    }
  });

  it('an event already stored (an outlier that joins the timeline) is applied by handle, with no report', async () => {
    const reports: { position: bigint; written?: WrittenBatch }[] = [];
    const harness = await openProjectionHarness([new SyncProjector()], (name, position, _wrote, written) => {
      if (name === SYNC_PROJECTION) reports.push({ position, ...(written ? { written } : {}) });
    });
    try {
      const room = await TestRoom.create(harness.store, alice);
      const outlier = await room.message(alice, 'first an outlier', {}, { outlier: true });
      await harness.settle();
      const [recorded] = (await harness.store.readAll({ fromPosition: outlier.position - 1n, limit: 10 })).filter((e) => e.position === outlier.position);
      // The same event accepted again later, into the timeline (another fact of the room's stream).
      const fact = { ...(recorded.data as Record<string, unknown>), outlier: false };
      const again = await harness.store.append(recorded.stream, 'any', [{ id: `${recorded.id}-timeline`, type: recorded.type, data: fact as JsonValue }]);
      await harness.settle();
      const row = await harness.db.pool.one(sql.unsafe`SELECT position, in_timeline FROM proj_sync.events WHERE event_id = ${outlier.eventId}`);
      expect(row).toEqual({ position: again.position, in_timeline: true });
      const report = reports.find((r) => r.position === again.position);
      expect(report).toBeDefined();
      expect(report?.written).toBeUndefined();
    } finally {
      await harness.close();
    }
  });
});

describe(`sync projector: one statement or handle (${process.env.TEST_DATABASE_URL ? 'PostgreSQL' : 'PGlite'})`, () => {
  let db: Database;
  let store: PostgresEventStore;
  let testDb: TestDatabase;

  beforeAll(async () => {
    testDb = await openTestDatabase('hs_sync_stmt', 4);
    db = testDb.db;
    store = await PostgresEventStore.open(db);
  });
  afterAll(async () => {
    await store.close();
    await testDb.close();
  });

  /** The sync projector under another name, recording which path applied each batch. */
  function variant(name: string, useStatement: boolean) {
    const inner = new SyncProjector();
    const seen = { statements: [] as string[][], handled: [] as string[][] };
    const ids = (batch: RecordedEvent[]) => batch.map((e) => (e.data as { event_id?: string }).event_id ?? e.type);
    const projector: Projector = {
      name,
      version: inner.version,
      eventTypes: inner.eventTypes,
      tables: inner.tables,
      setup: (tx) => inner.setup(tx),
      handle: (batch, tx) => {
        seen.handled.push(ids(batch));
        return inner.handle(batch, tx);
      },
      ...(useStatement
        ? {
            statement: (batch: RecordedEvent[], table: Parameters<NonNullable<Projector['statement']>>[1]) => {
              const statement = inner.statement(batch, table);
              if (statement) seen.statements.push(ids(batch));
              return statement;
            },
          }
        : {}),
    };
    return { projector, seen };
  }

  async function dump(name: string): Promise<Record<string, unknown>> {
    const out: Record<string, unknown> = {};
    for (const table of SYNC_TABLES) {
      out[table] = await db.pool.any(sql.unsafe`SELECT * FROM ${sql.identifier([`proj_${name}`, table])} AS t ORDER BY t::text`);
    }
    return out;
  }

  it('writes the same tables for the same batches, including a redaction that arrives before its target', async () => {
    const room = await TestRoom.create(store, alice);
    await room.join(bob);
    await room.message(alice, 'one', {}, { local: { user_id: alice, device_id: 'D', txn_id: 't1' } });
    await room.message(bob, 'two', { url: 'mxc://x/y' });
    const late = room.prepare(bob, 'm.room.message', { msgtype: 'm.text', body: 'late' });
    await room.redact(bob, late.eventId);
    await room.message(alice, 'three');
    await room.message(alice, 'soft', {}, { softFailed: true });
    await late.append();
    await room.message(bob, 'four');
    const other = await TestRoom.create(store, bob, { version: '10' });
    await other.message(bob, 'elsewhere');
    await room.message(alice, 'five');
    await other.forget(bob);
    await room.message(alice, 'six');
    // The head only once every append above is visible (another test file's transaction may be in flight).
    expect(await store.settled()).toBe(true);
    const head = await store.headPosition();

    for (const batchSize of [1, 2, 3, 1000]) {
      const byStatement = variant('sync_by_statement', true);
      const byHandle = variant('sync_by_handle', false);
      expect((await rebuildProjection(db, store, byStatement.projector, { batchSize })).checkpoint).toBe(head);
      expect((await rebuildProjection(db, store, byHandle.projector, { batchSize })).checkpoint).toBe(head);
      const rows = await dump('sync_by_statement');
      expect(rows).toEqual(await dump('sync_by_handle'));
      expect((rows.events as { event: { content: { body?: string } }; redacted_because: unknown }[]).find((e) => e.redacted_because !== null)?.event.content).toEqual({});
      expect(rows.pending_redactions).toEqual([]);
      expect(byHandle.seen.statements).toEqual([]);
      if (batchSize === 1) {
        // Every plain message went through one statement; the late target's statement found
        // its pending redaction and fell back to handle.
        expect(byStatement.seen.statements).toContainEqual([late.eventId]);
        expect(byStatement.seen.handled).toContainEqual([late.eventId]);
        expect(byStatement.seen.statements.length).toBeGreaterThanOrEqual(8);
        expect(byStatement.seen.handled.length).toBeLessThan(byHandle.seen.handled.length);
      }
    }
  });
});
