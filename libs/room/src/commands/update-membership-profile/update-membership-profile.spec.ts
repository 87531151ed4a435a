import { ALICE, BOB, useRoomTestBed } from '../../../test/harness';
import { GetStateEvent } from '../../queries/queries';
import { CreateRoom } from '../create-room/command';
import { JoinRoom } from '../join-room/command';
import { LeaveRoom } from '../leave-room/command';
import { UpdateMembershipProfile } from './command';

describe('UpdateMembershipProfile', () => {
  const bed = useRoomTestBed();

  it('re-sends the join event with the new profile in every joined room, and only there', async () => {
    const one = await bed.run(new CreateRoom(ALICE, { preset: 'public_chat' }));
    const two = await bed.run(new CreateRoom(ALICE, { preset: 'public_chat' }));
    const left = await bed.run(new CreateRoom(ALICE, { preset: 'public_chat' }));
    for (const room of [one, two, left]) await bed.run(new JoinRoom(BOB, room.roomId, { displayname: 'Bob', avatar_url: 'mxc://a/b' }));
    await bed.run(new LeaveRoom(BOB, left.roomId));
    const leftCount = (await bed.stream(left.roomId)).length;

    const { eventIds } = await bed.run(new UpdateMembershipProfile(BOB, { displayname: 'Robert', avatar_url: null }));
    expect(eventIds).toHaveLength(2);
    for (const room of [one, two]) {
      const member = await bed.ask(new GetStateEvent(room.roomId, 'm.room.member', BOB));
      expect(member.content).toEqual({ membership: 'join', displayname: 'Robert' });
      expect(eventIds).toContain(member.event_id);
    }
    expect(await bed.stream(left.roomId)).toHaveLength(leftCount);
    // No change, no event.
    expect((await bed.run(new UpdateMembershipProfile(BOB, { displayname: 'Robert' }))).eventIds).toEqual([]);
  });
});
