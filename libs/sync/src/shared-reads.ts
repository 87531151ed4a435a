/**
 * Reads of the sync projection that several /sync requests need at the same time: when one
 * event wakes every member of a room, their incremental syncs read the same timeline page and
 * the same state of that room. A read is keyed by what it depends on, including the
 * projection position the request's snapshot is at (rows up to a checkpoint, redactions
 * included, are the same in every snapshot taken at that checkpoint), so a shared answer is
 * exactly the one the request would have read itself. Requests running at once share one
 * query; the cache is bounded and forgets the oldest reads first.
 */
const MAX_ENTRIES = 4096;

export class SharedReads {
  private readonly entries = new Map<string, Promise<unknown>>();

  constructor(private readonly maxEntries = MAX_ENTRIES) {}

  /** The answer of `read` for `key`, shared with every request that asks for the same key. */
  get<T>(key: string, read: () => Promise<T>): Promise<T> {
    const held = this.entries.get(key);
    if (held) return held as Promise<T>;
    const pending = read();
    this.entries.set(key, pending);
    if (this.entries.size > this.maxEntries) this.entries.delete(this.entries.keys().next().value as string);
    // A failed read is not kept: the next request reads again.
    pending.catch(() => {
      if (this.entries.get(key) === pending) this.entries.delete(key);
    });
    return pending;
  }

  get size(): number {
    return this.entries.size;
  }
}
