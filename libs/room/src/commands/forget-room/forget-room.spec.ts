import { ALICE, BOB, useRoomTestBed, refusal, SERVER_NAME } from '../../../test/harness';
import { IsRoomForgotten } from '../../queries/queries';
import { CreateRoom } from '../create-room/command';
import { JoinRoom } from '../join-room/command';
import { LeaveRoom } from '../leave-room/command';
import { ForgetRoom } from './command';

describe('ForgetRoom', () => {
  const bed = useRoomTestBed();

  it('forgets a room the user left; joining again clears it', async () => {
    const { roomId } = await bed.run(new CreateRoom(ALICE, { preset: 'public_chat' }));
    await bed.run(new JoinRoom(BOB, roomId));
    await refusal(bed.run(new ForgetRoom(BOB, roomId)), 'M_UNKNOWN');
    expect(await bed.ask(new IsRoomForgotten(BOB, roomId))).toBe(false);
    await bed.run(new LeaveRoom(BOB, roomId));
    await bed.run(new ForgetRoom(BOB, roomId));
    expect(await bed.ask(new IsRoomForgotten(BOB, roomId))).toBe(true);
    await bed.run(new JoinRoom(BOB, roomId));
    expect(await bed.ask(new IsRoomForgotten(BOB, roomId))).toBe(false);
  });

  it('does not find unknown rooms', async () => {
    await refusal(bed.run(new ForgetRoom(BOB, `!unknown:${SERVER_NAME}`)), 'M_NOT_FOUND');
  });
});
