/** The bus of a single process: every message goes to this process's subscribers, in order. */
import { randomUUID } from 'node:crypto';
import { Subject, concatMap, type Subscription } from 'rxjs';
import type { Bus, BusHandler, BusMessage } from './bus';

export class InProcessBus implements Bus {
  readonly processId = randomUUID();
  readonly kind = 'in-process';
  private readonly topics = new Map<string, Subject<BusMessage>>();
  private readonly subscriptions = new Set<Subscription>();

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
  consume<T = unknown>(topic: string, _group: string, handler: BusHandler<T>): Promise<() => Promise<void>> {
    return this.subscribe(topic, handler);
  }

  async close(): Promise<void> {
    for (const subscription of this.subscriptions) subscription.unsubscribe();
    this.subscriptions.clear();
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
