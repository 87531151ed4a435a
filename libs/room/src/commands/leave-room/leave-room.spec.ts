import { ALICE, BOB, CAROL, useRoomTestBed, refusal } from '../../../test/harness';
import { GetMembership, IsJoined } from '../../queries/queries';
import { CreateRoom } from '../create-room/command';
import { JoinRoom } from '../join-room/command';
import { LeaveRoom } from './command';

describe('LeaveRoom', () => {
  const bed = useRoomTestBed();

  it('leaves a joined room', async () => {
    const { roomId } = await bed.run(new CreateRoom(ALICE, { preset: 'public_chat' }));
    await bed.run(new JoinRoom(BOB, roomId));
    const { eventId } = await bed.run(new LeaveRoom(BOB, roomId, 'bye'));
    expect((await bed.writer.reader.event(eventId))?.event.content).toEqual({ membership: 'leave', reason: 'bye' });
    expect(await bed.ask(new IsJoined(roomId, BOB))).toBe(false);
    expect(await bed.ask(new GetMembership(roomId, BOB))).toBe('leave');
  });

  it('rejects an invite', async () => {
    const { roomId } = await bed.run(new CreateRoom(ALICE, { invite: [BOB] }));
    await bed.run(new LeaveRoom(BOB, roomId));
    expect(await bed.ask(new GetMembership(roomId, BOB))).toBe('leave');
  });

  it('refuses to leave a room one is not in', async () => {
    const { roomId } = await bed.run(new CreateRoom(ALICE, {}));
    const count = (await bed.stream(roomId)).length;
    await refusal(bed.run(new LeaveRoom(CAROL, roomId)), 'M_FORBIDDEN');
    expect(await bed.stream(roomId)).toHaveLength(count);
  });
});
