import { ALICE, BOB, CAROL, DAVE, createJoinedRoom, useRoomTestBed, refusal, SERVER_NAME } from '../../../test/harness';
import { GetMembership } from '../../queries/queries';
import { BanFromRoom } from '../ban-from-room/command';
import { InviteToRoom } from './command';

describe('InviteToRoom', () => {
  const bed = useRoomTestBed();
  let roomId: string;
  beforeAll(async () => {
    roomId = await createJoinedRoom(bed, ALICE, [CAROL], { power_level_content_override: { invite: 50 } });
  });

  it('invites a user, with is_direct and the stripped state', async () => {
    const { eventId } = await bed.run(new InviteToRoom(ALICE, roomId, BOB, 'come along', true));
    const stored = await bed.writer.reader.event(eventId);
    expect(stored?.event.content).toEqual({ membership: 'invite', is_direct: true, reason: 'come along' });
    expect(await bed.ask(new GetMembership(roomId, BOB))).toBe('invite');
    const fact = (await bed.accepted(roomId)).find((f) => f.event_id === eventId);
    expect(fact?.unsigned?.invite_room_state).toBeDefined();
  });

  it('refuses an inviter without the invite power level, and a non-member', async () => {
    const count = (await bed.stream(roomId)).length;
    await refusal(bed.run(new InviteToRoom(CAROL, roomId, DAVE)), 'M_FORBIDDEN');
    await refusal(bed.run(new InviteToRoom(DAVE, roomId, `@erin:${SERVER_NAME}`)), 'M_FORBIDDEN');
    expect(await bed.stream(roomId)).toHaveLength(count);
  });

  it('refuses to invite a banned user or a member', async () => {
    await bed.run(new BanFromRoom(ALICE, roomId, DAVE));
    const count = (await bed.stream(roomId)).length;
    const banned = await refusal(bed.run(new InviteToRoom(ALICE, roomId, DAVE)), 'M_FORBIDDEN');
    expect(banned.reason).toContain('banned');
    await refusal(bed.run(new InviteToRoom(ALICE, roomId, CAROL)), 'M_FORBIDDEN');
    expect(await bed.stream(roomId)).toHaveLength(count);
  });

  it('refuses bad input and unknown rooms', async () => {
    await refusal(bed.run(new InviteToRoom(ALICE, roomId, 'bob')), 'M_INVALID_PARAM');
    await refusal(bed.run(new InviteToRoom(ALICE, `!unknown:${SERVER_NAME}`, BOB)), 'M_NOT_FOUND');
  });
});
