/**
 * A real Apache Kafka broker for the scale-out suites: one KRaft node (broker and controller
 * in one JVM) on two free loopback ports, its log in a temporary folder, from the jars that
 * test/scale-out/install-kafka.sh puts in $HS_KAFKA_HOME/libs (default
 * ~/.cache/hs-kafka/4.4.0/libs). Formatted with kafka.tools.StorageTool and started with
 * kafka.Kafka, as the Kafka documentation does it.
 */
import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '@hs/testing';
import { Kafka, logLevel } from 'kafkajs';

export interface KafkaBroker {
  /** `127.0.0.1:<port>` of the broker's client listener. */
  bootstrap: string;
  /** The last lines the broker wrote. */
  output(): string;
  /** Stops the broker (SIGTERM, then SIGKILL after 15 s) and removes its folder. */
  stop(): Promise<void>;
}

/** The folder of the broker's jars, or why there is none. */
export function kafkaLibs(): { libs: string } | { missing: string } {
  const home = process.env.HS_KAFKA_HOME ?? join(homedir(), '.cache/hs-kafka/4.4.0');
  const libs = join(home, 'libs');
  if (!existsSync(libs) || !readdirSync(libs).some((file) => file.startsWith('kafka_2.13-'))) {
    return { missing: `no Kafka jars in ${libs}: run bash test/scale-out/install-kafka.sh` };
  }
  const java = spawnSync('java', ['-version'], { encoding: 'utf8' });
  if (java.status !== 0) return { missing: 'java is not installed' };
  return { libs };
}

/**
 * A KRaft cluster id: 16 random bytes, base64url without padding; never one that starts with
 * a dash, which the storage tool would take for an option.
 */
export function clusterId(): string {
  for (;;) {
    const id = randomBytes(16).toString('base64url');
    if (!id.startsWith('-')) return id;
  }
}

export interface KafkaBrokerOptions {
  /** Default partitions of a topic created without a count. */
  partitions?: number;
  /**
   * Start fast and run slower (the JVM's first compiler only, default true): what tests want.
   * A benchmark turns it off so that the broker's CPU per message is the real one.
   */
  quickStart?: boolean;
}

export async function startKafkaBroker(options: KafkaBrokerOptions = {}): Promise<KafkaBroker> {
  const found = kafkaLibs();
  if ('missing' in found) throw new Error(found.missing);
  const dir = mkdtempSync(join(tmpdir(), 'hs-kafka-'));
  const [port, controllerPort] = [await freePort(), await freePort()];
  const properties = join(dir, 'server.properties');
  writeFileSync(
    properties,
    [
      'process.roles=broker,controller',
      'node.id=1',
      `controller.quorum.voters=1@127.0.0.1:${controllerPort}`,
      `listeners=PLAINTEXT://127.0.0.1:${port},CONTROLLER://127.0.0.1:${controllerPort}`,
      `advertised.listeners=PLAINTEXT://127.0.0.1:${port}`,
      'controller.listener.names=CONTROLLER',
      'listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT',
      'inter.broker.listener.name=PLAINTEXT',
      `log.dirs=${join(dir, 'data')}`,
      `num.partitions=${options.partitions ?? 4}`,
      'offsets.topic.replication.factor=1',
      'offsets.topic.num.partitions=4',
      'transaction.state.log.replication.factor=1',
      'transaction.state.log.min.isr=1',
      'group.initial.rebalance.delay.ms=0',
      'auto.create.topics.enable=false',
      '',
    ].join('\n'),
  );
  const classpath = `${found.libs}/*`;
  const jvm = ['-Xms128m', '-Xmx512m', '-XX:+UseSerialGC', ...(options.quickStart === false ? [] : ['-XX:TieredStopAtLevel=1']), '-Djava.awt.headless=true'];
  const format = spawnSync('java', [...jvm, '-cp', classpath, 'kafka.tools.StorageTool', 'format', '-t', clusterId(), '-c', properties], { encoding: 'utf8' });
  if (format.status !== 0) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`kafka storage format failed: ${format.stderr || format.stdout}`);
  }
  const lines: string[] = [];
  const child: ChildProcess = spawn('java', [...jvm, '-cp', classpath, 'kafka.Kafka', properties], { stdio: ['ignore', 'pipe', 'pipe'] });
  const keep = (chunk: Buffer) => {
    lines.push(...chunk.toString('utf8').split('\n').filter((line) => line.length > 0));
    if (lines.length > 200) lines.splice(0, lines.length - 200);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  let exited = false;
  const exit = new Promise<void>((resolve) => child.once('exit', () => ((exited = true), resolve())));
  const broker: KafkaBroker = {
    bootstrap: `127.0.0.1:${port}`,
    output: () => lines.join('\n'),
    async stop() {
      if (!exited) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
        await exit;
        clearTimeout(timer);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
  try {
    await waitUntilServing(broker.bootstrap, () => exited);
  } catch (error) {
    await broker.stop();
    throw new Error(`${(error as Error).message}\n${broker.output()}`);
  }
  return broker;
}

/** Resolves once the broker answers metadata requests and can create a topic. */
async function waitUntilServing(bootstrap: string, exited: () => boolean): Promise<void> {
  const kafka = new Kafka({ clientId: 'test-probe', brokers: [bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 0 } });
  const deadline = Date.now() + 90_000;
  let last: unknown;
  while (Date.now() < deadline) {
    if (exited()) throw new Error('the Kafka broker exited during start-up');
    const admin = kafka.admin();
    try {
      await admin.connect();
      await admin.createTopics({ waitForLeaders: true, topics: [{ topic: 'probe.ready', numPartitions: 1, replicationFactor: 1 }] });
      await admin.disconnect();
      return;
    } catch (error) {
      last = error;
      await admin.disconnect().catch(() => undefined);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
  throw new Error(`the Kafka broker did not start within 90 s: ${String(last)}`);
}
