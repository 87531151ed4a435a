import { ALICE, BOB, createJoinedRoom, refusal, useRoomTestBed } from '../../../test/harness';
import { LeaveRoom } from '../leave-room/command';
import { SendRoomEvent } from './command';

describe('SendRoomEvent with a client transaction id', () => {
  const bed = useRoomTestBed();

  it('answers a retry with the first event even when the sender could no longer send, appending nothing', async () => {
    const roomId = await createJoinedRoom(bed, ALICE, [BOB]);
    const txn = { deviceId: 'DEV', txnId: 'before-leaving' };
    const first = await bed.run(new SendRoomEvent(BOB, roomId, 'm.room.message', { body: 'bye soon' }, { txn }));
    await bed.run(new LeaveRoom(BOB, roomId));
    const count = (await bed.stream(roomId)).length;

    const retry = await bed.run(new SendRoomEvent(BOB, roomId, 'm.room.message', { body: 'bye soon' }, { txn }));
    expect(retry.eventId).toBe(first.eventId);
    // A new transaction id is refused: the sender has left.
    await refusal(bed.run(new SendRoomEvent(BOB, roomId, 'm.room.message', { body: 'again' }, { txn: { deviceId: 'DEV', txnId: 'after-leaving' } })), 'M_FORBIDDEN');
    expect(await bed.stream(roomId)).toHaveLength(count);
  });

  it('keeps writing after a retry was refused by the stored transaction id', async () => {
    const roomId = await createJoinedRoom(bed, ALICE, [BOB]);
    const txn = { deviceId: 'DEV', txnId: 'retried' };
    const first = await bed.run(new SendRoomEvent(BOB, roomId, 'm.room.message', { body: 'one' }, { txn }));
    expect((await bed.run(new SendRoomEvent(BOB, roomId, 'm.room.message', { body: 'one' }, { txn }))).eventId).toBe(first.eventId);
    const next = await bed.run(new SendRoomEvent(BOB, roomId, 'm.room.message', { body: 'two' }, { txn: { deviceId: 'DEV', txnId: 'next' } }));
    const facts = await bed.accepted(roomId);
    expect(facts.map((f) => f.event_id).slice(-2)).toEqual([first.eventId, next.eventId]);
    expect(facts[facts.length - 1].pdu.prev_events).toEqual([first.eventId]);
  });
});
