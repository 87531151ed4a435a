import type { AppendNotifier } from './notifier';
import { sleep } from './sleep';
import type { AllSubscription, BatchHandler, RecordedEvent, SubscribeOptions, SubscriptionHandler } from './types';

/** What a subscription reads from: one page of `$all` after a position. */
export interface BatchSource {
  readBatch(after: bigint, limit: number): Promise<{ events: RecordedEvent[]; pending: boolean }>;
  notifier: AppendNotifier;
  /**
   * Longest sleep while idle before re-reading anyway (a safety net against a lost
   * wake-up, e.g. while a LISTEN connection reconnects); Infinity when wake-ups are certain.
   */
  idleRecheckMs: number;
  /** Called when the subscription starts waiting for wake-ups (e.g. to connect LISTEN). */
  ensureListening?(): Promise<void>;
}

const MIN_PENDING_DELAY_MS = 5;
const MAX_PENDING_DELAY_MS = 1000;

/**
 * Catch-up then live delivery of `$all` in batches. While caught up it sleeps until the
 * source's notifier wakes it; when newer events exist but are held back by an older
 * transaction still in flight (`pending`), it re-reads with exponential backoff until that
 * transaction ends. It never spins. With `minReadIntervalMs`, a read that follows one which
 * returned less than a full page starts no sooner than that long after it (see
 * `SubscribeOptions`).
 */
export function startBatchSubscription(
  source: BatchSource,
  fromPosition: bigint,
  handler: BatchHandler,
  batchSize: number,
  minReadIntervalMs = 0,
): AllSubscription {
  const abort = new AbortController();
  let position = fromPosition;
  let closed = false;

  const run = async () => {
    if (source.ensureListening) await source.ensureListening();
    let pendingDelay = 0;
    /** When the next read may start (0: at once). */
    let nextReadAt = 0;
    while (!closed) {
      const wait = nextReadAt - performance.now();
      if (wait > 0) {
        await sleep(wait, abort.signal);
        if (closed) break;
      }
      const seen = source.notifier.version;
      const startedAt = performance.now();
      const { events, pending } = await source.readBatch(position, batchSize);
      if (closed) break;
      nextReadAt = minReadIntervalMs > 0 && events.length < batchSize ? startedAt + minReadIntervalMs : 0;
      if (events.length > 0) {
        await handler(events);
        position = events[events.length - 1].position;
        pendingDelay = 0;
        continue;
      }
      if (pending) {
        pendingDelay = Math.min(Math.max(pendingDelay * 2, MIN_PENDING_DELAY_MS), MAX_PENDING_DELAY_MS);
        await source.notifier.wait(seen, pendingDelay, abort.signal);
      } else {
        pendingDelay = 0;
        await source.notifier.wait(seen, source.idleRecheckMs, abort.signal);
      }
    }
  };

  const done = run();
  // A failing handler ends the subscription; the rejection is observed through `done`.
  done.catch(() => undefined);

  const subscription: AllSubscription = {
    get position() {
      return position;
    },
    done,
    async close() {
      closed = true;
      abort.abort();
      await done.catch(() => undefined);
    },
    [Symbol.asyncIterator]() {
      throw new Error('a subscription started with a handler cannot be iterated');
    },
  };
  return subscription;
}

/**
 * A subscription consumed with `for await`: events are handed over one at a time, and the
 * reader does not fetch the next page until the consumer has taken the current one.
 */
export function startIteratedSubscription(
  start: (handler: BatchHandler) => AllSubscription,
): AllSubscription {
  const queue: RecordedEvent[] = [];
  let wakeConsumer: (() => void) | undefined;
  let wakeProducer: (() => void) | undefined;
  let lastDelivered: bigint | undefined;

  const inner = start(async (events) => {
    queue.push(...events);
    wakeConsumer?.();
    while (queue.length > 0) {
      await new Promise<void>((resolve) => {
        wakeProducer = resolve;
      });
    }
  });
  let finished = false;
  inner.done.then(
    () => {
      finished = true;
      wakeConsumer?.();
    },
    () => {
      finished = true;
      wakeConsumer?.();
    },
  );

  return {
    get position() {
      return lastDelivered ?? inner.position;
    },
    done: inner.done,
    async close() {
      finished = true;
      const release = wakeProducer;
      queue.length = 0;
      release?.();
      wakeConsumer?.();
      await inner.close();
    },
    [Symbol.asyncIterator](): AsyncIterator<RecordedEvent> {
      return {
        next: async () => {
          while (true) {
            const event = queue.shift();
            if (event) {
              lastDelivered = event.position;
              if (queue.length === 0) wakeProducer?.();
              return { value: event, done: false };
            }
            if (finished) {
              await inner.done;
              return { value: undefined, done: true };
            }
            await new Promise<void>((resolve) => {
              wakeConsumer = resolve;
            });
          }
        },
        return: async () => {
          await this.close();
          return { value: undefined, done: true };
        },
      };
    },
  };
}

/**
 * `subscribeToAll` of an adapter, in terms of its `subscribeToAllBatches`: with a handler, each
 * event of a batch is handed to it in order; without, the subscription is iterated (and
 * `track`ed by the adapter, which closes it with the store).
 */
export function subscribeEventByEvent(
  batches: (fromPosition: bigint, handler: BatchHandler, options: SubscribeOptions) => AllSubscription,
  track: (subscription: AllSubscription) => AllSubscription,
  fromPosition: bigint,
  handler: SubscriptionHandler | undefined,
  options: SubscribeOptions,
): AllSubscription {
  if (!handler) return track(startIteratedSubscription((batch) => batches(fromPosition, batch, options)));
  return batches(
    fromPosition,
    async (events) => {
      for (const event of events) await handler(event);
    },
    options,
  );
}
