/** The bus of a single process: every message goes to this process's subscribers, in order. */
import { randomUUID } from 'node:crypto';
import { Subject, concatMap, type Subscription } from 'rxjs';
import type { Bus, BusHandler, BusMessage } from './bus';

export class InProcessBus implements Bus {
  readonly processId = randomUUID();
  readonly kind = 'in-process';
  private readonly topics = new Map<string, Subject<BusMessage>>();
  private readonly subscriptions = new Set<Subscription>();
  /** `topic` + group of the consumptions running. */
  private readonly consuming = new Map<string, number>();

  constructor(private readonly onHandlerError: (topic: string, error: unknown) => void = () => undefined) {}

  async publish(topic: string, key: string, value: unknown): Promise<void> {
    // A copy through JSON, as a remote bus would deliver it.
    this.topic(topic).next({ key, value: JSON.parse(JSON.stringify(value)) as unknown, origin: this.processId });
  }

  async subscribe<T = unknown>(topic: string, handler: BusHandler<T>): Promise<() => Promise<void>> {
    const subscription = this.topic(topic)
      .pipe(
        concatMap(async (message) => {
          try {
            await handler(message as BusMessage<T>);
          } catch (error) {
            this.onHandlerError(topic, error);
          }
        }),
      )
      .subscribe();
    this.subscriptions.add(subscription);
    return async () => {
      subscription.unsubscribe();
      this.subscriptions.delete(subscription);
    };
  }

  /** One process: it consumes every message itself. */
  async consume<T = unknown>(topic: string, group: string, handler: BusHandler<T>): Promise<() => Promise<void>> {
    const stop = await this.subscribe(topic, handler);
    const name = `${topic}\u0000${group}`;
    this.consuming.set(name, (this.consuming.get(name) ?? 0) + 1);
    let stopped = false;
    return async () => {
      if (stopped) return;
      stopped = true;
      const left = (this.consuming.get(name) ?? 1) - 1;
      if (left > 0) this.consuming.set(name, left);
      else this.consuming.delete(name);
      await stop();
    };
  }

  /** Every key, while this process consumes the topic as the group. */
  holds(topic: string, group: string, _key: string): boolean {
    return this.consuming.has(`${topic}\u0000${group}`);
  }

  async close(): Promise<void> {
    for (const subscription of this.subscriptions) subscription.unsubscribe();
    this.subscriptions.clear();
    this.consuming.clear();
    for (const subject of this.topics.values()) subject.complete();
    this.topics.clear();
  }

  private topic(name: string): Subject<BusMessage> {
    let subject = this.topics.get(name);
    if (!subject) {
      subject = new Subject<BusMessage>();
      this.topics.set(name, subject);
    }
    return subject;
  }
}
