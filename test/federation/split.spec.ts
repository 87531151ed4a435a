/**
 * A network split between two instances heals: while B refuses A (its deny list), both sides
 * change the room's state and talk; once B accepts A again, the queued transactions flow both
 * ways, each side resolves the fork, and both agree on the room's state.
 */
import { Federation, TestUser, type FederatedInstance } from './support/instances';

/** Quick retries, so the split heals within the test. */
const RETRIES = { HS_FEDERATION__DESTINATION_MIN_RETRY_INTERVAL_MS: '100', HS_FEDERATION__DESTINATION_MAX_RETRY_INTERVAL_MS: '1000' };

async function waitFor(check: () => Promise<boolean>, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`not within ${timeoutMs} ms: ${what}`);
}

/** The room's current state as sorted (type, state_key, event_id) lines. */
async function stateOf(user: TestUser, roomId: string): Promise<string[]> {
  const answer = await user.call('GET', `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/state`);
  if (answer.status !== 200) return [`status ${answer.status}`];
  const events = answer.body as unknown as { type: string; state_key: string; event_id: string }[];
  return events.map((e) => `${e.type}|${e.state_key}|${e.event_id}`).sort();
}

describe('a network split between two instances', () => {
  const federation = new Federation();
  let a: FederatedInstance;
  let b: FederatedInstance;
  let alice: TestUser;
  let bob: TestUser;

  beforeAll(async () => {
    await federation.prepare(2);
    a = await federation.start(0, RETRIES, true);
    b = await federation.start(1, RETRIES, true);
    alice = await TestUser.register(a, 'alice');
    bob = await TestUser.register(b, 'bob');
  }, 120_000);

  afterAll(async () => {
    await Promise.allSettled([a, b].filter(Boolean).map((instance) => instance.server.close()));
    federation.dispose();
  }, 120_000);

  it('heals with state resolution: both sides agree on the room state and see every message', async () => {
    const roomId = await alice.createRoom({ preset: 'public_chat', name: 'Before the split' });
    await bob.join(roomId, [a.name]);
    await alice.ok('PUT', `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/state/m.room.power_levels/`, {
      users: { [alice.userId]: 100, [bob.userId]: 50 },
      state_default: 50,
    });
    await waitFor(async () => ((await bob.state(roomId, 'm.room.power_levels')).body.users as Record<string, number> | undefined)?.[bob.userId] === 50, 'B has the power levels');

    // The split: B refuses A (and sends it nothing).
    await b.server.close();
    const aHost = a.name.split(':')[0];
    b = await federation.start(1, { ...RETRIES, HS_FEDERATION__DENIED_SERVERS: JSON.stringify([aHost]) }, true);
    bob.moveTo(b);
    await alice.ok('PUT', `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/state/m.room.topic/`, { topic: 'set on A during the split' });
    await alice.send(roomId, 'A during the split');
    await bob.ok('PUT', `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/state/m.room.name/`, { name: 'Named on B during the split' });
    await bob.send(roomId, 'B during the split');
    // Neither side has the other's changes.
    expect((await alice.state(roomId, 'm.room.name')).body.name).toBe('Before the split');
    expect((await bob.state(roomId, 'm.room.topic')).status).toBe(404);

    // The split heals.
    await b.server.close();
    b = await federation.start(1, RETRIES, true);
    bob.moveTo(b);
    await waitFor(async () => (await alice.state(roomId, 'm.room.name')).body.name === 'Named on B during the split', "A has B's name");
    await bob.send(roomId, 'B after the split');
    await waitFor(async () => (await bob.state(roomId, 'm.room.topic')).body.topic === 'set on A during the split', "B has A's topic");
    await alice.send(roomId, 'A after the split');
    await bob.waitForMessage(roomId, 'A after the split');
    await alice.waitForMessage(roomId, 'B after the split');
    await waitFor(async () => JSON.stringify(await stateOf(alice, roomId)) === JSON.stringify(await stateOf(bob, roomId)), 'both sides agree on the state');
    const agreed = await stateOf(alice, roomId);
    expect(agreed.some((line) => line.startsWith('m.room.topic|'))).toBe(true);
    expect(agreed.some((line) => line.startsWith('m.room.name|'))).toBe(true);
    // Messages of both sides during the split reached the other side.
    const messages = async (user: TestUser) => {
      const answer = await user.ok('GET', `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/messages?dir=b&limit=50`);
      return (answer.chunk as { content: { body?: string } }[]).map((e) => e.content.body).filter((body): body is string => body !== undefined);
    };
    for (const user of [alice, bob]) {
      const seen = await messages(user);
      expect(seen).toEqual(expect.arrayContaining(['A during the split', 'B during the split', 'A after the split', 'B after the split']));
    }
  }, 180_000);
});
