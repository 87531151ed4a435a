import { PresenceStore, REMOTE_TIMEOUT_MS } from './presence';
import { HELD_PRESENCE_MS, MAX_HELD_PRESENCE, MAX_REMOTE_STATUS_MSG, PresenceFederation, type PresenceEdu, type PresenceFederationPorts } from './presence-federation';

interface Sent {
  destinations: readonly string[];
  edu: PresenceEdu;
  key: string;
}

describe('PresenceFederation', () => {
  let now: number;
  let store: PresenceStore;
  let sent: Sent[];
  let warnings: string[];
  let ports: PresenceFederationPorts;
  let federation: PresenceFederation;
  const rooms: Record<string, string[]> = {
    '!r:a.org': ['@alice:a.org', '@bob:b.org'],
    '!s:a.org': ['@alice:a.org', '@carol:a.org', '@erin:c.org'],
  };

  beforeEach(() => {
    now = 1_000_000;
    store = new PresenceStore({ now: () => now, sweepIntervalMs: 0 });
    sent = [];
    warnings = [];
    const serversOf = (members: readonly string[]) => [...new Set(members.map((m) => m.slice(m.indexOf(':') + 1)))];
    ports = {
      serversSharingRoomsWith: async (userIds) => new Map(userIds.map((userId) => [userId, serversOf(Object.values(rooms).filter((members) => members.includes(userId)).flat())])),
      roomServers: async (roomId) => serversOf(rooms[roomId] ?? []),
      joinedMembers: async (roomId) => rooms[roomId] ?? [],
      joinedSomewhere: async (userIds) => new Set(userIds.filter((u) => Object.values(rooms).some((members) => members.includes(u)))),
      enqueue: (destinations, edu, key) => sent.push({ destinations, edu, key }),
      warn: (message) => warnings.push(message),
    };
    federation = new PresenceFederation(store, 'a.org', ports, () => now);
    federation.start();
  });

  afterEach(() => {
    federation.stop();
    store.close();
  });

  it('sends a local user’s change to the other servers sharing a room, one keyed EDU per user', async () => {
    store.setPresence('@alice:a.org', 'unavailable', 'lunch');
    await federation.idle();
    expect(sent).toEqual([
      {
        destinations: ['b.org', 'c.org'],
        key: 'm.presence @alice:a.org',
        edu: { edu_type: 'm.presence', content: { push: [{ user_id: '@alice:a.org', presence: 'unavailable', status_msg: 'lunch' }] } },
      },
    ]);
  });

  it('coalesces changes made together and sends the latest state', async () => {
    store.setPresence('@alice:a.org', 'online');
    store.setPresence('@alice:a.org', 'unavailable', 'later');
    await federation.idle();
    expect(sent).toHaveLength(1);
    expect(sent[0].edu.content.push[0]).toMatchObject({ presence: 'unavailable', status_msg: 'later' });
  });

  it('sends nothing for a user who shares no room with another server, nor for other servers’ users', async () => {
    store.setPresence('@dan:a.org', 'online');
    store.setRemote('@bob:b.org', { presence: 'online' });
    await federation.idle();
    expect(sent).toEqual([]);
  });

  it('on another server’s join, sends it the presence of our users in the room', async () => {
    store.setPresence('@alice:a.org', 'online', 'hi');
    store.setPresence('@carol:a.org', 'unavailable');
    await federation.idle();
    sent = [];
    await federation.joined('!s:a.org', '@erin:c.org');
    expect(sent.map((s) => [s.destinations, s.edu.content.push[0].user_id, s.edu.content.push[0].presence])).toEqual([
      [['c.org'], '@alice:a.org', 'online'],
      [['c.org'], '@carol:a.org', 'unavailable'],
    ]);
  });

  it('on our user’s join, sends that user’s presence to the room’s other servers', async () => {
    store.setPresence('@carol:a.org', 'online', 'new here');
    await federation.idle();
    sent = [];
    await federation.joined('!s:a.org', '@carol:a.org');
    expect(sent).toEqual([expect.objectContaining({ destinations: ['c.org'], key: 'm.presence @carol:a.org' })]);
    expect(sent[0].edu.content.push[0]).toMatchObject({ user_id: '@carol:a.org', presence: 'online', status_msg: 'new here' });
  });

  it('a join whose room cannot be read is reported, not thrown', async () => {
    ports.joinedMembers = async () => {
      throw new Error('database gone');
    };
    store.setPresence('@alice:a.org', 'online');
    await expect(federation.joined('!s:a.org', '@erin:c.org')).resolves.toBeUndefined();
    expect(warnings).toHaveLength(1);
  });

  it('takes an EDU’s entries about the origin’s own users who are joined somewhere here', async () => {
    await federation.receive('b.org', {
      push: [
        { user_id: '@bob:b.org', presence: 'online', last_active_ago: 5_000, status_msg: 'from b', currently_active: true },
        { user_id: '@erin:c.org', presence: 'online' },
        { user_id: '@alice:a.org', presence: 'offline' },
        { user_id: '@stranger:b.org', presence: 'online' },
      ],
    });
    expect(store.status('@bob:b.org')).toEqual({ presence: 'online', last_active_ago: 5_000, status_msg: 'from b', currently_active: true });
    expect(store.status('@erin:c.org')).toBeUndefined();
    expect(store.status('@stranger:b.org')).toBeUndefined();
    expect(store.status('@alice:a.org')).toBeUndefined();
  });

  it('holds an entry about a user who shares no room yet, and takes it when a join makes them share one', async () => {
    await federation.receive('d.org', { push: [{ user_id: '@dora:d.org', presence: 'online', status_msg: 'early', last_active_ago: 1_000 }] });
    await federation.receive('e.org', { push: [{ user_id: '@eve:e.org', presence: 'unavailable' }] });
    expect(store.status('@dora:d.org')).toBeUndefined();
    now += 2_000;
    // Our user joins a room d.org is in (the join stored after d.org's EDU came).
    rooms['!d:d.org'] = ['@dora:d.org', '@alice:a.org'];
    await federation.joined('!d:d.org', '@alice:a.org');
    expect(store.status('@dora:d.org')).toEqual({ presence: 'online', status_msg: 'early', last_active_ago: 3_000, currently_active: false });
    expect(store.status('@eve:e.org')).toBeUndefined();
    // Another server's user joins a room here.
    rooms['!s:a.org'].push('@eve:e.org');
    await federation.joined('!s:a.org', '@eve:e.org');
    expect(store.status('@eve:e.org')).toEqual({ presence: 'unavailable' });
    delete rooms['!d:d.org'];
    rooms['!s:a.org'].pop();
  });

  it('drops held entries after HELD_PRESENCE_MS, and holds at most MAX_HELD_PRESENCE', async () => {
    await federation.receive('d.org', { push: [{ user_id: '@late:d.org', presence: 'online' }] });
    now += HELD_PRESENCE_MS;
    rooms['!d:d.org'] = ['@late:d.org', '@alice:a.org'];
    await federation.joined('!d:d.org', '@alice:a.org');
    expect(store.status('@late:d.org')).toBeUndefined();
    await federation.receive('d.org', { push: [{ user_id: '@u0:d.org', presence: 'online' }] });
    const push = Array.from({ length: MAX_HELD_PRESENCE }, (_, i) => ({ user_id: `@u${i + 1}:d.org`, presence: 'online' }));
    await federation.receive('d.org', { push });
    await federation.joined('!d:d.org', '@alice:a.org');
    expect(store.status('@u0:d.org')).toBeUndefined();
    expect(store.status('@u1:d.org')?.presence).toBe('online');
    expect(store.status(`@u${MAX_HELD_PRESENCE}:d.org`)?.presence).toBe('online');
    delete rooms['!d:d.org'];
  });

  it('drops entries that do not hold, and cuts long status messages', async () => {
    for (const content of [null, 'x', { push: 'x' }, { push: [null, 1, { user_id: 'bob', presence: 'online' }, { user_id: '@bob:b.org', presence: 'busy' }, { user_id: '@bob:b.org' }] }]) {
      await federation.receive('b.org', content);
    }
    expect(store.status('@bob:b.org')).toBeUndefined();
    await federation.receive('b.org', { push: [{ user_id: '@bob:b.org', presence: 'unavailable', last_active_ago: -4, status_msg: 'x'.repeat(5_000), currently_active: 'yes' }] });
    expect(store.status('@bob:b.org')).toEqual({ presence: 'unavailable', status_msg: 'x'.repeat(MAX_REMOTE_STATUS_MSG) });
  });

  it('never lets another server change one of our users', async () => {
    store.setPresence('@alice:a.org', 'online', 'mine');
    await federation.receive('a.org', { push: [{ user_id: '@alice:a.org', presence: 'offline' }] });
    store.setRemote('@alice:a.org', { presence: 'offline' });
    expect(store.status('@alice:a.org')).toMatchObject({ presence: 'online', status_msg: 'mine' });
  });
});

describe('PresenceStore, users of other servers', () => {
  it('keeps what their server says, reports it, is not saved, and times out to offline after REMOTE_TIMEOUT_MS', () => {
    let now = 5_000_000;
    const store = new PresenceStore({ now: () => now, sweepIntervalMs: 0 });
    const changes: string[] = [];
    store.onChange((userId) => changes.push(userId));
    store.setRemote('@bob:b.org', { presence: 'online', lastActiveAgo: 120_000, currentlyActive: true });
    expect(store.status('@bob:b.org')).toEqual({ presence: 'online', last_active_ago: 120_000, currently_active: true });
    expect(store.isRemote('@bob:b.org')).toBe(true);
    expect(store.saved('@bob:b.org')).toBeUndefined();
    // The same state again, the last active time hardly moved: clients are not told again.
    store.setRemote('@bob:b.org', { presence: 'online', lastActiveAgo: 119_000, currentlyActive: true });
    expect(changes).toEqual(['@bob:b.org']);
    // The last active time moved by a minute or more: they are.
    store.setRemote('@bob:b.org', { presence: 'online', lastActiveAgo: 0, currentlyActive: true });
    expect(changes).toEqual(['@bob:b.org', '@bob:b.org']);
    // The local timeouts do not apply (no sync of theirs is ever seen here) ...
    now += 10 * 60_000;
    store.sweep();
    expect(store.status('@bob:b.org')?.presence).toBe('online');
    // ... but silence from their server does.
    now += REMOTE_TIMEOUT_MS;
    store.sweep();
    expect(store.status('@bob:b.org')?.presence).toBe('offline');
    expect(changes).toHaveLength(3);
    store.close();
  });
});
