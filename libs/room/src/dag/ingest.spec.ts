import { ROOM_EVENT_REJECTED } from '@hs/contracts';
import { eventTemplate, signNewEvent, signingKeyFromSeed, stateKey, type BuiltEvent, type JsonObject, type StateKey } from '@hs/protocol';
import { ALICE, dumpWriteModel, useRoomTestBed } from '../../test/harness';
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
  async function remoteEvent(input: { sender?: string; type: string; stateKey?: string; content: JsonObject; prevs?: string[] }): Promise<BuiltEvent> {
    const state = await bed.writer.state(roomId);
    const snapshot = await bed.writer.reader.snapshot(roomId);
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
      roomId,
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


  it('replays into identical write-model tables: the facts carry every decision', async () => {
    const before = await dumpWriteModel(bed);
    await rebuildWriteModel(bed.db.pool, bed.store);
    bed.writer.clearCache();
    expect(await dumpWriteModel(bed)).toEqual(before);
  });
});
