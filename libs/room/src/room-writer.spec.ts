import { canonicalJsonByteLength, PDU_MAX_BYTES, stateKey } from '@hs/protocol';
import { ALICE, BOB, createJoinedRoom, refusal, useRoomTestBed } from '../test/harness';
import { SendRoomEvent } from './commands/send-room-event/command';
import type { EventTemplate } from './room-writer';

describe('RoomWriter state between commands', () => {
  const bed = useRoomTestBed();

  it('a command refused after one of its state events leaves the cached state as it was', async () => {
    const roomId = await createJoinedRoom(bed, ALICE, [BOB], { preset: 'public_chat', name: 'before' });
    const before = await bed.stream(roomId);
    // The name change is accepted inside the batch; the second event (a member event for
    // someone else, sent by BOB without power) is refused, so nothing is appended.
    const events: EventTemplate[] = [
      { sender: ALICE, type: 'm.room.name', stateKey: '', content: { name: 'after' } },
      { sender: BOB, type: 'm.room.member', stateKey: '@zed:test.example.org', content: { membership: 'ban' } },
    ];
    await refusal(bed.writer.write(roomId, () => ({ events })), 'M_FORBIDDEN');
    expect(await bed.stream(roomId)).toHaveLength(before.length);
    const state = await bed.writer.state(roomId);
    expect(state?.content('m.room.name')).toEqual({ name: 'before' });
    // The next command is decided on the unchanged state.
    let seen: unknown;
    await bed.writer.write(roomId, (s) => {
      seen = s.content('m.room.name');
      return { events: [{ sender: BOB, type: 'm.room.message', content: { body: 'hi' } }] };
    });
    expect(seen).toEqual({ name: 'before' });
  });

  it('state changed by one command is what the next command of the room sees, and messages keep it', async () => {
    const roomId = await createJoinedRoom(bed, ALICE, [BOB], { preset: 'public_chat' });
    await bed.run(new SendRoomEvent(ALICE, roomId, 'm.room.topic', { topic: 'one' }, { stateKey: '' }));
    await bed.run(new SendRoomEvent(BOB, roomId, 'm.room.message', { body: 'hello' }));
    await bed.run(new SendRoomEvent(ALICE, roomId, 'm.room.topic', { topic: 'two' }, { stateKey: '' }));
    await bed.run(new SendRoomEvent(BOB, roomId, 'm.room.message', { body: 'again' }));
    const state = await bed.writer.state(roomId);
    expect(state?.content('m.room.topic')).toEqual({ topic: 'two' });
    // The write model agrees with the cache.
    const loaded = await bed.writer.reader.snapshot(roomId);
    expect(loaded?.state.get(stateKey('m.room.topic', ''))?.content).toEqual({ topic: 'two' });
    // The second topic's auth events and prev events follow the first.
    const facts = await bed.accepted(roomId);
    const topics = facts.filter((f) => f.pdu.type === 'm.room.topic');
    expect(topics).toHaveLength(2);
    expect(topics[1].state_delta.removed).toEqual([{ type: 'm.room.topic', state_key: '', event_id: topics[0].event_id }]);
  });

  it.each(['5', '11'])('room version %s: an event of exactly the size limit in canonical JSON is accepted, one byte more is refused', async (version) => {
    const roomId = await createJoinedRoom(bed, ALICE, [BOB], { preset: 'public_chat', room_version: version });
    // Characters JSON escapes ("\n, \"), two-, three- and four-byte UTF-8 sequences.
    const filler = 'é"\n\u2028😀'.repeat(2000);
    await bed.run(new SendRoomEvent(BOB, roomId, 'm.room.message', { body: filler }));
    const probe = (await bed.accepted(roomId)).at(-1);
    const probeSize = canonicalJsonByteLength(probe?.pdu);
    const room = PDU_MAX_BYTES - probeSize;
    expect(room).toBeGreaterThan(0);
    // The next event differs from the probe only in its body (same digits of depth and time).
    const sent = await bed.run(new SendRoomEvent(BOB, roomId, 'm.room.message', { body: filler + 'x'.repeat(room) }));
    const stored = (await bed.accepted(roomId)).at(-1);
    expect(stored?.event_id).toBe(sent.eventId);
    expect(canonicalJsonByteLength(stored?.pdu)).toBe(PDU_MAX_BYTES);
    const count = (await bed.stream(roomId)).length;
    await refusal(bed.run(new SendRoomEvent(BOB, roomId, 'm.room.message', { body: filler + 'x'.repeat(room + 1) })), 'M_TOO_LARGE');
    expect(await bed.stream(roomId)).toHaveLength(count);
  });
});
