import { ALICE, BOB, CAROL, DAVE, createJoinedRoom, useRoomTestBed, refusal } from '../../../test/harness';
import { GetMembership } from '../../queries/queries';
import { KickFromRoom } from './command';

describe('KickFromRoom', () => {
  const bed = useRoomTestBed();
  let roomId: string;
  beforeAll(async () => {
    roomId = await createJoinedRoom(bed, ALICE, [BOB, CAROL]);
  });

  it('lets a user with the kick level remove a member', async () => {
    const { eventId } = await bed.run(new KickFromRoom(ALICE, roomId, BOB, 'rude'));
    const event = (await bed.writer.reader.event(eventId))!.event;
    expect(event.sender).toBe(ALICE);
    expect(event.state_key).toBe(BOB);
    expect(event.content).toEqual({ membership: 'leave', reason: 'rude' });
    expect(await bed.ask(new GetMembership(roomId, BOB))).toBe('leave');
  });

  it('refuses a kick without power, and of someone not in the room', async () => {
    const count = (await bed.stream(roomId)).length;
    await refusal(bed.run(new KickFromRoom(CAROL, roomId, ALICE)), 'M_FORBIDDEN');
    await refusal(bed.run(new KickFromRoom(ALICE, roomId, DAVE)), 'M_FORBIDDEN');
    expect(await bed.stream(roomId)).toHaveLength(count);
    expect(await bed.ask(new GetMembership(roomId, ALICE))).toBe('join');
  });
});
