import { ALICE, BOB, CAROL, createJoinedRoom, useRoomTestBed, refusal } from '../../../test/harness';
import { GetMembership } from '../../queries/queries';
import { JoinRoom } from '../join-room/command';
import { UnbanFromRoom } from '../unban-from-room/command';
import { BanFromRoom } from './command';

describe('BanFromRoom and UnbanFromRoom', () => {
  const bed = useRoomTestBed();
  let roomId: string;
  beforeAll(async () => {
    roomId = await createJoinedRoom(bed, ALICE, [BOB, CAROL]);
  });

  it('bans a member, who then cannot join; unbanning lets them join again', async () => {
    await bed.run(new BanFromRoom(ALICE, roomId, BOB, 'spam'));
    expect(await bed.ask(new GetMembership(roomId, BOB))).toBe('ban');
    await refusal(bed.run(new JoinRoom(BOB, roomId)), 'M_FORBIDDEN');
    const { eventId } = await bed.run(new UnbanFromRoom(ALICE, roomId, BOB));
    expect((await bed.writer.reader.event(eventId))?.event.content).toEqual({ membership: 'leave' });
    await bed.run(new JoinRoom(BOB, roomId));
    expect(await bed.ask(new GetMembership(roomId, BOB))).toBe('join');
  });

  it('refuses a ban or unban without power, and unbanning someone not banned', async () => {
    const count = (await bed.stream(roomId)).length;
    await refusal(bed.run(new BanFromRoom(CAROL, roomId, BOB)), 'M_FORBIDDEN');
    await refusal(bed.run(new UnbanFromRoom(ALICE, roomId, CAROL)), 'M_FORBIDDEN');
    expect(await bed.stream(roomId)).toHaveLength(count);
    await bed.run(new BanFromRoom(ALICE, roomId, CAROL));
    await refusal(bed.run(new UnbanFromRoom(BOB, roomId, CAROL)), 'M_FORBIDDEN');
    expect(await bed.ask(new GetMembership(roomId, CAROL))).toBe('ban');
  });
});
