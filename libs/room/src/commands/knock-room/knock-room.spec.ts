import { ALICE, BOB, CAROL, DAVE, SERVER_NAME, refusal, useRoomTestBed } from '../../../test/harness';
import { GetMembership, IsJoined } from '../../queries/queries';
import { BanFromRoom } from '../ban-from-room/command';
import { CreateRoom, type CreateRoomRequest } from '../create-room/command';
import { InviteToRoom } from '../invite-to-room/command';
import { JoinRoom } from '../join-room/command';
import { KickFromRoom } from '../kick-from-room/command';
import { LeaveRoom } from '../leave-room/command';
import { KnockOnRoom } from './command';

const knockRules = (joinRule: string, extra: CreateRoomRequest = {}): CreateRoomRequest => ({
  preset: 'private_chat',
  initial_state: [{ type: 'm.room.join_rules', state_key: '', content: { join_rule: joinRule } }],
  ...extra,
});

describe('KnockOnRoom', () => {
  const bed = useRoomTestBed();

  it('knocks with the profile and the reason in the member event', async () => {
    const { roomId } = await bed.run(new CreateRoom(ALICE, knockRules('knock')));
    const knocked = await bed.run(new KnockOnRoom(BOB, roomId, { displayname: 'Bob' }, 'let me in'));
    expect(knocked.roomId).toBe(roomId);
    const stored = await bed.writer.reader.event(knocked.eventId);
    expect(stored?.event).toMatchObject({ type: 'm.room.member', sender: BOB, state_key: BOB });
    expect(stored?.event.content).toEqual({ membership: 'knock', displayname: 'Bob', reason: 'let me in' });
    expect(await bed.ask(new GetMembership(roomId, BOB))).toBe('knock');
  });

  it('knocks by a local alias, and on a knock_restricted room', async () => {
    const { roomId } = await bed.run(new CreateRoom(ALICE, knockRules('knock_restricted', { room_alias_name: 'knocking' })));
    const knocked = await bed.run(new KnockOnRoom(CAROL, `#knocking:${SERVER_NAME}`));
    expect(knocked.roomId).toBe(roomId);
    expect(await bed.ask(new GetMembership(roomId, CAROL))).toBe('knock');
  });

  it('a knock is answered by an invite, and the invited user joins', async () => {
    const { roomId } = await bed.run(new CreateRoom(ALICE, knockRules('knock')));
    await bed.run(new KnockOnRoom(BOB, roomId));
    await bed.run(new InviteToRoom(ALICE, roomId, BOB));
    expect(await bed.ask(new GetMembership(roomId, BOB))).toBe('invite');
    await bed.run(new JoinRoom(BOB, roomId));
    expect(await bed.ask(new IsJoined(roomId, BOB))).toBe(true);
  });

  it('a knock is rejected by a kick and withdrawn by leaving', async () => {
    const { roomId } = await bed.run(new CreateRoom(ALICE, knockRules('knock')));
    await bed.run(new KnockOnRoom(BOB, roomId));
    await bed.run(new KickFromRoom(ALICE, roomId, BOB, 'not today'));
    expect(await bed.ask(new GetMembership(roomId, BOB))).toBe('leave');
    await bed.run(new KnockOnRoom(CAROL, roomId));
    await bed.run(new LeaveRoom(CAROL, roomId));
    expect(await bed.ask(new GetMembership(roomId, CAROL))).toBe('leave');
    // Knocking again after either is allowed.
    await bed.run(new KnockOnRoom(BOB, roomId));
    expect(await bed.ask(new GetMembership(roomId, BOB))).toBe('knock');
  });

  it('refuses rooms whose join rule is not knock, with nothing appended', async () => {
    for (const request of [{ preset: 'public_chat' }, { preset: 'private_chat' }, knockRules('restricted')]) {
      const { roomId } = await bed.run(new CreateRoom(ALICE, request));
      const count = (await bed.stream(roomId)).length;
      const error = await refusal(bed.run(new KnockOnRoom(BOB, roomId)), 'M_FORBIDDEN');
      expect(error.rule).toBe('member.knock.join_rule');
      expect(await bed.stream(roomId)).toHaveLength(count);
    }
  });

  it('refuses room versions without knocking', async () => {
    const { roomId } = await bed.run(new CreateRoom(ALICE, knockRules('knock', { room_version: '6' })));
    const error = await refusal(bed.run(new KnockOnRoom(BOB, roomId)), 'M_FORBIDDEN');
    expect(error.reason).toContain('does not support knocking');
  });

  it('refuses banned, joined and invited users', async () => {
    const { roomId } = await bed.run(new CreateRoom(ALICE, knockRules('knock')));
    await bed.run(new BanFromRoom(ALICE, roomId, BOB));
    expect((await refusal(bed.run(new KnockOnRoom(BOB, roomId)), 'M_FORBIDDEN')).rule).toBe('member.knock.membership');
    expect((await refusal(bed.run(new KnockOnRoom(ALICE, roomId)), 'M_FORBIDDEN')).rule).toBe('member.knock.membership');
    await bed.run(new InviteToRoom(ALICE, roomId, DAVE));
    expect((await refusal(bed.run(new KnockOnRoom(DAVE, roomId)), 'M_FORBIDDEN')).rule).toBe('member.knock.membership');
  });

  it('does not find unknown rooms and aliases', async () => {
    await refusal(bed.run(new KnockOnRoom(BOB, `!nowhere:${SERVER_NAME}`)), 'M_NOT_FOUND');
    await refusal(bed.run(new KnockOnRoom(BOB, `#missing:${SERVER_NAME}`)), 'M_NOT_FOUND');
    await refusal(bed.run(new KnockOnRoom(BOB, '#remote:elsewhere.example')), 'M_NOT_FOUND');
  });
});
