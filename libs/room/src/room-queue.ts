/**
 * One writer per room inside this process: tasks for the same room run one after the other
 * (a promise chain keyed by room id); tasks for different rooms run concurrently.
 */
export class RoomQueue {
  private readonly tails = new Map<string, Promise<unknown>>();

  /** Runs `task` after every task queued earlier for `key` has settled. */
  run<T>(key: string, task: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    const result = previous.then(task, task);
    const tail = result.then(
      () => undefined,
      () => undefined,
    );
    this.tails.set(key, tail);
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return result;
  }

  /** Number of keys with a task queued or running. */
  get activeKeys(): number {
    return this.tails.size;
  }
}
