import { authChain, roomVersion, type RoomEvent } from '@hs/protocol';
import { ALICE, BOB, useRoomTestBed, refusal, SERVER_NAME } from '../../test/harness';
import { CreateRoom } from '../commands/create-room/command';
import { InviteToRoom } from '../commands/invite-to-room/command';
import { JoinRoom } from '../commands/join-room/command';
import { SendRoomEvent } from '../commands/send-room-event/command';
import { GetAuthChain, GetEvent, GetMembership, GetRoomState, GetRoomsOfUser, GetRoomVersion, GetStateEvent, IsJoined } from './queries';

describe('write-model queries', () => {
  const bed = useRoomTestBed();
  let roomId: string;
  let invitedRoom: string;
  beforeAll(async () => {
    ({ roomId } = await bed.run(new CreateRoom(ALICE, { preset: 'public_chat', name: 'First' })));
    ({ roomId: invitedRoom } = await bed.run(new CreateRoom(ALICE, {})));
    await bed.run(new InviteToRoom(ALICE, invitedRoom, BOB));
  });

  it('answers the state at an event and the current state', async () => {
    const { eventId: message } = await bed.run(new SendRoomEvent(ALICE, roomId, 'm.room.message', { body: 'x' }));
    await bed.run(new SendRoomEvent(ALICE, roomId, 'm.room.name', { name: 'Second' }, { stateKey: '' }));
    await bed.run(new JoinRoom(BOB, roomId));
    const then = await bed.ask(new GetRoomState(roomId, message));
    expect(then.find((e) => e.type === 'm.room.name')?.content).toEqual({ name: 'First' });
    expect(then.some((e) => e.state_key === BOB)).toBe(false);
    const now = await bed.ask(new GetRoomState(roomId));
    expect(now.find((e) => e.type === 'm.room.name')?.content).toEqual({ name: 'Second' });
    expect((await bed.ask(new GetStateEvent(roomId, 'm.room.member', BOB))).content.membership).toBe('join');
    await refusal(bed.ask(new GetStateEvent(roomId, 'm.room.avatar')), 'M_NOT_FOUND');
    await refusal(bed.ask(new GetRoomState(roomId, '$nope')), 'M_NOT_FOUND');
    await refusal(bed.ask(new GetRoomState(`!nope:${SERVER_NAME}`)), 'M_NOT_FOUND');
  });

  it('answers events, versions and memberships', async () => {
    const { eventId } = await bed.run(new SendRoomEvent(ALICE, roomId, 'm.room.message', { body: 'find me' }));
    const stored = await bed.ask(new GetEvent(eventId));
    expect(stored.event.content).toEqual({ body: 'find me' });
    expect(stored.rejected || stored.softFailed || stored.outlier).toBe(false);
    expect(stored.streamPosition > 0n).toBe(true);
    await refusal(bed.ask(new GetEvent('$missing')), 'M_NOT_FOUND');
    expect(await bed.ask(new GetRoomVersion(roomId))).toBe('11');
    await refusal(bed.ask(new GetRoomVersion(`!nope:${SERVER_NAME}`)), 'M_NOT_FOUND');
    expect(await bed.ask(new IsJoined(roomId, ALICE))).toBe(true);
    expect(await bed.ask(new IsJoined(invitedRoom, BOB))).toBe(false);
    expect(await bed.ask(new GetMembership(invitedRoom, BOB))).toBe('invite');
    expect(await bed.ask(new GetMembership(invitedRoom, `@nobody:${SERVER_NAME}`))).toBeNull();
    expect(await bed.ask(new GetRoomsOfUser(BOB))).toEqual(
      [
        { roomId, membership: 'join' },
        { roomId: invitedRoom, membership: 'invite' },
      ].sort((a, b) => (a.roomId < b.roomId ? -1 : 1)),
    );
    expect(await bed.ask(new GetRoomsOfUser(BOB, ['invite']))).toEqual([{ roomId: invitedRoom, membership: 'invite' }]);
  });

  it.each(['11', '12'])('answers the auth chain of events (room version %s), as the protocol computes it', async (version) => {
    const room = await bed.run(new CreateRoom(ALICE, { preset: 'public_chat', room_version: version }));
    await bed.run(new JoinRoom(BOB, room.roomId));
    const { eventId } = await bed.run(new SendRoomEvent(BOB, room.roomId, 'm.room.message', { body: 'x' }));
    const events = new Map<string, RoomEvent>();
    for (const fact of await bed.accepted(room.roomId)) events.set(fact.event_id, (await bed.writer.reader.event(fact.event_id))!.event);
    const expected = [...authChain([eventId], (id) => events.get(id), roomVersion(version))].sort();
    const chain = await bed.ask(new GetAuthChain([eventId]));
    expect(chain).toEqual(expected);
    const types = chain.map((id) => events.get(id)!.type);
    expect(types).toEqual(expect.arrayContaining(['m.room.create', 'm.room.power_levels', 'm.room.join_rules', 'm.room.member']));
    expect(await bed.ask(new GetAuthChain([]))).toEqual([]);
  });
});
