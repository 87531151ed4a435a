/**
 * One hop of the bus on a real Kafka broker, without the homeserver around it: how long a
 * message takes from `publish` to the handler of another process's subscription (broadcast) and
 * of a consumer group's member (shared), paced like a chat load. The scale-out topology puts
 * two such hops (a room command, then the projector's positions) between a send and the /sync
 * that delivers it, and one more (the command's answer) before the sender's reply.
 *
 * Run: node -r ./test/support/register-ts.cjs bench/kafka-hop/index.ts
 *   BENCH_MESSAGES=400   messages per mode
 *   BENCH_RATE=40        messages per second
 */
import { KafkaBus } from '@hs/bus';
import { startKafkaBroker } from '../../test/support/kafka-broker';
import { percentile, sleep } from '../support/measure';

const MESSAGES = Number(process.env.BENCH_MESSAGES ?? 400);
const RATE = Number(process.env.BENCH_RATE ?? 40);

async function main(): Promise<void> {
  const broker = await startKafkaBroker();
  const options = { brokers: [broker.bootstrap], topicPrefix: 'bench.', partitions: 4 };
  const [publisher, receiver] = await Promise.all([KafkaBus.connect(options), KafkaBus.connect(options)]);
  try {
    for (const mode of ['subscribe', 'consume', 'subscribe', 'consume'] as const) {
      const latencies: number[] = [];
      const waiting = new Map<string, number>();
      const handler = ({ value }: { value: unknown }) => {
        const id = (value as { id: string }).id;
        const sent = waiting.get(id);
        if (sent !== undefined) latencies.push(performance.now() - sent);
        waiting.delete(id);
      };
      const topic = `hop-${mode}-${Date.now()}`;
      const stop = mode === 'subscribe' ? await receiver.subscribe(topic, handler) : await receiver.consume(topic, 'bench-group', handler);
      // Warm: the first messages find connections and metadata.
      for (let i = 0; i < 20; i++) await publisher.publish(topic, `k${i % 8}`, { id: `warm${i}` });
      await sleep(1000);
      latencies.length = 0;
      const publishTimes: number[] = [];
      const started = performance.now();
      for (let i = 0; i < MESSAGES; i++) {
        const due = started + (i * 1000) / RATE;
        const wait = due - performance.now();
        if (wait > 0) await sleep(wait);
        const id = `m${i}`;
        waiting.set(id, performance.now());
        const before = performance.now();
        await publisher.publish(topic, `room${i % 8}`, { id });
        publishTimes.push(performance.now() - before);
      }
      await sleep(2000);
      await stop();
      const ms = (value: number) => value.toFixed(1);
      latencies.sort((a, b) => a - b);
      publishTimes.sort((a, b) => a - b);
      console.log(
        `${mode.padEnd(9)} delivered ${latencies.length}/${MESSAGES}: p50 ${ms(percentile(latencies, 50))} ms, p90 ${ms(percentile(latencies, 90))} ms, p99 ${ms(percentile(latencies, 99))} ms, max ${ms(latencies[latencies.length - 1])} ms; publish acknowledged p50 ${ms(percentile(publishTimes, 50))} ms, p99 ${ms(percentile(publishTimes, 99))} ms`,
      );
    }
  } finally {
    await Promise.allSettled([publisher.close(), receiver.close()]);
    await broker.stop();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
