/** The Kafka adapter of the bus, against a real broker. */
import { KafkaBus, type BusMessage } from '@hs/bus';
import { Kafka, logLevel } from 'kafkajs';
import { clusterId, startKafkaBroker, type KafkaBroker } from '../support/kafka-broker';
import { describeScaleOut } from './kafka-available';

async function until(condition: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('a KRaft cluster id', () => {
  it('is 22 base64url characters and never starts with a dash (the storage tool would read an option)', () => {
    for (let i = 0; i < 2000; i++) expect(clusterId()).toMatch(/^[A-Za-z0-9_][A-Za-z0-9_-]{21}$/);
  });
});

describeScaleOut('KafkaBus', false, () => {
  jest.setTimeout(120_000);
  let broker: KafkaBroker;
  const buses: KafkaBus[] = [];

  async function bus(prefix = 'hs.test.'): Promise<KafkaBus> {
    const connected = await KafkaBus.connect({ brokers: [broker.bootstrap], topicPrefix: prefix, partitions: 3 });
    buses.push(connected);
    return connected;
  }

  beforeAll(async () => {
    broker = await startKafkaBroker();
  });

  afterAll(async () => {
    await Promise.allSettled(buses.map((each) => each.close()));
    await broker?.stop();
  });

  it('delivers each message to every subscribed process, with its origin, in order per key', async () => {
    const [a, b] = [await bus(), await bus()];
    const seenByA: BusMessage<{ n: number }>[] = [];
    const seenByB: BusMessage<{ n: number }>[] = [];
    await a.subscribe<{ n: number }>('ordered', (message) => void seenByA.push(message));
    await b.subscribe<{ n: number }>('ordered', (message) => void seenByB.push(message));
    const keys = ['!a:hs', '!b:hs', '!c:hs', '!d:hs'];
    await Promise.all(Array.from({ length: 200 }, (_, n) => (n % 2 === 0 ? a : b).publish('ordered', keys[n % 4], { n })));
    await until(() => seenByA.length === 200 && seenByB.length === 200, '200 messages on both');
    for (const seen of [seenByA, seenByB]) {
      for (const key of keys) {
        const ns = seen.filter((message) => message.key === key).map((message) => message.value.n);
        expect(ns).toHaveLength(50);
      }
      expect(new Set(seen.map((message) => message.value.n)).size).toBe(200);
      expect(seen.find((message) => message.value.n === 0)?.origin).toBe(a.processId);
      expect(seen.find((message) => message.value.n === 1)?.origin).toBe(b.processId);
    }
  });

  it('keeps the order of one key for messages published one after the other', async () => {
    const [a, b] = [await bus(), await bus()];
    const seen: number[] = [];
    await b.subscribe<{ n: number }>('sequence', (message) => void seen.push(message.value.n));
    for (let n = 0; n < 100; n++) await a.publish('sequence', 'one key', { n });
    await until(() => seen.length === 100, '100 messages');
    expect(seen).toEqual(Array.from({ length: 100 }, (_, n) => n));
  });

  it('delivers what is published after subscribe resolved, not what came before; unsubscribing stops delivery', async () => {
    const [a, b] = [await bus(), await bus()];
    await a.publish('window', 'k', { when: 'before' });
    const seen: string[] = [];
    const unsubscribe = await b.subscribe<{ when: string }>('window', (message) => void seen.push(message.value.when));
    await a.publish('window', 'k', { when: 'after' });
    await until(() => seen.includes('after'), 'the message published after subscribing');
    expect(seen).toEqual(['after']);
    await unsubscribe();
    await a.publish('window', 'k', { when: 'after unsubscribing' });
    const witness: string[] = [];
    await a.subscribe<{ when: string }>('window', (message) => void witness.push(message.value.when));
    await a.publish('window', 'k', { when: 'last' });
    await until(() => witness.includes('last'), 'the last message');
    expect(seen).toEqual(['after']);
  });

  it('skips a message its handler fails on and goes on with the next', async () => {
    const [a, b] = [await bus(), await bus()];
    const seen: number[] = [];
    await b.subscribe<{ n: number }>('failing', (message) => {
      if (message.value.n === 1) throw new Error('cannot handle 1');
      seen.push(message.value.n);
    });
    for (let n = 0; n < 3; n++) await a.publish('failing', 'k', { n });
    await until(() => seen.length === 2, 'the two good messages');
    expect(seen).toEqual([0, 2]);
  });

  it('creates its topics with the configured partitions under its prefix', async () => {
    const a = await bus('hs.prefixed.');
    await a.publish('created', 'k', {});
    const kafka = new Kafka({ clientId: 'test', brokers: [broker.bootstrap], logLevel: logLevel.NOTHING });
    const admin = kafka.admin();
    await admin.connect();
    try {
      const metadata = await admin.fetchTopicMetadata({ topics: ['hs.prefixed.created'] });
      expect(metadata.topics[0].partitions).toHaveLength(3);
    } finally {
      await admin.disconnect();
    }
  });

  it('shares a consumed topic between the group\'s members, and tells each which keys it holds', async () => {
    const [a, b] = [await bus('hs.holds.'), await bus('hs.holds.')];
    const keys = Array.from({ length: 30 }, (_, i) => `!room${i}:hs`);
    const got = new Map<string, string[]>();
    const handler = (who: string) => (message: BusMessage) => void got.set(message.key, [...(got.get(message.key) ?? []), who]);
    expect(a.holds('shared', 'writers', keys[0])).toBe(false);
    const stopA = await a.consume('shared', 'writers', handler('a'));
    await b.consume('shared', 'writers', handler('b'));
    // After the group settles, each key is held by exactly one member, and both hold some.
    await until(() => keys.every((key) => a.holds('shared', 'writers', key) !== b.holds('shared', 'writers', key)), 'one holder per key');
    await until(() => keys.some((key) => a.holds('shared', 'writers', key)) && keys.some((key) => b.holds('shared', 'writers', key)), 'both members hold keys');
    expect(a.holds('shared', 'others', keys[0])).toBe(false);
    const holder = new Map(keys.map((key) => [key, a.holds('shared', 'writers', key) ? 'a' : 'b']));
    for (const key of keys) await a.publish('shared', key, { key });
    await until(() => got.size === keys.length, 'every key delivered');
    for (const key of keys) expect(got.get(key)).toEqual([holder.get(key)]);
    // The member that stops holds nothing; the other holds everything once the group settles.
    await stopA();
    expect(keys.some((key) => a.holds('shared', 'writers', key))).toBe(false);
    await until(() => keys.every((key) => b.holds('shared', 'writers', key)), 'the remaining member holds every key');
  });

  it('fails to connect when no broker answers', async () => {
    await expect(KafkaBus.connect({ brokers: ['127.0.0.1:1'], topicPrefix: 'x.', partitions: 1, connectionTimeoutMs: 500 })).rejects.toThrow();
  }, 60_000);
});
