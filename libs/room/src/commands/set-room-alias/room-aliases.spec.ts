import { ALICE, BOB, CAROL, createJoinedRoom, useRoomTestBed, refusal, SERVER_NAME } from '../../../test/harness';
import { GetRoomAliases, GetStateEvent, ResolveRoomAlias } from '../../queries/queries';
import { SendRoomEvent } from '../send-room-event/command';
import { CreateRoom } from '../create-room/command';
import { DeleteRoomAlias } from '../delete-room-alias/command';
import { SetRoomVisibility } from '../set-room-visibility/command';
import { SetRoomAlias } from './command';

describe('room aliases', () => {
  const bed = useRoomTestBed();
  let roomId: string;
  beforeAll(async () => {
    roomId = await createJoinedRoom(bed, ALICE, [BOB]);
  });

  const alias = (name: string) => `#${name}:${SERVER_NAME}`;

  it('sets, resolves, lists and deletes an alias', async () => {
    await bed.run(new SetRoomAlias(BOB, alias('one'), roomId));
    expect(await bed.ask(new ResolveRoomAlias(alias('one')))).toEqual({ roomId, servers: [SERVER_NAME] });
    expect(await bed.ask(new GetRoomAliases(roomId))).toEqual([alias('one')]);
    await bed.run(new DeleteRoomAlias(BOB, alias('one')));
    await refusal(bed.ask(new ResolveRoomAlias(alias('one'))), 'M_NOT_FOUND');
    expect(await bed.ask(new GetRoomAliases(roomId))).toEqual([]);
  });

  it('refuses an alias in use with 409 M_UNKNOWN', async () => {
    await bed.run(new SetRoomAlias(ALICE, alias('taken'), roomId));
    const other = await bed.run(new CreateRoom(BOB, {}));
    const error = await refusal(bed.run(new SetRoomAlias(BOB, alias('taken'), other.roomId)), 'M_UNKNOWN');
    expect(error.httpStatus).toBe(409);
    expect((await bed.ask(new ResolveRoomAlias(alias('taken')))).roomId).toBe(roomId);
  });

  it('lets only the creator of the alias or a room administrator delete it', async () => {
    await bed.run(new SetRoomAlias(BOB, alias('bobs'), roomId));
    await refusal(bed.run(new DeleteRoomAlias(CAROL, alias('bobs'))), 'M_FORBIDDEN');
    await bed.run(new DeleteRoomAlias(ALICE, alias('bobs')));
    await refusal(bed.run(new DeleteRoomAlias(ALICE, alias('bobs'))), 'M_NOT_FOUND');
  });

  it('refuses invalid aliases, aliases of other servers and unknown rooms', async () => {
    await refusal(bed.run(new SetRoomAlias(ALICE, 'nope', roomId)), 'M_INVALID_PARAM');
    await refusal(bed.run(new SetRoomAlias(ALICE, '#x:elsewhere.example', roomId)), 'M_INVALID_PARAM');
    await refusal(bed.run(new SetRoomAlias(ALICE, alias('ghost'), `!unknown:${SERVER_NAME}`)), 'M_NOT_FOUND');
    await refusal(bed.ask(new ResolveRoomAlias('#x:elsewhere.example')), 'M_NOT_FOUND');
  });

  it('publishes a room in the directory only for its administrators', async () => {
    await refusal(bed.run(new SetRoomVisibility(BOB, roomId, 'private')), 'M_FORBIDDEN');
    await refusal(bed.run(new SetRoomVisibility(ALICE, roomId, 'secret')), 'M_BAD_JSON');
    await bed.run(new SetRoomVisibility(ALICE, roomId, 'public'));
    expect((await bed.writer.reader.room(roomId))?.published).toBe(true);
    await bed.run(new SetRoomVisibility(ALICE, roomId, 'private'));
    expect((await bed.writer.reader.room(roomId))?.published).toBe(false);
  });

  it('takes a deleted alias out of the canonical alias', async () => {
    const room = await bed.run(new CreateRoom(ALICE, { room_alias_name: 'canon' }));
    await bed.run(new SetRoomAlias(ALICE, alias('alt'), room.roomId));
    await bed.run(new SendRoomEvent(ALICE, room.roomId, 'm.room.canonical_alias', { alias: alias('canon'), alt_aliases: [alias('alt')] }, { stateKey: '' }));
    await bed.run(new DeleteRoomAlias(ALICE, alias('canon')));
    expect((await bed.ask(new GetStateEvent(room.roomId, 'm.room.canonical_alias'))).content).toEqual({ alt_aliases: [alias('alt')] });
    await bed.run(new DeleteRoomAlias(ALICE, alias('alt')));
    expect((await bed.ask(new GetStateEvent(room.roomId, 'm.room.canonical_alias'))).content).toEqual({ alt_aliases: [] });
  });

  it('accepts an m.room.canonical_alias whose aliases point to the room, and refuses one that does not', async () => {
    const room = await bed.run(new CreateRoom(ALICE, {}));
    const other = await bed.run(new CreateRoom(ALICE, {}));
    await bed.run(new SetRoomAlias(ALICE, alias('mine'), room.roomId));
    await bed.run(new SetRoomAlias(ALICE, alias('theirs'), other.roomId));
    const send = (content: Record<string, unknown>) =>
      bed.run(new SendRoomEvent(ALICE, room.roomId, 'm.room.canonical_alias', content as never, { stateKey: '' }));

    await send({ alias: alias('mine'), alt_aliases: ['#far:elsewhere.example'] });
    expect((await bed.ask(new GetStateEvent(room.roomId, 'm.room.canonical_alias'))).content).toEqual({
      alias: alias('mine'),
      alt_aliases: ['#far:elsewhere.example'],
    });
    const before = await bed.writer.reader.room(room.roomId);

    const elsewhere = await refusal(send({ alias: alias('theirs') }), 'M_BAD_ALIAS');
    expect(elsewhere.httpStatus).toBe(400);
    await refusal(send({ alias: alias('mine'), alt_aliases: [alias('unknown')] }), 'M_BAD_ALIAS');
    await refusal(send({ alias: 'not an alias' }), 'M_INVALID_PARAM');
    await refusal(send({ alt_aliases: 'nope' }), 'M_INVALID_PARAM');
    await refusal(send({ alt_aliases: [42] }), 'M_INVALID_PARAM');

    // Nothing was appended by the refusals.
    expect(await bed.writer.reader.room(room.roomId)).toEqual(before);
    expect((await bed.ask(new GetStateEvent(room.roomId, 'm.room.canonical_alias'))).content).toEqual({
      alias: alias('mine'),
      alt_aliases: ['#far:elsewhere.example'],
    });
  });
});
