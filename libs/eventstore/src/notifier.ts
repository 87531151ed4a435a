/**
 * Wakes readers when new events may have become visible. A reader notes `version` before
 * it reads; if it finds nothing new it waits for the version to move past that value, so a
 * notification that arrives between its read and its wait is never lost.
 */
export class AppendNotifier {
  private current = 0;
  private waiters = new Set<() => void>();

  get version(): number {
    return this.current;
  }

  notify(): void {
    this.current++;
    const waiters = [...this.waiters];
    this.waiters.clear();
    for (const wake of waiters) wake();
  }

  /**
   * Resolves when the version differs from `seen`, after `timeoutMs` (when finite) or when
   * `signal` aborts, whichever comes first.
   */
  wait(seen: number, timeoutMs: number, signal?: AbortSignal): Promise<void> {
    if (this.current !== seen || signal?.aborted) return Promise.resolve();
    return new Promise<void>((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const done = () => {
        if (timer) clearTimeout(timer);
        this.waiters.delete(done);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      this.waiters.add(done);
      signal?.addEventListener('abort', done, { once: true });
      if (Number.isFinite(timeoutMs)) timer = setTimeout(done, timeoutMs);
    });
  }

  /** Number of readers currently waiting (used to show that idle readers sleep). */
  get waiting(): number {
    return this.waiters.size;
  }
}
