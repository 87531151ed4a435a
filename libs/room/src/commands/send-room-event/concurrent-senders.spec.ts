import { Test } from '@nestjs/testing';
import { CommandBus, CqrsModule } from '@nestjs/cqrs';
import { ALICE, useRoomTestBed, SERVER_NAME, type RoomTestBed } from '../../../test/harness';
import { RoomModule } from '../../room.module';
import { CreateRoom } from '../create-room/command';
import { JoinRoom } from '../join-room/command';
import { SendRoomEvent } from './command';

const SENDERS = Array.from({ length: 20 }, (_, i) => `@sender${i}:${SERVER_NAME}`);

/** The room's timeline is one chain: every event's only prev event is the event before it. */
async function expectLinearTimeline(bed: RoomTestBed, roomId: string): Promise<string[]> {
  const facts = await bed.accepted(roomId);
  for (let i = 1; i < facts.length; i++) {
    expect(facts[i].pdu.prev_events).toEqual([facts[i - 1].event_id]);
    expect(facts[i].pdu.depth).toBe(facts[i - 1].pdu.depth + 1);
    expect(facts[i].forward_extremities).toEqual([facts[i].event_id]);
  }
  return facts.map((f) => f.event_id);
}

describe('one writer per room', () => {
  // Both writers of the two-process test retry as often as needed: with six sends each racing
  // for the same revisions, one can lose more than the default five times in a row.
  const bed = useRoomTestBed({ maxAttempts: 50 });

  it('20 concurrent senders produce a linear timeline with no lost and no duplicate event', async () => {
    const { roomId } = await bed.run(new CreateRoom(ALICE, { preset: 'public_chat' }));
    await Promise.all(SENDERS.map((user) => bed.run(new JoinRoom(user, roomId))));
    const sent = await Promise.all(
      SENDERS.flatMap((user) =>
        [0, 1, 2].map((n) => bed.run(new SendRoomEvent(user, roomId, 'm.room.message', { body: `${user} #${n}` }, { txn: { deviceId: 'D', txnId: `m${n}` } }))),
      ),
    );
    const timeline = await expectLinearTimeline(bed, roomId);
    const sentIds = sent.map((r) => r.eventId);
    expect(new Set(sentIds).size).toBe(60);
    expect(new Set(timeline).size).toBe(timeline.length);
    for (const id of sentIds) expect(timeline).toContain(id);
    const extremities = await bed.writer.reader.snapshot(roomId);
    expect(extremities?.extremities.map((e) => e.eventId)).toEqual([timeline[timeline.length - 1]]);
  });

  it('two writers on one database (two processes) stay linear through the expected-revision retry', async () => {
    const { roomId } = await bed.run(new CreateRoom(ALICE, { preset: 'public_chat' }));
    await Promise.all(SENDERS.slice(0, 4).map((user) => bed.run(new JoinRoom(user, roomId))));
    const other = await Test.createTestingModule({
      imports: [
        CqrsModule.forRoot(),
        RoomModule.forRoot({
          dependencies: { pool: bed.db.pool, store: bed.store, serverName: SERVER_NAME, signingKey: bed.signingKey, options: { maxAttempts: 50 } },
        }),
      ],
    }).compile();
    await other.init();
    try {
      const otherBus = other.get(CommandBus);
      // Both writers cache the room's state before the race.
      await bed.run(new SendRoomEvent(SENDERS[0], roomId, 'm.room.message', { body: 'warm up' }));
      await otherBus.execute(new SendRoomEvent(SENDERS[1], roomId, 'm.room.message', { body: 'warm up' }));
      const sent = await Promise.all(
        SENDERS.slice(0, 4).flatMap((user, i) =>
          [0, 1, 2].map((n) => {
            const command = new SendRoomEvent(user, roomId, 'm.room.message', { body: `${n}` });
            return i % 2 === 0 ? bed.run(command) : otherBus.execute(command);
          }),
        ),
      );
      const timeline = await expectLinearTimeline(bed, roomId);
      for (const { eventId } of sent) expect(timeline).toContain(eventId);
      expect(new Set(timeline).size).toBe(timeline.length);
    } finally {
      await other.close();
    }
  });
});
