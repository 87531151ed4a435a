/**
 * Answers requests that arrive together with one run: requests are collected until the event
 * loop turns (and the run in flight, if any, has ended), then `run` answers all of them at
 * once, one answer per request in order. When one to-device message wakes a thousand /sync
 * long-polls, their reads become a few statements instead of a few thousand.
 *
 * A request never joins a run that started before it arrived, so a run's reads see every write
 * acknowledged before any of its requests was made. A failed run fails each of its requests.
 */
export class Batcher<K, R> {
  private queue: { key: K; resolve: (value: R) => void; reject: (error: unknown) => void }[] = [];
  private running = false;
  private scheduled = false;

  constructor(
    private readonly run: (keys: readonly K[]) => Promise<readonly R[]>,
    private readonly maxBatch = 1000,
  ) {}

  load(key: K): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.queue.push({ key, resolve, reject });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.running || this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      void this.next();
    });
  }

  private async next(): Promise<void> {
    if (this.running || this.queue.length === 0) return;
    const batch = this.queue.splice(0, this.maxBatch);
    this.running = true;
    try {
      const answers = await this.run(batch.map((request) => request.key));
      batch.forEach((request, i) => request.resolve(answers[i]));
    } catch (error) {
      for (const request of batch) request.reject(error);
    } finally {
      this.running = false;
      if (this.queue.length > 0) this.schedule();
    }
  }
}
