import { openTestDatabase, type TestDatabase } from '@hs/persistence';
import { PresenceStore } from './presence';
import { PresencePersistence, loadPresence } from './presence-persistence';

let t: TestDatabase;

beforeAll(async () => {
  t = await openTestDatabase('hs_presence', 2);
}, 60_000);
afterAll(async () => {
  await t?.close();
});

describe('PresencePersistence', () => {
  it('saves each user\'s last presence and gives it back to a restarted store', async () => {
    const clock = { now: 1_000_000 };
    const store = new PresenceStore({ now: () => clock.now, sweepIntervalMs: 0 });
    const persistence = new PresencePersistence(t.db.pool, store, (error) => {
      throw error;
    }).start();
    store.setPresence('@alice:x', 'online', 'first');
    store.setPresence('@alice:x', 'unavailable', 'in a meeting');
    store.setPresence('@bob:x', 'online');
    clock.now += 5000;
    store.setPresence('@bob:x', 'offline');
    await persistence.close();
    // A change after close is not written.
    store.setPresence('@carol:x', 'online');
    await persistence.idle();
    const saved = (await loadPresence(t.db.pool)).sort((a, b) => a.userId.localeCompare(b.userId));
    expect(saved).toEqual([
      { userId: '@alice:x', state: 'unavailable', statusMsg: 'in a meeting', lastActiveTs: 1_000_000 },
      { userId: '@bob:x', state: 'offline', statusMsg: null, lastActiveTs: 1_000_000 },
    ]);
    const restarted = new PresenceStore({ now: () => clock.now, sweepIntervalMs: 0 });
    restarted.restore(saved);
    expect(restarted.status('@alice:x')).toEqual({ presence: 'unavailable', last_active_ago: 5000, status_msg: 'in a meeting' });
    // Its counter starts at its clock, above what the previous store issued before that time.
    expect(restarted.counter()).toBe(clock.now);
    store.close();
    restarted.close();
  });
});
