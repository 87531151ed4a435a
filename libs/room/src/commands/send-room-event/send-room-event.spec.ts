import { ALICE, BOB, CAROL, createJoinedRoom, useRoomTestBed, refusal, SERVER_NAME } from '../../../test/harness';
import { GetStateEvent } from '../../queries/queries';
import { CreateRoom } from '../create-room/command';
import { SendRoomEvent } from './command';

describe('SendRoomEvent', () => {
  const bed = useRoomTestBed();
  let roomId: string;
  beforeAll(async () => {
    roomId = await createJoinedRoom(bed, ALICE, [BOB]);
  });

  it('sends a message on top of the previous event, recording the local transaction', async () => {
    const before = await bed.accepted(roomId);
    const { eventId } = await bed.run(
      new SendRoomEvent(BOB, roomId, 'm.room.message', { msgtype: 'm.text', body: 'hello' }, { txn: { deviceId: 'DEV', txnId: 't1' } }),
    );
    const facts = await bed.accepted(roomId);
    const fact = facts[facts.length - 1];
    expect(fact.event_id).toBe(eventId);
    expect(fact.pdu.content).toEqual({ msgtype: 'm.text', body: 'hello' });
    expect(fact.pdu.prev_events).toEqual([before[before.length - 1].event_id]);
    expect(fact.local).toEqual({ user_id: BOB, device_id: 'DEV', txn_id: 't1' });
    expect(fact.state_delta).toEqual({ added: [], removed: [] });
    expect(fact.forward_extremities).toEqual([eventId]);
  });

  it('returns the same event id for a retried transaction and appends nothing', async () => {
    const first = await bed.run(new SendRoomEvent(BOB, roomId, 'm.room.message', { body: 'once' }, { txn: { deviceId: 'DEV', txnId: 'retry' } }));
    const count = (await bed.stream(roomId)).length;
    const again = await bed.run(new SendRoomEvent(BOB, roomId, 'm.room.message', { body: 'once' }, { txn: { deviceId: 'DEV', txnId: 'retry' } }));
    expect(again.eventId).toBe(first.eventId);
    expect(await bed.stream(roomId)).toHaveLength(count);
    const concurrent = await Promise.all(
      [1, 2, 3].map(() => bed.run(new SendRoomEvent(BOB, roomId, 'm.room.message', { body: 'c' }, { txn: { deviceId: 'DEV', txnId: 'same' } }))),
    );
    expect(new Set(concurrent.map((r) => r.eventId)).size).toBe(1);
    expect(await bed.stream(roomId)).toHaveLength(count + 1);
    // Another device of the same user has its own transaction ids.
    const other = await bed.run(new SendRoomEvent(BOB, roomId, 'm.room.message', { body: 'once' }, { txn: { deviceId: 'DEV2', txnId: 'retry' } }));
    expect(other.eventId).not.toBe(first.eventId);
  });

  it('sends state events, which become the current state', async () => {
    const { eventId } = await bed.run(new SendRoomEvent(ALICE, roomId, 'm.room.name', { name: 'Renamed' }, { stateKey: '' }));
    const current = await bed.ask(new GetStateEvent(roomId, 'm.room.name'));
    expect(current.event_id).toBe(eventId);
    const facts = await bed.accepted(roomId);
    expect(facts[facts.length - 1].state_delta.added).toEqual([{ type: 'm.room.name', state_key: '', event_id: eventId }]);
  });

  it('answers a state event identical to the current one (type, state key, sender, content) with the current one, appending nothing', async () => {
    const first = await bed.run(new SendRoomEvent(ALICE, roomId, 'm.room.topic', { topic: 'Same', 'org.example': { b: 1, a: [2] } }, { stateKey: '' }));
    const count = (await bed.stream(roomId)).length;
    const again = await bed.run(new SendRoomEvent(ALICE, roomId, 'm.room.topic', { 'org.example': { a: [2], b: 1 }, topic: 'Same' }, { stateKey: '' }));
    expect(again.eventId).toBe(first.eventId);
    expect(await bed.stream(roomId)).toHaveLength(count);
    // Other content, another state key or another sender is a new event.
    const changed = await bed.run(new SendRoomEvent(ALICE, roomId, 'm.room.topic', { topic: 'Other' }, { stateKey: '' }));
    expect(changed.eventId).not.toBe(first.eventId);
    const keyed = await bed.run(new SendRoomEvent(ALICE, roomId, 'org.example.state', { v: 1 }, { stateKey: 'a' }));
    const otherKey = await bed.run(new SendRoomEvent(ALICE, roomId, 'org.example.state', { v: 1 }, { stateKey: 'b' }));
    expect(otherKey.eventId).not.toBe(keyed.eventId);
    expect(await bed.stream(roomId)).toHaveLength(count + 3);

    const shared = await createJoinedRoom(bed, ALICE, [BOB]);
    const levels = await bed.ask(new GetStateEvent(shared, 'm.room.power_levels'));
    await bed.run(new SendRoomEvent(ALICE, shared, 'm.room.power_levels', { ...levels.content, users: { [ALICE]: 100, [BOB]: 100 } }, { stateKey: '' }));
    const byAlice = await bed.run(new SendRoomEvent(ALICE, shared, 'm.room.topic', { topic: 'T' }, { stateKey: '' }));
    const byBob = await bed.run(new SendRoomEvent(BOB, shared, 'm.room.topic', { topic: 'T' }, { stateKey: '' }));
    expect(byBob.eventId).not.toBe(byAlice.eventId);
  });

  it('refuses what the authorization rules forbid, appending nothing', async () => {
    const count = (await bed.stream(roomId)).length;
    const nonMember = await refusal(bed.run(new SendRoomEvent(CAROL, roomId, 'm.room.message', { body: 'hi' })), 'M_FORBIDDEN');
    expect(nonMember.rule).toBeDefined();
    await refusal(bed.run(new SendRoomEvent(BOB, roomId, 'm.room.name', { name: 'x' }, { stateKey: '' })), 'M_FORBIDDEN');
    await refusal(bed.run(new SendRoomEvent(BOB, roomId, 'm.room.power_levels', { users: { [BOB]: 100 } }, { stateKey: '' })), 'M_FORBIDDEN');
    await refusal(bed.run(new SendRoomEvent(ALICE, roomId, 'm.room.create', {}, { stateKey: '' })), 'M_FORBIDDEN');
    await refusal(bed.run(new SendRoomEvent(ALICE, roomId, 'm.room.member', { membership: 'join' }, { stateKey: CAROL })), 'M_FORBIDDEN');
    expect(await bed.stream(roomId)).toHaveLength(count);
  });

  it('refuses bad content, oversized events and unknown rooms', async () => {
    const count = (await bed.stream(roomId)).length;
    await refusal(bed.run(new SendRoomEvent(BOB, roomId, 'm.room.message', 'text')), 'M_BAD_JSON');
    await refusal(bed.run(new SendRoomEvent(BOB, roomId, 'm.room.message', [1])), 'M_BAD_JSON');
    await refusal(bed.run(new SendRoomEvent(BOB, roomId, '', {})), 'M_BAD_JSON');
    const tooLarge = await refusal(bed.run(new SendRoomEvent(BOB, roomId, 'm.room.message', { body: 'x'.repeat(70_000) })), 'M_TOO_LARGE');
    expect(tooLarge.httpStatus).toBe(413);
    await refusal(bed.run(new SendRoomEvent(BOB, roomId, 'x'.repeat(300), {})), 'M_TOO_LARGE');
    await refusal(bed.run(new SendRoomEvent(BOB, roomId, 'm.room.redaction', {})), 'M_BAD_JSON');
    expect(await bed.stream(roomId)).toHaveLength(count);
    await refusal(bed.run(new SendRoomEvent(BOB, `!unknown:${SERVER_NAME}`, 'm.room.message', {})), 'M_NOT_FOUND');
  });

  it('references earlier events with their hashes in room versions 1 and 2, also after a reload', async () => {
    for (const version of ['1', '2']) {
      const room = await bed.run(new CreateRoom(ALICE, { room_version: version }));
      const first = await bed.run(new SendRoomEvent(ALICE, room.roomId, 'm.room.message', { body: 'one' }));
      await bed.run(new SendRoomEvent(ALICE, room.roomId, 'm.room.message', { body: 'two' }));
      bed.writer.clearCache();
      const { eventId } = await bed.run(new SendRoomEvent(ALICE, room.roomId, 'm.room.message', { body: 'three' }));
      const stored = (await bed.writer.reader.event(eventId))!;
      expect(Array.isArray(stored.pdu.prev_events[0])).toBe(true);
      expect(stored.pdu.event_id).toBe(eventId);
      expect(eventId.endsWith(`:${SERVER_NAME}`)).toBe(true);
      expect(first.eventId).not.toBe(eventId);
    }
  });
});
