import { TYPING_REANNOUNCE_MS, TypingStore, type TypingUpdate } from './typing';

describe('TypingStore', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('counts changes per room and reports them since a counter', () => {
    const store = new TypingStore();
    const seen: string[] = [];
    store.onChange((room, counter) => seen.push(`${room}@${counter}`));
    store.setTyping('!a:x', '@u:x', true, 5000);
    store.setTyping('!b:x', '@v:x', true, 5000);
    expect(store.counter()).toBe(2);
    expect(store.typingSince('!a:x', 0)).toEqual(['@u:x']);
    expect(store.typingSince('!a:x', 1)).toBeUndefined();
    expect(store.typingSince('!b:x', 1)).toEqual(['@v:x']);
    // Extending a running notification changes nothing clients see.
    store.setTyping('!a:x', '@u:x', true, 5000);
    expect(store.counter()).toBe(2);
    store.setTyping('!a:x', '@u:x', false);
    expect(store.typingSince('!a:x', 2)).toEqual([]);
    // Stopping a user who is not typing changes nothing.
    store.setTyping('!a:x', '@w:x', false);
    expect(seen).toEqual(['!a:x@1', '!b:x@2', '!a:x@3']);
    store.close();
  });

  it('ends a notification when its timeout passes, capped at the maximum', () => {
    const store = new TypingStore();
    store.setTyping('!a:x', '@u:x', true, 1000);
    store.setTyping('!a:x', '@v:x', true, 10_000_000);
    jest.advanceTimersByTime(999);
    expect(store.typing('!a:x')).toEqual(['@u:x', '@v:x']);
    jest.advanceTimersByTime(2);
    expect(store.typing('!a:x')).toEqual(['@v:x']);
    jest.advanceTimersByTime(120_000);
    expect(store.typing('!a:x')).toEqual([]);
    store.close();
  });

  it('treats a token from before a restart (counter above ours) as stale', () => {
    const store = new TypingStore();
    store.setTyping('!a:x', '@u:x', true, 1000);
    expect(store.typingSince('!a:x', 50)).toEqual(['@u:x']);
    store.close();
  });

  it('reports starts, stops, timeouts and renewals at most every TYPING_REANNOUNCE_MS as updates', () => {
    let now = 1_000_000;
    const store = new TypingStore(() => now);
    const updates: TypingUpdate[] = [];
    const subscription = store.updates.subscribe((update) => updates.push(update));
    store.setTyping('!a:x', '@u:x', true, 60_000);
    now += 1_000;
    jest.advanceTimersByTime(1_000);
    store.setTyping('!a:x', '@u:x', true, 60_000);
    now += TYPING_REANNOUNCE_MS;
    jest.advanceTimersByTime(TYPING_REANNOUNCE_MS);
    store.setTyping('!a:x', '@u:x', true, 1_000);
    jest.advanceTimersByTime(1_000);
    store.setTyping('!a:x', '@v:x', true, 5_000);
    store.setTyping('!a:x', '@v:x', false);
    store.setTyping('!a:x', '@w:x', false);
    expect(updates).toEqual([
      { roomId: '!a:x', userId: '@u:x', typing: true, timeoutMs: 60_000 },
      { roomId: '!a:x', userId: '@u:x', typing: true, timeoutMs: 1_000 },
      { roomId: '!a:x', userId: '@u:x', typing: false },
      { roomId: '!a:x', userId: '@v:x', typing: true, timeoutMs: 5_000 },
      { roomId: '!a:x', userId: '@v:x', typing: false },
    ]);
    subscription.unsubscribe();
    store.close();
  });

  it('marks the updates of notifications another process relayed, their timeout included', () => {
    const store = new TypingStore();
    const updates: TypingUpdate[] = [];
    const subscription = store.updates.subscribe((update) => updates.push(update));
    store.setTyping('!a:x', '@u:x', true, 2_000, true);
    store.setTyping('!a:x', '@v:x', true, 5_000, true);
    store.setTyping('!a:x', '@v:x', false, undefined, true);
    jest.advanceTimersByTime(2_000);
    expect(store.typing('!a:x')).toEqual([]);
    expect(updates).toEqual([
      { roomId: '!a:x', userId: '@u:x', typing: true, timeoutMs: 2_000, relayed: true },
      { roomId: '!a:x', userId: '@v:x', typing: true, timeoutMs: 5_000, relayed: true },
      { roomId: '!a:x', userId: '@v:x', typing: false, relayed: true },
      { roomId: '!a:x', userId: '@u:x', typing: false, relayed: true },
    ]);
    subscription.unsubscribe();
    store.close();
  });
});
