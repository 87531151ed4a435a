/**
 * Where events go, read from a real room write model (PGlite): rooms of local users with
 * members of other servers added as the facts that accepting their events appends.
 */
import type { RoomEventAccepted } from '@hs/contracts';
import { generateSigningKey } from '@hs/protocol';
import { BanFromRoom, InviteToRoom, KickFromRoom, SendRoomEvent } from '@hs/room';
import { ALICE, BOB, SERVER_NAME, createJoinedRoom, useRoomTestBed } from '../../room/test/harness';
import { addRemoteMembership } from '../../room/test/remote-members';
import { WriteModelDestinationResolver } from './destination-resolver';

const ONE = 'remote.one';
const TWO = 'remote.two:8448';
const keyOne = generateSigningKey('one');
const keyTwo = generateSigningKey('two');

describe('WriteModelDestinationResolver', () => {
  const bed = useRoomTestBed();

  async function fact(roomId: string, eventId: string): Promise<RoomEventAccepted> {
    const found = (await bed.accepted(roomId)).find((candidate) => candidate.event_id === eventId);
    if (!found) throw new Error(`no fact for ${eventId}`);
    return found;
  }

  async function message(roomId: string, body: string): Promise<RoomEventAccepted> {
    const { eventId } = await bed.run(new SendRoomEvent(ALICE, roomId, 'm.room.message', { msgtype: 'm.text', body }));
    return fact(roomId, eventId);
  }

  async function destinationsOf(resolver: WriteModelDestinationResolver, ...facts: RoomEventAccepted[]): Promise<string[][]> {
    const answer = await resolver.eventDestinations(facts);
    return facts.map((f) => [...(answer.get(f.event_id) ?? [])].sort());
  }

  it('names the servers with a joined member in the state after each event, and the server of a kicked or banned user', async () => {
    const resolver = new WriteModelDestinationResolver(bed.db.pool);
    const roomId = await createJoinedRoom(bed, ALICE, [BOB]);
    const alone = await message(roomId, 'only local members');

    await addRemoteMembership(bed.writer, bed.store, roomId, { userId: `@carol:${ONE}`, membership: 'join', signingKey: keyOne });
    const withOne = await message(roomId, 'carol is here');
    await addRemoteMembership(bed.writer, bed.store, roomId, { userId: `@dan:${TWO}`, membership: 'join', signingKey: keyTwo });
    await addRemoteMembership(bed.writer, bed.store, roomId, { userId: `@erin:${ONE}`, membership: 'join', signingKey: keyOne });
    const withBoth = await message(roomId, 'everyone');

    // An invite of another server's user goes to the room's servers (the invited server gets
    // it through the invite API, not from the sender).
    const invite = await fact(roomId, (await bed.run(new InviteToRoom(ALICE, roomId, '@frank:remote.three'))).eventId);
    // remote.one keeps erin after carol is kicked; remote.two loses its only member and must hear of it.
    const kick = await fact(roomId, (await bed.run(new KickFromRoom(ALICE, roomId, `@carol:${ONE}`))).eventId);
    const ban = await fact(roomId, (await bed.run(new BanFromRoom(ALICE, roomId, `@dan:${TWO}`))).eventId);
    const afterBan = await message(roomId, 'dan is gone');
    await addRemoteMembership(bed.writer, bed.store, roomId, { userId: `@erin:${ONE}`, membership: 'leave', signingKey: keyOne });
    const afterLeave = await message(roomId, 'only us again');

    expect(await destinationsOf(resolver, alone, withOne, withBoth, invite, kick, ban, afterBan, afterLeave)).toEqual([
      [SERVER_NAME],
      [SERVER_NAME, ONE],
      [SERVER_NAME, ONE, TWO],
      [SERVER_NAME, ONE, TWO],
      [SERVER_NAME, ONE, TWO],
      [SERVER_NAME, ONE, TWO],
      [SERVER_NAME, ONE],
      [SERVER_NAME],
    ].map((servers) => servers.sort()));

    // Answers depend on the state at each event only: asked again later (from a fresh
    // resolver, without its cache) they are the same.
    expect(await destinationsOf(new WriteModelDestinationResolver(bed.db.pool), withBoth, afterBan)).toEqual([[SERVER_NAME, ONE, TWO].sort(), [SERVER_NAME, ONE].sort()]);
    expect(await resolver.roomDestinations(roomId)).toEqual([SERVER_NAME]);
  });

  it('gives the room servers of now, and nothing for an event the write model does not hold', async () => {
    const resolver = new WriteModelDestinationResolver(bed.db.pool);
    const roomId = await createJoinedRoom(bed, ALICE, []);
    await addRemoteMembership(bed.writer, bed.store, roomId, { userId: `@carol:${ONE}`, membership: 'join', signingKey: keyOne });
    expect(await resolver.roomDestinations(roomId)).toEqual([ONE, SERVER_NAME].sort());
    const known = await message(roomId, 'hello');
    const unknown: RoomEventAccepted = { ...known, event_id: '$not-stored' };
    const answer = await resolver.eventDestinations([known, unknown]);
    expect([...(answer.get(known.event_id) ?? [])].sort()).toEqual([ONE, SERVER_NAME].sort());
    expect(answer.get('$not-stored')).toEqual([]);
    expect(await resolver.roomDestinations('!unknown:example.org')).toEqual([]);
  });
});
