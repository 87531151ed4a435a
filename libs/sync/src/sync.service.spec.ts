import { SyncTokenError, parseSyncToken } from '@hs/contracts';
import type { JsonObject } from '@hs/protocol';
import { SyncProjector, SyncQueries } from '@hs/projections/sync';
import { ReceiptsProjector } from '@hs/projections/receipts';
import { PushProjector } from '@hs/projections/push';
import { TestRoom } from '../../../projections/sync/testing/test-room';
import { appendOutOfBandMembership } from '../../../projections/sync/testing/out-of-band';
import { openProjectionHarness, type ProjectionHarness } from '../../../projections/sync/testing/harness';
import { PUSH_PROJECTION } from '@hs/projections/push';
import type { ReadBarrier } from '@hs/eventstore';
import { SyncNotifier } from './notifier';
import { SyncService, type SyncResponse } from './sync.service';
import { TypingStore } from './typing';
import { MemoryAccountData } from '../testing/memory-account-data';

const alice = '@alice:test.local';
const bob = '@bob:test.local';
const carol = '@carol:test.local';

describe.each(['database', 'live'] as const)('SyncService on the %s path', (mode) => {
let h: ProjectionHarness;
let notifier: SyncNotifier | undefined;
let typing: TypingStore;
let accountData: MemoryAccountData;
let service: SyncService;

beforeEach(async () => {
  h = await openProjectionHarness([new SyncProjector(), new ReceiptsProjector(), new PushProjector('test.local')], (name, position, wrote, written) =>
    notifier?.checkpointAdvanced(name, position, wrote, written),
  );
  typing = new TypingStore();
  accountData = new MemoryAccountData();
  const queries = new SyncQueries(h.db.pool);
  notifier = new SyncNotifier(h.db.pool, typing, accountData, queries);
  service = new SyncService(queries, { typing, accountData, notifier, live: mode === 'live' });
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

function bodies(response: SyncResponse, roomId: string): unknown[] {
  return (response.rooms?.join?.[roomId]?.timeline.events ?? []).map((e) => e.content?.body ?? e.type);
}

describe('SyncService', () => {
  it('initial sync: joined rooms with timeline, state and prev_batch; invites with stripped state', async () => {
    const room = await TestRoom.create(h.store, alice, { name: 'Lobby' });
    await room.join(bob);
    for (let i = 0; i < 12; i++) await room.message(alice, `m${i}`);
    await room.invite(alice, carol);
    await settle();
    const response = await service.sync({ userId: bob, deviceId: 'B1' });
    const joined = response.rooms?.join?.[room.roomId];
    expect(joined?.timeline.limited).toBe(true);
    expect(joined?.timeline.events).toHaveLength(10);
    expect(joined?.summary).toEqual({ 'm.joined_member_count': 2, 'm.invited_member_count': 1 });
    expect(joined?.timeline.events[9].state_key).toBe(carol);
    expect(joined?.state.events.find((e) => e.type === 'm.room.name')?.content).toEqual({ name: 'Lobby' });
    expect(joined?.state.events.some((e) => e.type === 'm.room.member' && e.state_key === bob)).toBe(true);
    // The state is as of the timeline's start: Carol's invite is in the timeline, not the state.
    expect(joined?.state.events.some((e) => e.state_key === carol)).toBe(false);
    expect(parseSyncToken(response.next_batch).events).toBeGreaterThan(0n);
    // prev_batch continues backwards right before the timeline.
    const earlier = await service.queries.messages({ roomId: room.roomId, viewer: { userId: bob }, dir: 'b', from: joined?.timeline.prev_batch, limit: 3 });
    expect(earlier.chunk.map((e) => e.content.body)).toEqual(['m2', 'm1', 'm0']);

    const forCarol = await service.sync({ userId: carol, deviceId: 'C1' });
    const invite = forCarol.rooms?.invite?.[room.roomId];
    expect(invite?.invite_state.events.map((e) => e.type).sort()).toEqual([
      'm.room.create',
      'm.room.join_rules',
      'm.room.member',
      'm.room.member',
      'm.room.name',
    ]);
    expect(invite?.invite_state.events.find((e) => e.state_key === carol)?.content).toEqual({ membership: 'invite' });
    expect(forCarol.rooms?.join).toBeUndefined();
  });

  it('incremental sync: only what changed, newly joined rooms in full, left rooms, transaction ids', async () => {
    const room = await TestRoom.create(h.store, alice);
    await room.join(bob);
    await room.message(alice, 'old');
    const other = await TestRoom.create(h.store, alice, { name: 'Other' });
    await settle();
    const first = await service.sync({ userId: bob, deviceId: 'B1' });
    expect(first.rooms?.join?.[other.roomId]).toBeUndefined();

    await room.message(bob, 'new', {}, { local: { user_id: bob, device_id: 'B1', txn_id: 't1' } });
    await other.join(bob);
    await settle();
    const second = await service.sync({ userId: bob, deviceId: 'B1', since: first.next_batch });
    expect(bodies(second, room.roomId)).toEqual(['new']);
    expect(second.rooms?.join?.[room.roomId]?.timeline.limited).toBe(false);
    expect(second.rooms?.join?.[room.roomId]?.state.events).toEqual([]);
    expect(second.rooms?.join?.[room.roomId]?.timeline.events[0].unsigned?.transaction_id).toBe('t1');
    const otherDevice = await service.sync({ userId: bob, deviceId: 'B2', since: first.next_batch });
    expect(otherDevice.rooms?.join?.[room.roomId]?.timeline.events[0].unsigned?.transaction_id).toBeUndefined();
    // The room Bob joined since comes with its whole state.
    const joinedOther = second.rooms?.join?.[other.roomId];
    const otherEvents = [...(joinedOther?.state.events ?? []), ...(joinedOther?.timeline.events ?? [])];
    expect(otherEvents.map((e) => e.type)).toEqual(expect.arrayContaining(['m.room.create', 'm.room.name', 'm.room.power_levels']));

    await room.leave(bob);
    await room.message(alice, 'after bob left');
    await settle();
    const third = await service.sync({ userId: bob, deviceId: 'B1', since: second.next_batch });
    expect(third.rooms?.join?.[room.roomId]).toBeUndefined();
    const left = third.rooms?.leave?.[room.roomId];
    expect(left?.timeline.events.map((e) => e.state_key)).toEqual([bob]);
    // Initial syncs show left rooms only with include_leave.
    const initial = await service.sync({ userId: bob, deviceId: 'B1' });
    expect(initial.rooms?.leave).toBeUndefined();
    const withLeave = await service.sync({ userId: bob, deviceId: 'B1', filter: { room: { include_leave: true } } });
    expect(withLeave.rooms?.leave?.[room.roomId]?.timeline.events.map((e) => e.content?.body ?? e.state_key)).toContain('new');
    expect(withLeave.rooms?.leave?.[room.roomId]?.timeline.events.map((e) => e.content?.body)).not.toContain('after bob left');
    // A forgotten room is no longer listed.
    await room.forget(bob);
    await settle();
    const forgotten = await service.sync({ userId: bob, deviceId: 'B1', filter: { room: { include_leave: true } } });
    expect(forgotten.rooms?.leave).toBeUndefined();
  });

  it('a display name change is not a new join: the incremental sync shows the member event and what followed, not the whole room', async () => {
    const room = await TestRoom.create(h.store, alice, { name: 'Lobby' });
    await room.join(bob);
    await settle();
    const first = await service.sync({ userId: bob, deviceId: 'B1' });
    const renamed = await room.membership(bob, bob, 'join', { displayname: 'Bobby' });
    const message = await room.message(bob, 'after the rename');
    await settle();
    const second = await service.sync({ userId: bob, deviceId: 'B1', since: first.next_batch });
    const joined = second.rooms?.join?.[room.roomId];
    expect(joined?.timeline.events.map((e) => e.event_id)).toEqual([renamed.eventId, message.eventId]);
    expect(joined?.timeline.limited).toBe(false);
    expect(joined?.state.events).toEqual([]);
    // A filter that shows neither: nothing to send.
    const filtered = await service.sync({
      userId: bob,
      deviceId: 'B1',
      since: first.next_batch,
      filter: { room: { timeline: { types: [] }, state: { types: ['m.room.name'] } } },
    });
    expect(filtered.rooms?.join?.[room.roomId]).toBeUndefined();
  });

  it('m.ignored_user_list: messages and invites of ignored users are left out of /sync, /messages and /context; their state events are not', async () => {
    const room = await TestRoom.create(h.store, alice);
    await room.join(bob);
    await room.join(carol);
    await settle();
    accountData.set(bob, null, 'm.ignored_user_list', { ignored_users: { [carol]: {} } });
    const first = await service.sync({ userId: bob, deviceId: 'B1' });
    const hello = await room.message(alice, 'hello');
    await room.message(carol, 'from carol');
    await room.state_(carol, 'm.room.topic', { topic: 'by carol' });
    await room.message(alice, 'bye');
    const other = await TestRoom.create(h.store, carol);
    await other.invite(carol, bob);
    await settle();
    const second = await service.sync({ userId: bob, deviceId: 'B1', since: first.next_batch });
    expect(bodies(second, room.roomId)).toEqual(['hello', 'm.room.topic', 'bye']);
    expect(second.rooms?.invite?.[other.roomId]).toBeUndefined();
    const initial = await service.sync({ userId: bob, deviceId: 'B2' });
    expect(bodies(initial, room.roomId)).not.toContain('from carol');
    expect(initial.rooms?.invite?.[other.roomId]).toBeUndefined();
    // Alice ignores nobody.
    const forAlice = await service.sync({ userId: alice, deviceId: 'A1' });
    expect(bodies(forAlice, room.roomId)).toContain('from carol');
    const viewer = { userId: bob, ignored: new Set([carol]) };
    const messages = await service.queries.messages({ roomId: room.roomId, viewer, dir: 'b', limit: 3 });
    expect(messages.chunk.map((e) => e.content.body ?? e.type)).toEqual(['bye', 'm.room.topic', 'hello']);
    const context = await service.queries.context(room.roomId, hello.eventId, viewer, 4);
    expect(context.events_after.map((e) => e.content.body ?? e.type)).toEqual(['m.room.topic', 'bye']);
    // Unignoring takes effect at the next read.
    accountData.set(bob, null, 'm.ignored_user_list', { ignored_users: {} });
    const third = await service.sync({ userId: bob, deviceId: 'B3' });
    expect(bodies(third, room.roomId)).toContain('from carol');
    expect(third.rooms?.invite?.[other.roomId]).toBeDefined();
  });

  it('a rejected invite moves the room from invite to leave, with the rejection in the timeline', async () => {
    const room = await TestRoom.create(h.store, alice, { historyVisibility: 'joined' });
    await room.message(alice, 'private');
    await room.invite(alice, bob);
    await settle();
    const first = await service.sync({ userId: bob, deviceId: 'B1' });
    expect(Object.keys(first.rooms?.invite ?? {})).toEqual([room.roomId]);
    await room.leave(bob);
    await settle();
    const second = await service.sync({ userId: bob, deviceId: 'B1', since: first.next_batch });
    expect(second.rooms?.invite).toBeUndefined();
    const left = second.rooms?.leave?.[room.roomId];
    expect(left?.timeline.events.map((e) => [e.state_key, e.content?.membership])).toEqual([[bob, 'leave']]);
    expect(left?.timeline.events.some((e) => e.content?.body === 'private')).toBe(false);
  });

  it('an invite from another server declined on this server only: the room moves to leave with the leave as its timeline', async () => {
    const roomId = '!elsewhere:remote.example';
    const zoe = '@zoe:remote.example';
    const outOfBand = (eventId: string, sender: string, membership: string, prevEvent: string, unsigned?: JsonObject) =>
      appendOutOfBandMembership(h.store, { roomId, eventId, sender, userId: bob, membership, prevEvent, unsigned });
    await outOfBand('$invite', zoe, 'invite', '$remote-prev', { invite_room_state: [] });
    await settle();
    const first = await service.sync({ userId: bob, deviceId: 'B1' });
    expect(Object.keys(first.rooms?.invite ?? {})).toEqual([roomId]);
    await outOfBand('$declined', bob, 'leave', '$invite');
    await settle();
    const second = await service.sync({ userId: bob, deviceId: 'B1', since: first.next_batch });
    expect(second.rooms?.invite).toBeUndefined();
    const left = second.rooms?.leave?.[roomId];
    expect(left?.timeline.events.map((e) => [e.event_id, e.state_key, e.content?.membership])).toEqual([['$declined', bob, 'leave']]);
  });

  it('a room joined and left between two syncs comes in rooms.leave with the full state at the start of its timeline', async () => {
    const room = await TestRoom.create(h.store, alice, { name: 'Passing through' });
    await room.state_(alice, 'org.example.state', { n: 1 });
    await room.invite(alice, bob);
    await settle();
    const filter = { room: { include_leave: true, timeline: { types: [] as string[] }, state: { types: ['org.example.state', 'm.room.name'] } } };
    const first = await service.sync({ userId: bob, deviceId: 'B1', filter });
    expect(first.rooms?.invite?.[room.roomId]).toBeDefined();
    await room.join(bob);
    await room.leave(bob);
    await settle();
    const second = await service.sync({ userId: bob, deviceId: 'B1', since: first.next_batch, filter });
    const left = second.rooms?.leave?.[room.roomId];
    expect(left?.state.events.map((e) => [e.type, e.content])).toEqual([
      ['m.room.name', { name: 'Passing through' }],
      ['org.example.state', { n: 1 }],
    ]);
    // Without a filter: the timeline from the room's start, the state before it.
    const plain = await service.sync({ userId: bob, deviceId: 'B2', since: first.next_batch });
    const whole = plain.rooms?.leave?.[room.roomId];
    expect(whole?.timeline.events.map((e) => e.type)).toContain('m.room.create');
    expect(whole?.timeline.events.at(-1)).toMatchObject({ state_key: bob, content: { membership: 'leave' } });
  });

  it('a joined user sees the current state in the timeline where history visibility hides how it came to be', async () => {
    const room = await TestRoom.create(h.store, alice);
    await room.join(bob);
    await room.state_(alice, 'm.room.history_visibility', { history_visibility: 'joined' });
    await room.invite(alice, carol);
    await settle();
    const first = await service.sync({ userId: bob, deviceId: 'B1' });
    await room.leave(bob);
    const carolJoin = await room.join(carol);
    await room.message(carol, 'unseen');
    await room.state_(alice, 'm.room.topic', { topic: 'set while bob was away' });
    await room.state_(alice, 'm.room.topic', { topic: 'replaced while bob was away' });
    await room.join(bob);
    await settle();
    const second = await service.sync({ userId: bob, deviceId: 'B1', since: first.next_batch });
    const events = second.rooms?.join?.[room.roomId]?.timeline.events ?? [];
    expect(events.some((e) => e.event_id === carolJoin.eventId)).toBe(true);
    // The current topic is there; the message and the replaced topic, not current, stay hidden.
    expect(events.filter((e) => e.type === 'm.room.topic').map((e) => e.content?.topic)).toEqual(['replaced while bob was away']);
    expect(events.some((e) => e.content?.body === 'unseen')).toBe(false);
    // /messages keeps the history visibility rules.
    const messages = await service.queries.messages({ roomId: room.roomId, viewer: { userId: bob }, dir: 'b', limit: 50 });
    expect(messages.chunk.some((e) => e.event_id === carolJoin.eventId)).toBe(false);
  });

  it('a newly joined room in an incremental sync is limited when its timeline leaves out events the filter matches, not otherwise', async () => {
    const room = await TestRoom.create(h.store, alice);
    for (let i = 0; i < 4; i++) await room.message(alice, `before ${i}`);
    await settle();
    const filter = { room: { timeline: { types: ['m.room.message'], limit: 10 } } };
    const first = await service.sync({ userId: bob, deviceId: 'B1', filter });
    for (let i = 0; i < 4; i++) await room.message(alice, `after ${i}`);
    await room.join(bob);
    await settle();
    const fits = await service.sync({ userId: bob, deviceId: 'B1', since: first.next_batch, filter });
    expect(bodies(fits, room.roomId)).toHaveLength(8);
    expect(fits.rooms?.join?.[room.roomId]?.timeline.limited).toBe(false);
    const small = { room: { timeline: { types: ['m.room.message'], limit: 5 } } };
    const cut = await service.sync({ userId: bob, deviceId: 'B1', since: first.next_batch, filter: small });
    expect(bodies(cut, room.roomId)).toEqual(['before 3', 'after 0', 'after 1', 'after 2', 'after 3']);
    expect(cut.rooms?.join?.[room.roomId]?.timeline.limited).toBe(true);
  });

  it('limited incremental timeline: state changed in the gap goes in the state block', async () => {
    const room = await TestRoom.create(h.store, alice);
    await room.join(bob);
    await settle();
    const first = await service.sync({ userId: bob, deviceId: 'B1' });
    await room.state_(alice, 'm.room.topic', { topic: 'changed in the gap' });
    for (let i = 0; i < 5; i++) await room.message(alice, `g${i}`);
    await settle();
    const filter = { room: { timeline: { limit: 2 } } };
    const second = await service.sync({ userId: bob, deviceId: 'B1', since: first.next_batch, filter });
    const joined = second.rooms?.join?.[room.roomId];
    expect(bodies(second, room.roomId)).toEqual(['g3', 'g4']);
    expect(joined?.timeline.limited).toBe(true);
    expect(joined?.state.events.map((e) => e.type)).toEqual(['m.room.topic']);
    const full = await service.sync({ userId: bob, deviceId: 'B1', since: first.next_batch, filter, fullState: true });
    expect(full.rooms?.join?.[room.roomId]?.state.events.map((e) => e.type)).toEqual(
      expect.arrayContaining(['m.room.create', 'm.room.power_levels', 'm.room.topic', 'm.room.member']),
    );
    expect(bodies(full, room.roomId)).toEqual(['g3', 'g4']);
  });

  it('limited incremental timeline with lazy-loaded members: joins and leaves in the gap go in the state block', async () => {
    const dave = '@dave:test.local';
    const room = await TestRoom.create(h.store, alice);
    await room.join(bob);
    await room.join(carol);
    for (let i = 0; i < 3; i++) await room.message(bob, `b${i}`);
    await settle();
    const lazy = { room: { state: { lazy_load_members: true }, timeline: { limit: 3 } } };
    const members = (r: SyncResponse) =>
      (r.rooms?.join?.[room.roomId]?.state.events ?? [])
        .filter((e) => e.type === 'm.room.member')
        .map((e) => `${e.state_key} ${e.content?.membership}`)
        .sort();
    const first = await service.sync({ userId: alice, deviceId: 'A1', filter: lazy });
    expect(members(first)).toEqual([`${alice} join`, `${bob} join`]);
    // Dave joins in the gap, then Carol speaks: Carol as a sender, Dave as a change in the gap.
    await room.join(dave);
    for (let i = 0; i < 5; i++) await room.message(carol, `c${i}`);
    await settle();
    const second = await service.sync({ userId: alice, deviceId: 'A1', since: first.next_batch, filter: lazy });
    expect(second.rooms?.join?.[room.roomId]?.timeline.limited).toBe(true);
    expect(members(second)).toEqual([`${carol} join`, `${dave} join`]);
    // Dave leaves in the gap: only his leave is new to the client.
    await room.leave(dave);
    for (let i = 0; i < 5; i++) await room.message(carol, `d${i}`);
    await settle();
    const third = await service.sync({ userId: alice, deviceId: 'A1', since: second.next_batch, filter: lazy });
    expect(third.rooms?.join?.[room.roomId]?.timeline.limited).toBe(true);
    expect(members(third)).toEqual([`${dave} leave`]);
    // Without lazy-loading, the same gap shows the same change.
    const plain = await service.sync({ userId: alice, deviceId: 'A2', since: second.next_batch, filter: { room: { timeline: { limit: 3 } } } });
    expect(members(plain)).toEqual([`${dave} leave`]);
  });

  it('lazy-loads members: senders only, once per device unless redundant members are asked for', async () => {
    const room = await TestRoom.create(h.store, alice);
    await room.join(bob);
    await room.join(carol);
    await room.message(carol, 'hello');
    await room.message(alice, 'hi');
    await settle();
    const lazy = { room: { state: { lazy_load_members: true }, timeline: { limit: 2 } } };
    const first = await service.sync({ userId: bob, deviceId: 'B1', filter: lazy });
    const members = (r: SyncResponse) =>
      (r.rooms?.join?.[room.roomId]?.state.events ?? []).filter((e) => e.type === 'm.room.member').map((e) => e.state_key).sort();
    expect(members(first)).toEqual([alice, bob, carol]);
    expect(first.rooms?.join?.[room.roomId]?.summary).toEqual({
      'm.heroes': [alice, carol],
      'm.joined_member_count': 3,
      'm.invited_member_count': 0,
    });
    await room.message(carol, 'again');
    await settle();
    const second = await service.sync({ userId: bob, deviceId: 'B1', since: first.next_batch, filter: lazy });
    expect(bodies(second, room.roomId)).toEqual(['again']);
    expect(members(second)).toEqual([]);
    const redundant = { room: { state: { lazy_load_members: true, include_redundant_members: true } } };
    const third = await service.sync({ userId: bob, deviceId: 'B1', since: first.next_batch, filter: redundant });
    // The senders' members again; not Bob's own, who sent nothing and has it already.
    expect(members(third)).toEqual([carol]);
    const unfiltered = await service.sync({ userId: bob, deviceId: 'B2', filter: { room: { timeline: { limit: 2 } } } });
    expect(members(unfiltered)).toEqual([alice, bob, carol]);
  });

  it('applies room, timeline, state, account data filters and event_fields', async () => {
    const a = await TestRoom.create(h.store, alice);
    const b = await TestRoom.create(h.store, alice);
    await a.message(alice, 'in a');
    await a.send(alice, 'org.example.custom', { x: 1 });
    await b.message(alice, 'in b');
    accountData.set(alice, null, 'm.direct', {});
    accountData.set(alice, null, 'org.example.settings', { y: 2 });
    accountData.set(alice, a.roomId, 'm.tag', { tags: {} });
    await settle();
    const onlyA = await service.sync({ userId: alice, deviceId: 'A', filter: { room: { rooms: [a.roomId] } } });
    expect(Object.keys(onlyA.rooms?.join ?? {})).toEqual([a.roomId]);
    const notA = await service.sync({ userId: alice, deviceId: 'A', filter: { room: { not_rooms: [a.roomId] } } });
    expect(Object.keys(notA.rooms?.join ?? {})).toEqual([b.roomId]);
    const messages = await service.sync({
      userId: alice,
      deviceId: 'A',
      filter: { room: { timeline: { types: ['m.room.message'] }, state: { types: ['m.room.create'] } }, account_data: { not_types: ['m.direct'] } },
    });
    expect(bodies(messages, a.roomId)).toEqual(['in a']);
    expect(messages.rooms?.join?.[a.roomId]?.state.events.map((e) => e.type)).toEqual(['m.room.create']);
    expect(messages.account_data?.events.map((e) => e.type)).toEqual(['org.example.settings']);
    expect(messages.rooms?.join?.[a.roomId]?.account_data.events).toEqual([{ type: 'm.tag', content: { tags: {} } }]);
    const fields = await service.sync({ userId: alice, deviceId: 'A', filter: { event_fields: ['type', 'content.body'], room: { rooms: [b.roomId] } } });
    expect(fields.rooms?.join?.[b.roomId]?.timeline.events.at(-1)).toEqual({ type: 'm.room.message', content: { body: 'in b' } });
  });

  it('rejects a token it did not issue with M_INVALID_PARAM', async () => {
    for (const bad of ['', 'garbage', 's1_2_3', 's-1_0_0_0', 's01_0_0_0', 't5', 's99999999999999999999_0_0_0']) {
      await expect(service.sync({ userId: alice, deviceId: 'A', since: bad })).rejects.toMatchObject({ errcode: 'M_INVALID_PARAM', httpStatus: 400 });
    }
    await expect(service.sync({ userId: alice, deviceId: 'A', since: 'x' })).rejects.toBeInstanceOf(SyncTokenError);
  });

  it('tokens stay valid across a rebuild of the projection', async () => {
    const room = await TestRoom.create(h.store, alice);
    await room.message(alice, 'before');
    await settle();
    const first = await service.sync({ userId: alice, deviceId: 'A' });
    const { rebuildProjection } = await import('@hs/eventstore');
    await rebuildProjection(h.db, h.store, new SyncProjector());
    await room.message(alice, 'after');
    await settle();
    const next = await service.sync({ userId: alice, deviceId: 'A', since: first.next_batch });
    expect(bodies(next, room.roomId)).toEqual(['after']);
  });

  it('long-poll: wakes the moment an event lands for the user, not for an unrelated user', async () => {
    const room = await TestRoom.create(h.store, alice);
    await room.join(bob);
    const elsewhere = await TestRoom.create(h.store, carol);
    await settle();
    const bobFirst = await service.sync({ userId: bob, deviceId: 'B1' });
    const carolFirst = await service.sync({ userId: carol, deviceId: 'C1' });
    let carolDone = false;
    const carolWait = service.sync({ userId: carol, deviceId: 'C1', since: carolFirst.next_batch, timeoutMs: 1500 }).then((r) => {
      carolDone = true;
      return r;
    });
    const bobWait = service.sync({ userId: bob, deviceId: 'B1', since: bobFirst.next_batch, timeoutMs: 60_000 });
    // Both requests are waiting before the event lands.
    while (notifier!.waiting < 2) await new Promise((r) => setImmediate(r));
    await room.message(alice, 'wake up');
    const woke = await bobWait;
    expect(bodies(woke, room.roomId)).toEqual(['wake up']);
    expect(carolDone).toBe(false);
    const carolResult = await carolWait;
    expect(carolResult.rooms).toBeUndefined();
    expect(parseSyncToken(carolResult.next_batch).events).toBeGreaterThanOrEqual(parseSyncToken(carolFirst.next_batch).events);
    expect(elsewhere.roomId).not.toBe(room.roomId);
  });

  it('long-poll pacing: what lands within the interval after a device was answered comes in one response; other devices and timeout=0 are not held', async () => {
    const paced = new SyncService(service.queries, { typing, accountData, notifier: notifier!, live: mode === 'live', minAnswerIntervalMs: 60_000 });
    const room = await TestRoom.create(h.store, alice);
    await room.join(bob);
    await settle();
    const start = await paced.sync({ userId: bob, deviceId: 'B1' });
    await room.message(alice, 'first');
    await settle();
    // Answered with news: the device's next long-poll waits out the interval.
    const first = await paced.sync({ userId: bob, deviceId: 'B1', since: start.next_batch, timeoutMs: 60_000 });
    expect(bodies(first, room.roomId)).toEqual(['first']);
    let settled = false;
    const second = paced.sync({ userId: bob, deviceId: 'B1', since: first.next_batch, timeoutMs: 2_000 }).then((r) => {
      settled = true;
      return r;
    });
    await room.message(alice, 'second');
    await room.message(alice, 'third');
    await settle();
    // Meanwhile another device of the same user, and a sync without a timeout, answer at once.
    expect(bodies(await paced.sync({ userId: bob, deviceId: 'B2', since: first.next_batch, timeoutMs: 60_000 }), room.roomId)).toEqual(['second', 'third']);
    expect(bodies(await paced.sync({ userId: bob, deviceId: 'B1', since: first.next_batch, timeoutMs: 0 }), room.roomId)).toEqual(['second', 'third']);
    expect(settled).toBe(false);
    // The paced long-poll answers at its deadline with everything that landed.
    expect(bodies(await second, room.roomId)).toEqual(['second', 'third']);
  });

  it('long-poll: an invite wakes the invited user', async () => {
    const room = await TestRoom.create(h.store, alice);
    await settle();
    const first = await service.sync({ userId: bob, deviceId: 'B1' });
    const waiting = service.sync({ userId: bob, deviceId: 'B1', since: first.next_batch, timeoutMs: 60_000 });
    while (notifier!.waiting < 1) await new Promise((r) => setImmediate(r));
    await room.invite(alice, bob);
    const response = await waiting;
    expect(Object.keys(response.rooms?.invite ?? {})).toEqual([room.roomId]);
  });

  it('typing: in ephemeral, wakes room members, and stops after its timeout', async () => {
    const room = await TestRoom.create(h.store, alice);
    await room.join(bob);
    await settle();
    // Faked from here on: the typing timeout (the projection runner paces its reads with timers).
    jest.useFakeTimers({ doNotFake: ['setImmediate', 'nextTick', 'queueMicrotask'] });
    try {
      const first = await service.sync({ userId: bob, deviceId: 'B1' });
      expect(first.rooms?.join?.[room.roomId]?.ephemeral.events).toEqual([]);
      const waiting = service.sync({ userId: bob, deviceId: 'B1', since: first.next_batch, timeoutMs: 60_000 });
      while (notifier!.waiting < 1) await new Promise((r) => setImmediate(r));
      typing.setTyping(room.roomId, alice, true, 10_000);
      const second = await waiting;
      expect(second.rooms?.join?.[room.roomId]?.ephemeral.events).toEqual([{ type: 'm.typing', content: { user_ids: [alice] } }]);
      jest.advanceTimersByTime(10_001);
      const third = await service.sync({ userId: bob, deviceId: 'B1', since: second.next_batch });
      expect(third.rooms?.join?.[room.roomId]?.ephemeral.events).toEqual([{ type: 'm.typing', content: { user_ids: [] } }]);
      // An initial sync of a room where someone typed shows who types now: nobody.
      const initial = await service.sync({ userId: bob, deviceId: 'B2' });
      expect(initial.rooms?.join?.[room.roomId]?.ephemeral.events).toEqual([{ type: 'm.typing', content: { user_ids: [] } }]);
    } finally {
      jest.useRealTimers();
    }
  });

  it('unread counts per thread: threaded and main receipts each read their own part, an unthreaded one all', async () => {
    const room = await TestRoom.create(h.store, alice);
    await room.join(bob, 'Bobby');
    await settle();
    const first = await service.sync({ userId: bob, deviceId: 'B1' });
    const root = await room.message(alice, 'a thread starts here');
    const inThread = (body: string) => room.message(alice, body, { 'm.relates_to': { rel_type: 'm.thread', event_id: root.eventId, is_falling_back: true, 'm.in_reply_to': { event_id: root.eventId } } });
    const reply1 = await inThread('first reply');
    const reply2 = await inThread('second reply');
    const main = await room.message(alice, 'back in the room');
    await settle();
    const threaded = { room: { timeline: { unread_thread_notifications: true } } };
    const counts = async (filter?: typeof threaded) => {
      const answer = await service.sync({ userId: bob, deviceId: 'B1', since: first.next_batch, ...(filter ? { filter } : {}) });
      const joined = answer.rooms?.join?.[room.roomId];
      return { all: joined?.unread_notifications, threads: joined?.unread_thread_notifications };
    };
    const n = (count: number) => ({ notification_count: count, highlight_count: 0 });
    // Without the filter's flag, everything together; with it, the main timeline and each thread apart.
    expect(await counts()).toEqual({ all: n(4), threads: undefined });
    expect(await counts(threaded)).toEqual({ all: n(2), threads: { [root.eventId]: n(2) } });
    await room.receipt(bob, reply1.eventId, 'm.read', undefined, root.eventId);
    await settle();
    expect(await counts(threaded)).toEqual({ all: n(2), threads: { [root.eventId]: n(1) } });
    expect(await counts()).toEqual({ all: n(3), threads: undefined });
    await room.receipt(bob, main.eventId, 'm.read', undefined, 'main');
    await settle();
    expect(await counts(threaded)).toEqual({ all: n(0), threads: { [root.eventId]: n(1) } });
    await room.receipt(bob, reply2.eventId, 'm.read.private');
    await settle();
    // An unthreaded receipt on the thread's last reply reads everything up to it.
    expect(await counts(threaded)).toEqual({ all: n(0), threads: {} });
  });

  it('receipts: m.read to everyone, m.read.private to its owner; unread counts from the read receipt', async () => {
    const room = await TestRoom.create(h.store, alice);
    await room.join(bob, 'Bobby');
    await settle();
    const first = await service.sync({ userId: bob, deviceId: 'B1' });
    const m1 = await room.message(alice, 'hello');
    await room.message(alice, 'hey Bobby, look');
    await room.message(alice, 'a notice', { msgtype: 'm.notice' });
    await room.message(alice, 'ping', { 'm.mentions': { user_ids: [bob] } });
    await room.message(bob, 'my own');
    await settle();
    const before = await service.sync({ userId: bob, deviceId: 'B1', since: first.next_batch });
    expect(before.rooms?.join?.[room.roomId]?.unread_notifications).toEqual({ notification_count: 3, highlight_count: 2 });
    await room.receipt(bob, m1.eventId, 'm.read.private');
    await room.receipt(alice, m1.eventId, 'm.read');
    await settle();
    const mine = await service.sync({ userId: bob, deviceId: 'B1', since: before.next_batch });
    const receipt = mine.rooms?.join?.[room.roomId]?.ephemeral.events.find((e) => e.type === 'm.receipt');
    expect(receipt?.content).toEqual({
      [m1.eventId]: { 'm.read.private': { [bob]: expect.objectContaining({ ts: expect.any(Number) }) }, 'm.read': { [alice]: expect.objectContaining({ ts: expect.any(Number) }) } },
    });
    expect(mine.rooms?.join?.[room.roomId]?.unread_notifications).toEqual({ notification_count: 2, highlight_count: 2 });
    const alices = await service.sync({ userId: alice, deviceId: 'A1' });
    const aliceReceipt = alices.rooms?.join?.[room.roomId]?.ephemeral.events.find((e) => e.type === 'm.receipt');
    expect(aliceReceipt?.content).toEqual({ [m1.eventId]: { 'm.read': { [alice]: expect.objectContaining({ ts: expect.any(Number) }) } } });
  });

  it('rooms with activity: positions compare as numbers, also when the token and the head differ in number of digits', async () => {
    const room = await TestRoom.create(h.store, alice);
    await settle();
    const head = parseSyncToken((await service.sync({ userId: alice, deviceId: 'A' })).next_batch).events;
    await room.message(alice, 'new');
    await settle();
    const far = 10n ** BigInt(String(head).length + 3);
    const found = await service.queries.membershipsWithActivity(h.db.pool, alice, head, far);
    expect(found.memberships.map((m) => m.room_id)).toEqual([room.roomId]);
    expect([...found.active]).toEqual([room.roomId]);
    expect([...(await service.queries.membershipsWithActivity(h.db.pool, alice, far, far + 1n)).active]).toEqual([]);
    expect([...(await service.queries.membershipsWithActivity(h.db.pool, alice, far, head)).active]).toEqual([]);
  });

  it('unread highlight counts: display name and user id matched as whole words ignoring case, non-ASCII names too', async () => {
    const room = await TestRoom.create(h.store, alice);
    await room.join(bob, 'Zoë');
    await settle();
    const first = await service.sync({ userId: bob, deviceId: 'B1' });
    await room.message(alice, 'hi ZOË!');
    await room.message(alice, `cc ${bob.toUpperCase()}`);
    await room.message(alice, 'zoëx is not a mention');
    await room.message(alice, 'nothing here');
    await room.message(alice, 'mentions win', { 'm.mentions': { user_ids: [] } });
    await room.message(alice, 'zoë in a notice', { msgtype: 'm.notice' });
    await settle();
    const next = await service.sync({ userId: bob, deviceId: 'B1', since: first.next_batch });
    expect(next.rooms?.join?.[room.roomId]?.unread_notifications).toEqual({ notification_count: 5, highlight_count: 2 });
  });

  it('account data: top level and per room, and a change wakes the user', async () => {
    const room = await TestRoom.create(h.store, alice);
    await settle();
    const first = await service.sync({ userId: alice, deviceId: 'A' });
    expect(first.account_data).toBeUndefined();
    const waiting = service.sync({ userId: alice, deviceId: 'A', since: first.next_batch, timeoutMs: 60_000 });
    while (notifier!.waiting < 1) await new Promise((r) => setImmediate(r));
    accountData.set(alice, null, 'm.push_rules', { global: {} });
    const second = await waiting;
    expect(second.account_data?.events).toEqual([{ type: 'm.push_rules', content: { global: {} } }]);
    accountData.set(alice, room.roomId, 'm.fully_read', { event_id: '$x' });
    const third = await service.sync({ userId: alice, deviceId: 'A', since: second.next_batch });
    expect(third.account_data).toBeUndefined();
    expect(third.rooms?.join?.[room.roomId]?.account_data.events).toEqual([{ type: 'm.fully_read', content: { event_id: '$x' } }]);
  });
});
});

describe('SyncService and the read barrier of the push projection', () => {
  let h: ProjectionHarness;
  afterEach(async () => {
    await h?.close();
  });

  it('waits for the push projection outside its snapshot, and takes the snapshot again when it finds it behind', async () => {
    const wiring: { notifier?: SyncNotifier } = {};
    h = await openProjectionHarness([new SyncProjector(), new ReceiptsProjector(), new PushProjector('test.local')], (name, position, wrote, written) =>
      wiring.notifier?.checkpointAdvanced(name, position, wrote, written),
    );
    const typing = new TypingStore();
    const accountData = new MemoryAccountData();
    const queries = new SyncQueries(h.db.pool);
    const notifier = new SyncNotifier(h.db.pool, typing, accountData, queries);
    wiring.notifier = notifier;
    const room = await TestRoom.create(h.store, alice);
    await room.join(bob, 'Bobby');
    await room.message(alice, 'hey Bobby, look');
    await h.settle();
    await notifier.idle();
    // Open snapshots (transactions): on the embedded database one keeps every other
    // connection waiting, the push projector's among them, so no wait may happen inside one.
    let open = 0;
    const snapshot = queries.snapshot.bind(queries);
    queries.snapshot = (read) =>
      snapshot(async (conn) => {
        open += 1;
        try {
          return await read(conn);
        } finally {
          open -= 1;
        }
      });
    // A barrier that reports the push projection behind until the second wait is over.
    const waits: number[] = [];
    let pushPosition = 0n;
    const barrier = {
      enabled: true,
      has: (name: string) => name === PUSH_PROJECTION,
      position: () => pushPosition,
      async ready() {
        waits.push(open);
        if (waits.length === 2) pushPosition = 1n << 62n;
      },
    } as unknown as ReadBarrier;
    const service = new SyncService(queries, { typing, accountData, notifier, barrier, live: false });
    const response = await service.sync({ userId: bob, deviceId: 'B1' });
    notifier.close();
    typing.close();
    expect(waits).toEqual([0, 0]);
    expect(response.rooms?.join?.[room.roomId]?.unread_notifications).toEqual({ notification_count: 1, highlight_count: 1 });
  });
});

