/**
 * Child process of the sender's crash spec: runs a FederationSender on an embedded database
 * folder, sending to one destination, while it appends ten messages of a local user at a time
 * and prints their ids once each append is acknowledged, until it is killed.
 * Usage: crash-child.ts <dataDir> <caFile> <destination> <signing key seed, unpadded Base64>
 */
import { PostgresEventStore } from '@hs/eventstore';
import { FederationClient } from '@hs/keys';
import { migrate, openDatabase } from '@hs/persistence';
import { signingKeyFromSeed } from '@hs/protocol';
import pino from 'pino';
import { FederationSender } from '../src/federation-sender';
import { FixedResolver, ORIGIN, RoomMessages } from './support';

async function main(): Promise<void> {
  const [dataDir, caFile, destination, seed] = process.argv.slice(2);
  const db = await openDatabase({ dataDir, maxConnections: 4 });
  await migrate(db);
  const store = await PostgresEventStore.open(db);
  const signingKey = signingKeyFromSeed(seed, 'ed25519:s1');
  const logger = pino({ level: 'silent' });
  const client = new FederationClient({ serverName: ORIGIN, signingKey, verifyCertificates: true, caFile, timeoutMs: 60_000, logger });
  const sender = new FederationSender({
    serverName: ORIGIN,
    store,
    pool: db.pool,
    client,
    resolver: new FixedResolver(() => [destination]),
    logger,
    backoff: { minMs: 20, maxMs: 200 },
    persistIntervalMs: 50,
    maxQueuedItems: 150,
    readBatchSize: 40,
  });
  await sender.start();
  process.stdout.write('ready\n');
  const messages = new RoomMessages(() => signingKey);
  for (;;) {
    const ids = await messages.appendMessages(store, 10);
    process.stdout.write(`appended ${ids.join(',')}\n`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${String(error)}\n`);
  process.exit(1);
});
