import { RemoteHierarchy, remoteSpaceAnswer, REMOTE_HIERARCHY_FAILURE_TTL_MS, REMOTE_HIERARCHY_TTL_MS } from './remote-hierarchy';
import type { RemoteServers } from './remote';

const child = (stateKey: string, extra: Record<string, unknown> = {}) => ({
  type: 'm.space.child',
  state_key: stateKey,
  sender: '@a:remote',
  content: { via: ['remote'] },
  origin_server_ts: 5,
  ...extra,
});

describe('remoteSpaceAnswer: another server says what a space holds (untrusted)', () => {
  it('keeps the summary of the room asked for, its children events of the right shape, the summaries and the rooms kept from us', () => {
    const answer = remoteSpaceAnswer('!space:remote', {
      room: {
        room_id: '!space:remote',
        name: 'Space',
        num_joined_members: 3,
        world_readable: 'yes',
        join_rule: 'restricted',
        allowed_room_ids: ['!in:remote', 7, 'not a room'],
        room_type: 'm.space',
        extra: 'dropped',
        children_state: [child('!a:remote'), child('!b:remote', { type: 'm.room.name' }), child('!c:remote', { origin_server_ts: 'soon' }), 'junk'],
      },
      children: [{ room_id: '!a:remote', num_joined_members: -4, name: 42, topic: 'A' }, { room_id: 'nope' }, { room_id: '!space:remote' }],
      inaccessible_children: ['!secret:remote', 3],
    });
    expect(answer?.room).toEqual({
      chunk: { room_id: '!space:remote', name: 'Space', num_joined_members: 3, world_readable: false, guest_can_join: false, join_rule: 'restricted', room_type: 'm.space' },
      allowedRoomIds: ['!in:remote'],
      children: [child('!a:remote')],
    });
    expect([...(answer?.summaries ?? new Map()).entries()]).toEqual([
      ['!a:remote', { chunk: { room_id: '!a:remote', num_joined_members: 0, world_readable: false, guest_can_join: false, topic: 'A' }, allowedRoomIds: [] }],
    ]);
    expect([...(answer?.inaccessible ?? [])]).toEqual(['!secret:remote']);
  });

  it('is no answer when the summary is of another room, or missing', () => {
    expect(remoteSpaceAnswer('!space:remote', { room: { room_id: '!other:remote', children_state: [] } })).toBeUndefined();
    expect(remoteSpaceAnswer('!space:remote', { children: [] })).toBeUndefined();
  });
});

describe('RemoteHierarchy', () => {
  const body = { room: { room_id: '!space:remote', num_joined_members: 1, children_state: [] }, children: [], inaccessible_children: [] };

  it('asks the servers of via in turn (not itself), until one answers, and uses the answer again for a while', async () => {
    const asked: string[] = [];
    const remote: RemoteServers = {
      request: async (destination, request) => {
        asked.push(`${destination} ${request.path}`);
        if (destination === 'down') throw new Error('unreachable');
        return { status: 200, body };
      },
      verifyKey: async () => null,
    };
    let now = 0;
    const spaces = new RemoteHierarchy(remote, 'here', () => now);
    const answer = await spaces.space('!space:remote', ['here', 'down', 'up', 'later'], true);
    expect(answer?.room.chunk.room_id).toBe('!space:remote');
    expect(asked).toEqual(['down /_matrix/federation/v1/hierarchy/!space%3Aremote?suggested_only=true', 'up /_matrix/federation/v1/hierarchy/!space%3Aremote?suggested_only=true']);
    now = REMOTE_HIERARCHY_TTL_MS - 1;
    await spaces.space('!space:remote', ['up'], true);
    expect(asked).toHaveLength(2);
    // Another suggested_only is another question.
    await spaces.space('!space:remote', ['up'], false);
    expect(asked).toHaveLength(3);
    now = REMOTE_HIERARCHY_TTL_MS + 1;
    await spaces.space('!space:remote', ['up'], true);
    expect(asked).toHaveLength(4);
  });

  it('remembers that no server answered for a shorter while, and asks at most three servers', async () => {
    let asked = 0;
    const remote: RemoteServers = {
      request: async () => {
        asked++;
        return { status: 200, body: { room: 'nonsense' } };
      },
      verifyKey: async () => null,
    };
    let now = 0;
    const spaces = new RemoteHierarchy(remote, 'here', () => now);
    expect(await spaces.space('!space:remote', ['s1', 's2', 's3', 's4', 'not a server!'], false)).toBeUndefined();
    expect(asked).toBe(3);
    await spaces.space('!space:remote', ['s1'], false);
    expect(asked).toBe(3);
    now = REMOTE_HIERARCHY_FAILURE_TTL_MS + 1;
    await spaces.space('!space:remote', ['s1'], false);
    expect(asked).toBe(4);
  });
});
