/**
 * The bus on Apache Kafka (kafkajs). Every process reads every message of a topic: each
 * subscription is a consumer group of its own (named after the process), which starts at the
 * end of the topic as it stood when `subscribe` was called and commits no offsets (a process
 * that starts again has a new id and reads the store for what it missed, not the topic).
 * Topics are created when missing, with the configured partition count; messages of one key
 * go to one partition, so they arrive in order.
 */
import { randomUUID } from 'node:crypto';
import { Kafka, Partitioners, logLevel as KafkaLogLevel, type Admin, type Consumer, type ConsumerRunConfig, type KafkaMessage, type LogEntry, type PartitionMetadata, type Producer } from 'kafkajs';
import type { Bus, BusHandler } from './bus';

export type BusLog = (level: 'info' | 'warn' | 'error', message: string, fields: Record<string, unknown>) => void;

export interface KafkaBusOptions {
  /** `host:port` of one or more brokers. */
  brokers: readonly string[];
  /** Prefix of every topic and consumer group name (several homeservers may share a cluster). */
  topicPrefix: string;
  /** Partitions of a topic this bus creates. */
  partitions: number;
  /** Replication factor of a topic this bus creates; -1 takes the broker's default. */
  replicationFactor?: number;
  /** The client id the brokers see (default `homeserver`). */
  clientId?: string;
  /** Longest wait for a broker connection, in milliseconds (default 10000). */
  connectionTimeoutMs?: number;
  /** How long a consuming process may stay silent before its share moves to the others (default 6000 ms). */
  sessionTimeoutMs?: number;
  log?: BusLog;
}

const HEADER_ORIGIN = 'origin';

function kafkaLogger(log: BusLog | undefined): () => (entry: LogEntry) => void {
  return () => (entry) => {
    if (!log) return;
    // kafkajs reports at its error level what it retries by itself (a coordinator still
    // loading, a broker that went away): a warning here. What it gives up on reaches the caller.
    const level = entry.level <= KafkaLogLevel.WARN ? 'warn' : 'info';
    const { message, ...fields } = entry.log;
    log(level, `kafka: ${message}`, { ...fields, namespace: entry.namespace });
  };
}

export class KafkaBus implements Bus {
  readonly processId = randomUUID();
  readonly kind = 'kafka';
  private readonly consumers = new Set<Consumer>();
  private readonly topics = new Map<string, Promise<void>>();
  /** The partitions each consumption holds (by topic and group), as of its group's last assignment. */
  private readonly holdings = new Map<string, { partitions: PartitionMetadata[]; held: ReadonlySet<number> }>();
  /** The producer's own choice of partition for a key (kafkajs's default partitioner). */
  private readonly partitioner = Partitioners.DefaultPartitioner();
  private closed = false;

  private constructor(
    private readonly kafka: Kafka,
    private readonly admin: Admin,
    private readonly producer: Producer,
    private readonly options: KafkaBusOptions,
  ) {}

  /** Connects to the brokers (an admin client and a producer); throws when none answers. */
  static async connect(options: KafkaBusOptions): Promise<KafkaBus> {
    const kafka = new Kafka({
      clientId: options.clientId ?? 'homeserver',
      brokers: [...options.brokers],
      connectionTimeout: options.connectionTimeoutMs ?? 10_000,
      logLevel: KafkaLogLevel.WARN,
      logCreator: kafkaLogger(options.log),
    });
    const admin = kafka.admin();
    const producer = kafka.producer({ allowAutoTopicCreation: false });
    try {
      await admin.connect();
      await producer.connect();
    } catch (error) {
      await Promise.allSettled([admin.disconnect(), producer.disconnect()]);
      throw error;
    }
    return new KafkaBus(kafka, admin, producer, options);
  }

  async publish(topic: string, key: string, value: unknown): Promise<void> {
    const name = await this.ensureTopic(topic);
    await this.producer.send({
      topic: name,
      acks: -1,
      messages: [{ key, value: JSON.stringify(value), headers: { [HEADER_ORIGIN]: this.processId } }],
    });
  }

  async subscribe<T = unknown>(topic: string, handler: BusHandler<T>): Promise<() => Promise<void>> {
    const name = await this.ensureTopic(topic);
    // Where the topic ends now: the subscription delivers everything from here on.
    const start = await this.admin.fetchTopicOffsets(name);
    const consumer = this.kafka.consumer({
      groupId: `${this.options.topicPrefix}${this.processId}.${topic}`,
      // A fetch returns as soon as data arrives: a long wait costs no latency, and an idle
      // consumer asks the broker less often (docs/performance.md, "The broker's fetches").
      maxWaitTimeInMs: 2000,
      allowAutoTopicCreation: false,
    });
    return this.run(consumer, name, false, { autoCommit: false, eachMessage: ({ message }) => this.deliver(topic, handler, message) }, () => {
      for (const { partition, offset } of start) consumer.seek({ topic: name, partition, offset });
    });
  }

  async consume<T = unknown>(topic: string, group: string, handler: BusHandler<T>): Promise<() => Promise<void>> {
    const name = await this.ensureTopic(topic);
    const sessionTimeout = this.options.sessionTimeoutMs ?? 6000;
    const consumer = this.kafka.consumer({
      groupId: `${this.options.topicPrefix}${group}`,
      // Heartbeats go between fetches: the wait stays well under the session timeout.
      maxWaitTimeInMs: 1000,
      allowAutoTopicCreation: false,
      // A member that died is noticed within the session timeout; its partitions then move.
      sessionTimeout,
      heartbeatInterval: Math.max(100, Math.floor(sessionTimeout / 6)),
      rebalanceTimeout: 10_000,
    });
    // Which share this process holds, after each rebalance: for `holds`, and for the operator.
    const holding = `${topic}\u0000${group}`;
    const metadata = await this.admin.fetchTopicMetadata({ topics: [name] });
    const partitions = metadata.topics[0]?.partitions ?? [];
    const hold = (held: number[]) => this.holdings.set(holding, { partitions, held: new Set(held) });
    consumer.on(consumer.events.GROUP_JOIN, (event) => {
      const assigned = event.payload.memberAssignment[name] ?? [];
      hold(assigned);
      this.options.log?.('info', 'bus: consumer group share assigned', { group, topic, partitions: assigned });
    });
    for (const event of [consumer.events.REBALANCING, consumer.events.STOP, consumer.events.CRASH]) consumer.on(event, () => hold([]));
    const stop = await this.run(consumer, name, true, {
      autoCommitInterval: 1000,
      partitionsConsumedConcurrently: this.options.partitions,
      // The messages of a batch start in order (those of one key queue behind one another in
      // the handler's own per-key order) and run side by side; the batch's offsets are
      // committed once all of them finished.
      eachBatch: async ({ batch, heartbeat }) => {
        await Promise.all(batch.messages.map((message) => this.deliver(topic, handler, message)));
        await heartbeat();
      },
    });
    return async () => {
      this.holdings.delete(holding);
      await stop();
    };
  }

  holds(topic: string, group: string, key: string): boolean {
    const holding = this.holdings.get(`${topic}\u0000${group}`);
    if (!holding || holding.held.size === 0 || holding.partitions.length === 0) return false;
    const partition = this.partitioner({ topic: `${this.options.topicPrefix}${topic}`, partitionMetadata: holding.partitions, message: { key, value: null } });
    return holding.held.has(partition);
  }

  /** Connects and starts a consumer of one topic; resolves once it joined its group, to what stops it. */
  private async run(consumer: Consumer, name: string, fromBeginning: boolean, config: ConsumerRunConfig, afterJoin?: () => void): Promise<() => Promise<void>> {
    this.consumers.add(consumer);
    try {
      await consumer.connect();
      await consumer.subscribe({ topic: name, fromBeginning });
      const joined = new Promise<void>((resolve) => {
        const remove = consumer.on(consumer.events.GROUP_JOIN, () => {
          remove();
          resolve();
        });
      });
      await consumer.run(config);
      await joined;
      afterJoin?.();
    } catch (error) {
      this.consumers.delete(consumer);
      await consumer.disconnect().catch(() => undefined);
      throw error;
    }
    return async () => {
      if (!this.consumers.delete(consumer)) return;
      await consumer.disconnect();
    };
  }

  /** Hands one message to a handler; a message that cannot be parsed or handled is logged and skipped. */
  private async deliver<T>(topic: string, handler: BusHandler<T>, message: KafkaMessage): Promise<void> {
    const origin = message.headers?.[HEADER_ORIGIN]?.toString() ?? '';
    try {
      const value = JSON.parse(message.value?.toString('utf8') ?? 'null') as T;
      await handler({ key: message.key?.toString('utf8') ?? '', value, origin });
    } catch (error) {
      this.options.log?.('error', 'a bus message could not be handled; it is skipped', { topic, error });
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const consumers = [...this.consumers];
    this.consumers.clear();
    this.holdings.clear();
    await Promise.allSettled(consumers.map((consumer) => consumer.disconnect()));
    await Promise.allSettled([this.producer.disconnect(), this.admin.disconnect()]);
  }

  /** Creates the topic when it does not exist yet; returns its full name. */
  private async ensureTopic(topic: string): Promise<string> {
    const name = `${this.options.topicPrefix}${topic}`;
    let created = this.topics.get(name);
    if (!created) {
      created = (async () => {
        if ((await this.admin.listTopics()).includes(name)) return;
        // Another process may create it meanwhile: then this answers false, which is as good.
        await this.admin.createTopics({
          waitForLeaders: true,
          topics: [{ topic: name, numPartitions: this.options.partitions, replicationFactor: this.options.replicationFactor ?? -1 }],
        });
      })();
      this.topics.set(name, created);
      created.catch(() => this.topics.delete(name));
    }
    await created;
    return name;
  }
}
