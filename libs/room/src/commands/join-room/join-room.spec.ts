import { ALICE, BOB, CAROL, useRoomTestBed, refusal, SERVER_NAME } from '../../../test/harness';
import { IsJoined } from '../../queries/queries';
import { BanFromRoom } from '../ban-from-room/command';
import { CreateRoom } from '../create-room/command';
import { InviteToRoom } from '../invite-to-room/command';
import { JoinRoom } from './command';

describe('JoinRoom', () => {
  const bed = useRoomTestBed();

  it('joins a public room by id with the profile in the member event', async () => {
    const { roomId } = await bed.run(new CreateRoom(ALICE, { preset: 'public_chat' }));
    const { eventId } = await bed.run(new JoinRoom(BOB, roomId, { displayname: 'Bob', avatar_url: 'mxc://x/y' }));
    const stored = await bed.writer.reader.event(eventId);
    expect(stored?.event.content).toEqual({ membership: 'join', displayname: 'Bob', avatar_url: 'mxc://x/y' });
    expect(await bed.ask(new IsJoined(roomId, BOB))).toBe(true);
  });

  it('keeps the reason and custom keys of the request in the member event, but not keys the server sets', async () => {
    const { roomId } = await bed.run(new CreateRoom(ALICE, { preset: 'public_chat' }));
    const body = {
      foo: 'bar',
      'org.example': { nested: [1] },
      membership: 'leave',
      displayname: 'Not Bob',
      avatar_url: 'mxc://evil/x',
      join_authorised_via_users_server: ALICE,
      third_party_signed: { sender: ALICE },
      is_direct: true,
    };
    const { eventId } = await bed.run(new JoinRoom(BOB, roomId, { displayname: 'Bob' }, 'hello', body));
    const stored = await bed.writer.reader.event(eventId);
    expect(stored?.event.content).toEqual({ membership: 'join', displayname: 'Bob', reason: 'hello', foo: 'bar', 'org.example': { nested: [1] } });
  });

  it('joins by a local alias', async () => {
    const { roomId } = await bed.run(new CreateRoom(ALICE, { preset: 'public_chat', room_alias_name: 'lobby' }));
    const joined = await bed.run(new JoinRoom(CAROL, `#lobby:${SERVER_NAME}`));
    expect(joined.roomId).toBe(roomId);
    expect(await bed.ask(new IsJoined(roomId, CAROL))).toBe(true);
  });

  it('joining again sends nothing and returns the current join event', async () => {
    const { roomId } = await bed.run(new CreateRoom(ALICE, { preset: 'public_chat' }));
    const first = await bed.run(new JoinRoom(BOB, roomId));
    const count = (await bed.stream(roomId)).length;
    const second = await bed.run(new JoinRoom(BOB, roomId));
    expect(second.eventId).toBe(first.eventId);
    expect(await bed.stream(roomId)).toHaveLength(count);
  });

  it('refuses to join an invite-only room without an invite, and allows it with one', async () => {
    const { roomId } = await bed.run(new CreateRoom(ALICE, { preset: 'private_chat' }));
    const count = (await bed.stream(roomId)).length;
    const error = await refusal(bed.run(new JoinRoom(BOB, roomId)), 'M_FORBIDDEN');
    expect(error.reason.length).toBeGreaterThan(0);
    expect(await bed.stream(roomId)).toHaveLength(count);
    await bed.run(new InviteToRoom(ALICE, roomId, BOB));
    await bed.run(new JoinRoom(BOB, roomId));
    expect(await bed.ask(new IsJoined(roomId, BOB))).toBe(true);
  });

  it('refuses a banned user', async () => {
    const { roomId } = await bed.run(new CreateRoom(ALICE, { preset: 'public_chat' }));
    await bed.run(new BanFromRoom(ALICE, roomId, BOB, 'spam'));
    const count = (await bed.stream(roomId)).length;
    await refusal(bed.run(new JoinRoom(BOB, roomId)), 'M_FORBIDDEN');
    expect(await bed.stream(roomId)).toHaveLength(count);
  });

  it('does not find unknown rooms and aliases', async () => {
    await refusal(bed.run(new JoinRoom(BOB, `!nowhere:${SERVER_NAME}`)), 'M_NOT_FOUND');
    await refusal(bed.run(new JoinRoom(BOB, 'not a room')), 'M_NOT_FOUND');
    await refusal(bed.run(new JoinRoom(BOB, `#missing:${SERVER_NAME}`)), 'M_NOT_FOUND');
    await refusal(bed.run(new JoinRoom(BOB, '#remote:elsewhere.example')), 'M_NOT_FOUND');
    await refusal(bed.run(new JoinRoom(BOB, '#bad alias')), 'M_INVALID_PARAM');
  });

  it('joins a restricted room through membership of an allowed room (v10)', async () => {
    const space = await bed.run(new CreateRoom(ALICE, { preset: 'public_chat', room_version: '10' }));
    await bed.run(new JoinRoom(BOB, space.roomId));
    const { roomId } = await bed.run(
      new CreateRoom(ALICE, {
        room_version: '10',
        initial_state: [{ type: 'm.room.join_rules', content: { join_rule: 'restricted', allow: [{ type: 'm.room_membership', room_id: space.roomId }] } }],
      }),
    );
    const { eventId } = await bed.run(new JoinRoom(BOB, roomId));
    expect((await bed.writer.reader.event(eventId))?.event.content).toEqual({ membership: 'join', join_authorised_via_users_server: ALICE });
    await refusal(bed.run(new JoinRoom(CAROL, roomId)), 'M_FORBIDDEN');
  });
});
