import { ROOM_EVENT_REJECTED, parseStreamName } from '@hs/contracts';
import {
  buildCreateEvent,
  eventTemplate,
  roomVersion,
  signNewEvent,
  signingKeyFromSeed,
  stateKey,
  type BuiltEvent,
  type JsonObject,
  type StateKey,
} from '@hs/protocol';
import { sql } from 'slonik';
import { ALICE, SERVER_NAME, dumpWriteModel, useRoomTestBed } from '../../test/harness';
import { parentsFirst } from '../federation/federation-rooms';
import { applyRoomRecord, applyRoomRecords } from '../write-model/apply';
import { rebuildWriteModel } from '../write-model/rebuild';
import { CreateRoom } from '../commands/create-room/command';
import { SendRoomEvent } from '../commands/send-room-event/command';
import { GetStateEvent } from '../queries/queries';
import { MissingPrevEventsError, type IncomingPdu } from './ingest';

const REMOTE = 'remote.example.net';
const REMOTE_KEY = signingKeyFromSeed(new Uint8Array(32).fill(9), 'ed25519:r1');
const ROB = `@rob:${REMOTE}`;

describe('the DAG path of the write side (events built by another server)', () => {
  const bed = useRoomTestBed();
  let roomId: string;
  let clock = 1_800_000_000_000;

  /** An event of the remote server on top of `prevs`, its auth events selected from the writer's current state. */
  async function remoteEvent(input: { sender?: string; type: string; stateKey?: string; content: JsonObject; prevs?: string[] }, inRoom?: string): Promise<BuiltEvent> {
    const room = inRoom ?? roomId;
    const state = await bed.writer.state(room);
    const snapshot = await bed.writer.reader.snapshot(room);
    if (!state || !snapshot) throw new Error('no room');
    const prevIds = input.prevs ?? snapshot.extremities.map((x) => x.eventId);
    // The auth events come from the state after the (first) prev event.
    const group = input.prevs ? (await bed.writer.reader.event(prevIds[0]))?.stateGroup : undefined;
    const ids: Map<StateKey, string> = group
      ? await bed.writer.reader.stateGroupMap(group)
      : new Map<StateKey, string>([...snapshot.state].map(([k, e]) => [k, e.event_id]));
    const prevs = await bed.writer.reader.events(prevIds);
    const template = eventTemplate({
      roomVersion: state.rules,
      roomId: room,
      sender: input.sender ?? ROB,
      type: input.type,
      stateKey: input.stateKey,
      content: input.content,
      prevEvents: prevs.map((e) => ({ eventId: e.event_id, depth: e.depth })),
      state: ids,
      originServerTs: clock++,
    });
    return signNewEvent(template, state.rules, REMOTE, REMOTE_KEY);
  }

  /** Every record of the store, in global order. */
  async function readEverything() {
    // Events committed while an older transaction elsewhere in the cluster (another test
    // file's, on a shared PostgreSQL) is in flight are held back from readers: wait them out.
    await bed.store.settled();
    const all = [];
    for (let after = 0n; ; ) {
      const page = await bed.store.readAll({ fromPosition: after, limit: 1000 });
      all.push(...page);
      if (page.length < 1000) return all;
      after = page[page.length - 1].position;
    }
  }

  const incoming = (built: BuiltEvent, extra: Partial<IncomingPdu> = {}): IncomingPdu => ({ event: built.event, pdu: built.pdu, ...extra });

  beforeAll(async () => {
    ({ roomId } = await bed.run(new CreateRoom(ALICE, { preset: 'public_chat' })));
  });

  it('accepts a remote join built on the current extremities: it becomes the current state and the only extremity', async () => {
    const join = await remoteEvent({ type: 'm.room.member', stateKey: ROB, content: { membership: 'join' } });
    const results = await bed.writer.ingest(roomId, [incoming(join)]);
    expect(results).toEqual([{ eventId: join.event.event_id, outcome: 'accepted' }]);
    const member = await bed.ask(new GetStateEvent(roomId, 'm.room.member', ROB));
    expect(member.event_id).toBe(join.event.event_id);
    const facts = await bed.accepted(roomId);
    const fact = facts[facts.length - 1];
    expect(fact.forward_extremities).toEqual([join.event.event_id]);
    expect(fact.state_delta.added).toEqual([{ type: 'm.room.member', state_key: ROB, event_id: join.event.event_id }]);
    expect(fact.event_group).toBe(join.event.event_id);
    expect(fact.current_group).toBe(join.event.event_id);
    // Ingesting it again changes nothing.
    const count = (await bed.stream(roomId)).length;
    expect(await bed.writer.ingest(roomId, [incoming(join)])).toEqual([{ eventId: join.event.event_id, outcome: 'known' }]);
    expect(await bed.stream(roomId)).toHaveLength(count);
  });

  it('a remote message takes the state group of its prev event, and a local send builds on it', async () => {
    const message = await remoteEvent({ type: 'm.room.message', content: { msgtype: 'm.text', body: 'hello from afar' } });
    expect(await bed.writer.ingest(roomId, [incoming(message)])).toEqual([{ eventId: message.event.event_id, outcome: 'accepted' }]);
    const stored = await bed.writer.reader.event(message.event.event_id);
    expect(stored?.stateGroup).toBeDefined();
    const { eventId } = await bed.run(new SendRoomEvent(ALICE, roomId, 'm.room.message', { msgtype: 'm.text', body: 'reply' }));
    const reply = await bed.writer.reader.event(eventId);
    expect(reply?.event.prev_events).toEqual([message.event.event_id]);
  });

  it('resolves a fork: a local and a remote state event on the same parent both reach the current state', async () => {
    // Rob may change the room name once Alice gives him power.
    await bed.run(new SendRoomEvent(ALICE, roomId, 'm.room.power_levels', { users: { [ALICE]: 100, [ROB]: 50 }, state_default: 50 }, { stateKey: '' }));
    const parent = (await bed.writer.reader.snapshot(roomId))!.extremities.map((x) => x.eventId);
    const local = await bed.run(new SendRoomEvent(ALICE, roomId, 'm.room.topic', { topic: 'local topic' }, { stateKey: '' }));
    const remote = await remoteEvent({ type: 'm.room.name', stateKey: '', content: { name: 'remote name' }, prevs: parent });
    expect(await bed.writer.ingest(roomId, [incoming(remote)])).toEqual([{ eventId: remote.event.event_id, outcome: 'accepted' }]);
    const snapshot = (await bed.writer.reader.snapshot(roomId))!;
    expect(snapshot.extremities.map((x) => x.eventId).sort()).toEqual([local.eventId, remote.event.event_id].sort());
    expect(snapshot.state.get(stateKey('m.room.topic', ''))?.event_id).toBe(local.eventId);
    expect(snapshot.state.get(stateKey('m.room.name', ''))?.event_id).toBe(remote.event.event_id);
    // The state after the remote event does not hold the local topic; the current state does.
    const after = await bed.writer.reader.stateGroupMap((await bed.writer.reader.event(remote.event.event_id))!.stateGroup!);
    expect(after.get(stateKey('m.room.topic', ''))).not.toBe(local.eventId);
    // The next local event points at both extremities.
    const merged = await bed.run(new SendRoomEvent(ALICE, roomId, 'm.room.message', { body: 'merged' }));
    expect([...(await bed.writer.reader.event(merged.eventId))!.event.prev_events].sort()).toEqual([local.eventId, remote.event.event_id].sort());
  });

  it('rejects an event its auth events do not allow, and keeps it away from the state', async () => {
    const stranger = `@stranger:${REMOTE}`;
    const forged = await remoteEvent({ sender: stranger, type: 'm.room.topic', stateKey: '', content: { topic: 'forged' } });
    const results = await bed.writer.ingest(roomId, [incoming(forged)]);
    expect(results[0].outcome).toBe('rejected');
    const stream = await bed.stream(roomId);
    expect(stream[stream.length - 1].type).toBe(ROOM_EVENT_REJECTED);
    const topic = await bed.ask(new GetStateEvent(roomId, 'm.room.topic'));
    expect(topic.content).toEqual({ topic: 'local topic' });

    // An event built on the rejected one starts from the state before it (which it changed not).
    const stored = await bed.writer.reader.event(forged.event.event_id);
    expect(stored).toMatchObject({ rejected: true, stateGroup: expect.any(String) });
    const before = await bed.writer.reader.stateGroupMap(stored!.stateGroup!);
    expect(before.get(stateKey('m.room.topic', ''))).toBe(topic.event_id);
    const after = await remoteEvent({ type: 'm.room.message', content: { body: 'on a rejected parent' }, prevs: [forged.event.event_id] });
    expect(await bed.writer.ingest(roomId, [incoming(after)])).toEqual([{ eventId: after.event.event_id, outcome: 'accepted' }]);
    const placed = await bed.writer.reader.event(after.event.event_id);
    expect((await bed.writer.reader.stateGroupMap(placed!.stateGroup!)).get(stateKey('m.room.topic', ''))).toBe(topic.event_id);
  });

  it('refuses an event whose prev events are not held, naming them', async () => {
    const orphan = await remoteEvent({ type: 'm.room.message', content: { body: 'orphan' } });
    const withUnknownPrev = { ...orphan.event, prev_events: ['$unknown'] };
    await expect(bed.writer.ingest(roomId, [{ event: withUnknownPrev, pdu: orphan.pdu }])).rejects.toBeInstanceOf(MissingPrevEventsError);
  });

  it('soft-fails an event allowed by the state before it but not by the current state', async () => {
    const parent = (await bed.writer.reader.snapshot(roomId))!.extremities.map((x) => x.eventId);
    await bed.run(new SendRoomEvent(ALICE, roomId, 'm.room.member', { membership: 'ban' }, { stateKey: ROB }));
    const late = await remoteEvent({ type: 'm.room.message', content: { body: 'sent before I saw the ban' }, prevs: parent });
    const results = await bed.writer.ingest(roomId, [incoming(late)]);
    expect(results).toEqual([{ eventId: late.event.event_id, outcome: 'soft_failed' }]);
    const snapshot = (await bed.writer.reader.snapshot(roomId))!;
    expect(snapshot.extremities.map((x) => x.eventId)).not.toContain(late.event.event_id);
    expect((await bed.writer.reader.event(late.event.event_id))!.softFailed).toBe(true);
  });

  describe('joining a room held by another server', () => {
    const rules = roomVersion('11');
    const JOINER = `@joiner:${SERVER_NAME}`;
    const members = Array.from({ length: 40 }, (_, i) => `@m${i}:${REMOTE}`);
    let joinedRoom = '';
    let stateBefore: Map<StateKey, string>;
    let held: BuiltEvent[] = [];
    let refused: BuiltEvent;
    let join: BuiltEvent;

    /** The remote room: members who joined and then set a display name (so their joins are auth chain only), and one event its auth events refuse. */
    beforeAll(() => {
      let ts = 1_800_000_100_000;
      const create = buildCreateEvent({ roomVersion: rules, sender: ROB, originServerTs: ts++, origin: REMOTE, signingKey: REMOTE_KEY });
      joinedRoom = create.event.room_id;
      const state = new Map<StateKey, string>([[stateKey('m.room.create', ''), create.event.event_id]]);
      let prev = [{ eventId: create.event.event_id, depth: create.event.depth }];
      const add = (sender: string, type: string, key: string, content: JsonObject, keep = true): BuiltEvent => {
        const template = eventTemplate({ roomVersion: rules, roomId: joinedRoom, sender, type, stateKey: key, content, prevEvents: prev, state, originServerTs: ts++ });
        const built = signNewEvent(template, rules, REMOTE, REMOTE_KEY);
        if (keep) {
          state.set(stateKey(type, key), built.event.event_id);
          prev = [{ eventId: built.event.event_id, depth: built.event.depth }];
        }
        return built;
      };
      held = [create];
      held.push(add(ROB, 'm.room.member', ROB, { membership: 'join' }));
      held.push(add(ROB, 'm.room.power_levels', '', { users: { [ROB]: 100 }, state_default: 50 }));
      held.push(add(ROB, 'm.room.join_rules', '', { join_rule: 'public' }));
      for (const member of members) held.push(add(member, 'm.room.member', member, { membership: 'join' }));
      for (const member of members) held.push(add(member, 'm.room.member', member, { membership: 'join', displayname: `M ${member}` }));
      // A member may not set the topic (state_default 50): refused by its own auth events.
      refused = add(members[0], 'm.room.topic', '', { topic: 'not allowed' }, false);
      stateBefore = new Map(state);
      const template = eventTemplate({
        roomVersion: rules,
        roomId: joinedRoom,
        sender: JOINER,
        type: 'm.room.member',
        stateKey: JOINER,
        content: { membership: 'join' },
        prevEvents: prev,
        state,
        originServerTs: ts++,
      });
      join = signNewEvent(template, rules, SERVER_NAME, bed.signingKey);
    });

    it('holds the state and its auth chain as outliers and places the join on the state', async () => {
      const outliers = parentsFirst([...held, refused].reverse()).map((b) => incoming(b, { outlier: true }));
      const results = await bed.writer.ingest(joinedRoom, [...outliers, incoming(join, { stateBefore })], { roomVersion: rules.id });
      expect(results).toHaveLength(held.length + 2);
      expect(results.find((r) => r.eventId === refused.event.event_id)?.outcome).toBe('rejected');
      expect(results.filter((r) => r.outcome === 'outlier')).toHaveLength(held.length);
      expect(results[results.length - 1]).toEqual({ eventId: join.event.event_id, outcome: 'accepted' });

      const current = await bed.writer.reader.currentStateEntries(joinedRoom);
      expect(new Map(current.map((e) => [stateKey(e.type, e.state_key), e.event_id]))).toEqual(new Map([...stateBefore, [stateKey('m.room.member', JOINER), join.event.event_id]]));
      expect((await bed.writer.reader.event(held[5].event.event_id))?.outlier).toBe(true);
      expect((await bed.writer.reader.event(refused.event.event_id))?.rejected).toBe(true);
      const snapshot = await bed.writer.reader.snapshot(joinedRoom);
      expect(snapshot?.extremities.map((x) => x.eventId)).toEqual([join.event.event_id]);
      expect(await bed.writer.reader.membership(joinedRoom, JOINER)).toBe('join');

      // Again: all known, nothing appended.
      const count = (await bed.stream(joinedRoom)).length;
      const again = await bed.writer.ingest(joinedRoom, [...outliers, incoming(join, { stateBefore })]);
      expect(again.every((r) => r.outcome === 'known')).toBe(true);
      expect(await bed.stream(joinedRoom)).toHaveLength(count);
    });

    it('places the next events on the join, and the writer builds on what it placed', async () => {
      const message = await remoteEvent({ type: 'm.room.message', content: { body: 'welcome' } }, joinedRoom);
      expect(await bed.writer.ingest(joinedRoom, [incoming(message)])).toEqual([{ eventId: message.event.event_id, outcome: 'accepted' }]);
      const topic = await remoteEvent({ type: 'm.room.topic', stateKey: '', content: { topic: 'set by rob' } }, joinedRoom);
      expect(topic.event.prev_events).toEqual([message.event.event_id]);
      expect(await bed.writer.ingest(joinedRoom, [incoming(topic)])).toEqual([{ eventId: topic.event.event_id, outcome: 'accepted' }]);
      // The writer's state moved on with the ingest: a local event names the topic as its prev event.
      const { eventId } = await bed.run(new SendRoomEvent(JOINER, joinedRoom, 'm.room.message', { body: 'thanks' }));
      expect((await bed.writer.reader.event(eventId))?.event.prev_events).toEqual([topic.event.event_id]);
      expect((await bed.writer.state(joinedRoom))?.content('m.room.topic')).toEqual({ topic: 'set by rob' });
    });

    it('writes held and rejected events in bulk into the tables one by one would give', async () => {
      const records = (await readEverything()).filter((r) => parseStreamName(r.stream)?.kind === 'room');
      const dumps: Record<string, string[]>[] = [];
      for (const bulk of [false, true]) {
        await bed.db.pool.transaction(async (tx) => {
          await tx.query(sql.unsafe`TRUNCATE room.state_group_entries, room.events, room.state_groups, room.rooms, room.current_state,
            room.forward_extremities, room.client_transactions, room.aliases, room.forgotten`);
          // Members who forgot the room before: their joins clear the mark.
          for (const member of members.slice(0, 3)) await tx.query(sql.unsafe`INSERT INTO room.forgotten (user_id, room_id) VALUES (${member}, ${joinedRoom})`);
          const byRoom = new Map<string, typeof records>();
          for (const record of records) {
            const roomId = parseStreamName(record.stream)?.kind === 'room' ? (parseStreamName(record.stream) as { roomId: string }).roomId : '';
            if (bulk) byRoom.set(roomId, [...(byRoom.get(roomId) ?? []), record]);
            else await applyRoomRecord(tx, roomId, record);
          }
          for (const [roomId, list] of byRoom) await applyRoomRecords(tx, roomId, list);
        });
        dumps.push(await dumpWriteModel(bed));
      }
      expect(dumps[1]).toEqual(dumps[0]);
      expect(dumps[0].forgotten).toEqual([]);
      await rebuildWriteModel(bed.db.pool, bed.store);
      bed.writer.clearCache();
    });
  });

  it('holds backfilled history with the state before each event, leaving the current state and forward extremities as they were', async () => {
    const snapshot = (await bed.writer.reader.snapshot(roomId))!;
    const extremities = snapshot.extremities.map((x) => x.eventId).sort();
    const topicNow = snapshot.state.get(stateKey('m.room.topic', ''))?.event_id;
    const ids = new Map<StateKey, string>([...snapshot.state].map(([k, e]) => [k, e.event_id]));
    // Two events of history in one backfill: a topic change, and a message on top of it.
    const build = (type: string, content: JsonObject, prev: { eventId: string; depth: number }[], key?: string) =>
      signNewEvent(
        eventTemplate({ roomVersion: snapshot.rules, roomId, sender: ALICE, type, stateKey: key, content, prevEvents: prev, state: ids, originServerTs: clock++ }),
        snapshot.rules,
        REMOTE,
        REMOTE_KEY,
      );
    const topic = build('m.room.topic', { topic: 'from the archive' }, snapshot.extremities.map((x) => ({ eventId: x.eventId, depth: x.depth })), '');
    const message = build('m.room.message', { body: 'archived' }, [{ eventId: topic.event.event_id, depth: topic.event.depth }]);
    const results = await bed.writer.ingest(roomId, [incoming(topic, { backfilled: true }), incoming(message, { backfilled: true })]);
    expect(results.map((r) => r.outcome)).toEqual(['accepted', 'accepted']);
    const after = (await bed.writer.reader.snapshot(roomId))!;
    expect(after.extremities.map((x) => x.eventId).sort()).toEqual(extremities);
    expect(after.state.get(stateKey('m.room.topic', ''))?.event_id).toBe(topicNow);
    // Each is held with the state after it; the message builds on the topic's group.
    const placed = await bed.writer.reader.event(message.event.event_id);
    expect((await bed.writer.reader.stateGroupMap(placed!.stateGroup!)).get(stateKey('m.room.topic', ''))).toBe(topic.event.event_id);
    // Appended newest first, every state group with the first record.
    const stream = await bed.stream(roomId);
    const [first, second] = stream.slice(-2).map((r) => r.data as { event_id: string; backfilled?: boolean; state_groups?: { id: string }[] });
    expect([first.event_id, second.event_id]).toEqual([message.event.event_id, topic.event.event_id]);
    expect([first.backfilled, second.backfilled]).toEqual([true, true]);
    expect(first.state_groups?.map((g) => g.id)).toContain(topic.event.event_id);
    expect(second.state_groups).toEqual([]);
  });

  it('replays into identical write-model tables: the facts carry every decision', async () => {
    const before = await dumpWriteModel(bed);
    await rebuildWriteModel(bed.db.pool, bed.store);
    bed.writer.clearCache();
    expect(await dumpWriteModel(bed)).toEqual(before);
  });
});
