import { randomUUID } from 'node:crypto';
import { ROOM_NETWORK_VISIBILITY_SET, ROOM_VISIBILITY_SET, roomStream } from '@hs/contracts';
import type { JsonValue } from '@hs/eventstore';
import { openProjectionHarness, type ProjectionHarness } from '../../projections/sync/testing/harness';
import { TestRoom } from '../../projections/sync/testing/test-room';
import { DirectoryProjector, publishedRooms } from '@hs/projections/directory';

const alice = '@alice:test.local';
const bob = '@bob:test.local';
const carol = '@carol:remote.example';

let h: ProjectionHarness;

jest.setTimeout(120_000);

beforeEach(async () => {
  h = await openProjectionHarness([new DirectoryProjector()]);
});

afterEach(async () => {
  await h?.close();
});

async function publish(roomId: string, visibility: 'public' | 'private'): Promise<void> {
  await h.store.append(roomStream(roomId), 'any', [{ id: randomUUID(), type: ROOM_VISIBILITY_SET, data: { v: 1, room_id: roomId, visibility } as unknown as JsonValue }]);
}

const list = async (query: Partial<Parameters<typeof publishedRooms>[1]> = {}) => {
  await h.settle();
  return publishedRooms(h.db.pool, { offset: 0, limit: 50, ...query });
};

describe('the public room directory projection', () => {
  it('lists published rooms with their summary and joined members, largest first, and follows changes', async () => {
    const small = await TestRoom.create(h.store, alice, { name: 'Small talk' });
    const big = await TestRoom.create(h.store, bob);
    await big.join(alice);
    await big.join(carol);
    await big.send(bob, 'm.room.topic', { topic: 'Everything about kumquats' }, { stateKey: '' });
    await big.send(bob, 'm.room.canonical_alias', { alias: '#kumquats:test.local' }, { stateKey: '' });
    await big.send(bob, 'm.room.avatar', { url: 'mxc://test.local/kumquat' }, { stateKey: '' });
    await big.send(bob, 'm.room.guest_access', { guest_access: 'can_join' }, { stateKey: '' });
    const hidden = await TestRoom.create(h.store, alice, { name: 'Never published' });
    await publish(small.roomId, 'public');
    await publish(big.roomId, 'public');

    expect(await list()).toEqual({
      total: 2,
      chunk: [
        {
          room_id: big.roomId,
          num_joined_members: 3,
          topic: 'Everything about kumquats',
          canonical_alias: '#kumquats:test.local',
          avatar_url: 'mxc://test.local/kumquat',
          join_rule: 'public',
          world_readable: false,
          guest_can_join: true,
        },
        { room_id: small.roomId, num_joined_members: 1, name: 'Small talk', join_rule: 'public', world_readable: false, guest_can_join: false },
      ],
    });
    expect((await list({ term: 'KUMQUAT' })).chunk.map((r) => r.room_id)).toEqual([big.roomId]);
    expect((await list({ term: '100%' })).total).toBe(0);
    expect((await list({ offset: 1, limit: 1 })).chunk.map((r) => r.room_id)).toEqual([small.roomId]);
    expect((await list({ roomTypes: ['m.space'] })).total).toBe(0);
    expect((await list({ roomTypes: [null] })).total).toBe(2);

    // Members leave, the name goes, the room is taken out of the directory; one is purged.
    await big.leave(alice);
    await big.leave(carol);
    await small.send(alice, 'm.room.name', {}, { stateKey: '' });
    await small.send(alice, 'm.room.history_visibility', { history_visibility: 'world_readable' }, { stateKey: '' });
    await publish(hidden.roomId, 'public');
    await publish(hidden.roomId, 'private');
    let listed = await list();
    expect(listed.chunk.map((r) => [r.room_id, r.num_joined_members, r.name ?? null, r.world_readable])).toEqual(
      [
        [big.roomId, 1, null, false],
        [small.roomId, 1, null, true],
      ].sort((a, b) => ((a[0] as string) < (b[0] as string) ? -1 : 1)),
    );
    await small.purge(alice);
    listed = await list();
    expect(listed.chunk.map((r) => r.room_id)).toEqual([big.roomId]);
  });

  it("keeps application services' network directories apart from the main one", async () => {
    const bridged = await TestRoom.create(h.store, alice, { name: 'Bridged' });
    const both = await TestRoom.create(h.store, bob, { name: 'Both' });
    const network = async (roomId: string, instanceId: string, visibility: 'public' | 'private') =>
      h.store.append(roomStream(roomId), 'any', [
        { id: randomUUID(), type: ROOM_NETWORK_VISIBILITY_SET, data: { v: 1, room_id: roomId, instance_id: instanceId, visibility } as unknown as JsonValue },
      ]);
    await network(bridged.roomId, 'irc-bridge|libera', 'public');
    await network(both.roomId, 'irc-bridge|libera', 'public');
    await network(both.roomId, 'irc-bridge|oftc', 'public');
    await publish(both.roomId, 'public');
    const ids = async (query: Partial<Parameters<typeof publishedRooms>[1]>) => (await list(query)).chunk.map((r) => r.room_id).sort();
    expect(await ids({})).toEqual([both.roomId]);
    expect(await ids({ network: 'irc-bridge|libera' })).toEqual([bridged.roomId, both.roomId].sort());
    expect(await ids({ network: 'irc-bridge|oftc' })).toEqual([both.roomId]);
    expect(await ids({ network: 'other|libera' })).toEqual([]);
    expect(await ids({ allNetworks: true })).toEqual([bridged.roomId, both.roomId].sort());
    await network(both.roomId, 'irc-bridge|libera', 'private');
    expect(await ids({ network: 'irc-bridge|libera' })).toEqual([bridged.roomId]);
    expect(await ids({})).toEqual([both.roomId]);
  });
});
