import { ACTIVE_GRANULARITY_MS, IDLE_TIMEOUT_MS, PresenceStore, RELAY_LEASE_MS, RELAY_REFRESH_MS, SYNC_TIMEOUT_MS } from './presence';

const alice = '@alice:x';
const bob = '@bob:x';

/** A store on a clock the test moves; the timeouts apply when the test sweeps. */
function storeAt(start = 1_000_000) {
  const clock = { now: start };
  const store = new PresenceStore({ now: () => clock.now, sweepIntervalMs: 0 });
  const seen: string[] = [];
  store.onChange((userId) => seen.push(`${userId} ${store.status(userId)?.presence}`));
  const advance = (ms: number) => {
    clock.now += ms;
    store.sweep();
  };
  return { store, clock, seen, advance };
}

describe('PresenceStore', () => {
  it('applies a PUT before returning: the next read sees it, with a higher counter', () => {
    const { store, seen } = storeAt();
    expect(store.status(alice)).toBeUndefined();
    const before = store.counter();
    store.setPresence(alice, 'online', 'busy baking');
    expect(store.status(alice)).toEqual({ presence: 'online', last_active_ago: 0, status_msg: 'busy baking', currently_active: true });
    expect(store.counter()).toBeGreaterThan(before);
    expect(store.userCounter(alice)).toBe(store.counter());
    // The same state again changes nothing clients see: no change reported.
    store.setPresence(alice, 'online', 'busy baking');
    expect(seen).toEqual([`${alice} online`]);
    // A PUT without a status message clears it.
    store.setPresence(alice, 'unavailable');
    expect(store.status(alice)).toEqual({ presence: 'unavailable', last_active_ago: 0 });
    store.close();
  });

  it('reports changes since a counter; an unknown counter (or none) gives everyone', () => {
    const { store } = storeAt();
    store.setPresence(alice, 'online');
    const mark = store.counter();
    store.setPresence(bob, 'unavailable', 'away');
    expect([...store.changesSince(mark).changes.keys()]).toEqual([bob]);
    expect(store.changesSince(mark).counter).toBe(store.counter());
    expect([...store.changesSince(undefined).changes.keys()]).toEqual([alice, bob]);
    expect([...store.changesSince(store.counter() + 1).changes.keys()]).toEqual([alice, bob]);
    expect(store.changesSince(store.counter()).changes.size).toBe(0);
    store.close();
  });

  it('counters follow the clock, so a restarted store issues higher ones than before', () => {
    const { store, clock } = storeAt(5_000);
    store.setPresence(alice, 'online');
    store.setPresence(alice, 'offline');
    expect(store.counter()).toBe(5_001);
    const restarted = new PresenceStore({ now: () => clock.now + 10, sweepIntervalMs: 0 });
    restarted.restore([{ userId: alice, state: 'offline', statusMsg: 'gone fishing', lastActiveTs: 5_000 }]);
    expect(restarted.status(alice)).toEqual({ presence: 'offline', last_active_ago: 10, status_msg: 'gone fishing' });
    restarted.setPresence(bob, 'online');
    expect(restarted.counter()).toBeGreaterThan(store.counter());
    expect(restarted.saved(alice)).toEqual({ userId: alice, state: 'offline', statusMsg: 'gone fishing', lastActiveTs: 5_000 });
    restarted.close();
    store.close();
  });

  it('online: currently_active ends after a minute without activity, unavailable after five', () => {
    const { store, seen, advance } = storeAt();
    const done = store.syncing(alice, 'A');
    expect(store.status(alice)).toMatchObject({ presence: 'online', currently_active: true });
    advance(ACTIVE_GRANULARITY_MS - 1);
    expect(store.status(alice)?.currently_active).toBe(true);
    const counter = store.counter();
    advance(1);
    // Clients are told (a change), so that they stop taking the user as active.
    expect(store.counter()).toBeGreaterThan(counter);
    expect(store.status(alice)).toEqual({ presence: 'online', last_active_ago: ACTIVE_GRANULARITY_MS, currently_active: false });
    advance(IDLE_TIMEOUT_MS - ACTIVE_GRANULARITY_MS);
    expect(store.status(alice)?.presence).toBe('unavailable');
    // Syncing is not activity: still unavailable; sending something is.
    done();
    store.syncing(alice, 'A')();
    expect(store.status(alice)?.presence).toBe('unavailable');
    store.active(alice);
    expect(store.status(alice)).toEqual({ presence: 'online', last_active_ago: 0, currently_active: true });
    expect(seen).toEqual([`${alice} online`, `${alice} online`, `${alice} unavailable`, `${alice} online`]);
    store.close();
  });

  it('activity while currently active changes nothing clients see; afterwards it does', () => {
    const { store, advance } = storeAt();
    store.active(alice);
    const counter = store.counter();
    advance(1000);
    store.active(alice);
    expect(store.counter()).toBe(counter);
    expect(store.status(alice)?.last_active_ago).toBe(0);
    advance(ACTIVE_GRANULARITY_MS);
    store.active(alice);
    expect(store.counter()).toBeGreaterThan(counter);
    store.close();
  });

  it('offline once no sync runs or ended within the sync timeout and no activity: status message kept', () => {
    const { store, advance } = storeAt();
    store.setPresence(alice, 'online', 'lunch');
    const done = store.syncing(alice, 'A');
    advance(SYNC_TIMEOUT_MS * 3);
    // A sync in progress keeps the user connected.
    expect(store.status(alice)?.presence).toBe('online');
    done();
    advance(SYNC_TIMEOUT_MS - 1);
    expect(store.status(alice)?.presence).toBe('online');
    advance(1);
    expect(store.status(alice)).toMatchObject({ presence: 'offline', status_msg: 'lunch' });
    // Syncing again brings the user online.
    store.syncing(alice, 'A')();
    expect(store.status(alice)?.presence).toBe('online');
    store.close();
  });

  it('set_presence=offline marks nothing: an explicit online stays online', () => {
    const { store, seen } = storeAt();
    store.syncing(alice, 'A', 'offline')();
    expect(store.status(alice)).toBeUndefined();
    store.setPresence(alice, 'online');
    store.syncing(alice, 'B', 'offline')();
    expect(store.status(alice)?.presence).toBe('online');
    expect(seen).toEqual([`${alice} online`]);
    store.close();
  });

  it('set_presence=unavailable: idle unless set online by PUT or online on another device', () => {
    const { store } = storeAt();
    store.syncing(alice, 'A', 'unavailable')();
    expect(store.status(alice)?.presence).toBe('unavailable');
    // The device comes back: online again.
    store.syncing(alice, 'A', 'online')();
    expect(store.status(alice)?.presence).toBe('online');
    // Another device still syncing as online keeps the user online.
    store.syncing(alice, 'B', 'unavailable')();
    expect(store.status(alice)?.presence).toBe('online');
    store.syncing(bob, 'B', 'online')();
    store.syncing(bob, 'B', 'unavailable')();
    expect(store.status(bob)?.presence).toBe('unavailable');
    store.setPresence(bob, 'online');
    store.syncing(bob, 'B', 'unavailable')();
    expect(store.status(bob)?.presence).toBe('online');
    // An explicit unavailable is not undone by syncing as online.
    store.setPresence(bob, 'unavailable');
    store.syncing(bob, 'B', 'online')();
    expect(store.status(bob)?.presence).toBe('unavailable');
    store.close();
  });

  it('keeps a relayed presence while its process tells it again, and takes the user offline when it stops', () => {
    const { store, clock, seen, advance } = storeAt();
    const relayed = { state: 'online' as const, statusMsg: 'elsewhere', lastActiveTs: clock.now, currentlyActive: true };
    store.setRelayed(alice, relayed);
    expect(seen).toEqual([`${alice} online`]);
    expect(store.computedHere()).toEqual([]);
    // Told again with nothing new: no change for clients, the lease starts again.
    for (let i = 0; i < 5; i++) {
      advance(RELAY_REFRESH_MS);
      store.setRelayed(alice, relayed);
    }
    expect(seen).toEqual([`${alice} online`]);
    expect(store.status(alice)?.presence).toBe('online');
    // Its process went away: no word for the lease, and the user is offline here, computed here from now on.
    advance(RELAY_LEASE_MS - 1);
    expect(store.status(alice)?.presence).toBe('online');
    advance(1);
    expect(store.status(alice)).toMatchObject({ presence: 'offline', status_msg: 'elsewhere' });
    expect(seen).toEqual([`${alice} online`, `${alice} offline`]);
    expect(store.isRelayed(alice)).toBe(false);
    store.close();
  });

  it('names the users whose presence it computes and who are not offline', () => {
    const { store, clock } = storeAt();
    store.setPresence(alice, 'online');
    store.setPresence(bob, 'offline');
    store.setRelayed('@carol:x', { state: 'online', lastActiveTs: clock.now, currentlyActive: true });
    store.setRemote('@dan:y', { presence: 'online' });
    expect(store.computedHere()).toEqual([alice]);
    store.close();
  });

  it('turned off: everything is accepted and nothing changes', () => {
    const store = new PresenceStore({ enabled: false });
    const seen: string[] = [];
    store.onChange((userId) => seen.push(userId));
    store.setPresence(alice, 'online', 'hi');
    store.active(alice);
    store.syncing(alice, 'A')();
    store.sweep();
    expect(store.status(alice)).toBeUndefined();
    expect(store.counter()).toBe(0);
    expect(seen).toEqual([]);
    store.close();
  });
});
