/**
 * A sender killed (SIGKILL: no shutdown, nothing flushed) in the middle of a busy queue, then
 * started again on the same embedded database folder: every local event the store holds
 * reaches the destination, none under two transaction ids, and the transaction whose answer
 * the killed process never got is sent again under its id. The receiver is a real HTTPS server
 * that checks X-Matrix; destinations come from a fixed resolver.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { ROOM_EVENT_ACCEPTED, type RoomEventAccepted } from '@hs/contracts';
import { PostgresEventStore } from '@hs/eventstore';
import { FederationClient } from '@hs/keys';
import { migrate, openDatabase } from '@hs/persistence';
import { encodeBase64, generateSigningKey } from '@hs/protocol';
import { FederationReceiver, type ReceiverAnswer } from '@hs/testing';
import pino from 'pino';
import { FixedResolver, ORIGIN } from '../test/support';
import { FederationSender } from './federation-sender';

const root = resolve(__dirname, '..', '..', '..');

describe('FederationSender killed in the middle of a busy queue', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hs-fed-sender-crash-'));
  const signingKey = generateSigningKey('s1');
  let receiver: FederationReceiver;

  beforeAll(async () => {
    receiver = await FederationReceiver.start({
      verifyKey: (origin, keyId) => (origin === ORIGIN && keyId === signingKey.keyId ? signingKey.publicKeyBase64 : undefined),
    });
    writeFileSync(join(dir, 'ca.pem'), receiver.certificate.cert);
  });

  afterAll(async () => {
    await receiver.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Runs the child until `stop` says so, then SIGKILLs it; resolves with the acknowledged event ids. */
  async function runChildThenKill(dataDir: string, stop: (appended: number) => boolean): Promise<string[]> {
    const child = spawn(
      process.execPath,
      [
        '-r',
        join(root, 'test/support/register-ts.cjs'),
        join(root, 'libs/federation-sender/test/crash-child.ts'),
        dataDir,
        join(dir, 'ca.pem'),
        receiver.serverName,
        encodeBase64(signingKey.seed),
      ],
      { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const appended: string[] = [];
    let stderr = '';
    let buffer = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    await new Promise<void>((resolvePromise, reject) => {
      const check = setInterval(() => {
        if (stop(appended.length)) child.kill('SIGKILL');
      }, 10);
      child.on('exit', (code, signal) => {
        clearInterval(check);
        if (signal === 'SIGKILL') resolvePromise();
        else reject(new Error(`the sender child exited early (${code}): ${stderr}`));
      });
      child.stdout.on('data', (d: Buffer) => {
        buffer += d.toString();
        const lines = buffer.split('\n');
        buffer = lines.pop() ?? '';
        for (const line of lines) if (line.startsWith('appended ')) appended.push(...line.slice('appended '.length).split(','));
      });
    });
    return appended;
  }

  it('loses nothing, sends no event under two transaction ids, and resends the unanswered transaction under its id', async () => {
    const dataDir = join(dir, 'data');
    // Slow and flaky, and the sixth transaction is processed but never answered.
    const held = receiver.holdTransaction(6, (count) => (count % 4 === 0 ? { process: false, status: 503 } : { process: true, status: 200, delayMs: 20 }));
    const acknowledged = await runChildThenKill(dataDir, (appended) => held() !== undefined && appended >= 300);
    const heldEvents = receiver.attempts.find((attempt) => attempt.txnId === held())?.eventIds ?? [];
    expect(heldEvents.length).toBeGreaterThan(0);
    expect(receiver.pdus().length).toBeLessThan(acknowledged.length);

    let count = 0;
    receiver.answer = (): ReceiverAnswer => (++count % 4 === 0 ? { process: false, status: 503 } : { process: true, status: 200 });
    const db = await openDatabase({ dataDir, maxConnections: 4 });
    const logger = pino({ level: 'silent' });
    const client = new FederationClient({ serverName: ORIGIN, signingKey, verifyCertificates: true, caFile: join(dir, 'ca.pem'), timeoutMs: 10_000, logger });
    let sender: FederationSender | undefined;
    let store: PostgresEventStore | undefined;
    try {
      await migrate(db);
      store = await PostgresEventStore.open(db);
      // What the store holds is what must arrive: every acknowledged append, and any append the
      // kill cut after its commit.
      const stored: string[] = [];
      for (let position = 0n; ; ) {
        const page = await store.readAll({ fromPosition: position, limit: 1000 });
        if (page.length === 0) break;
        for (const record of page) if (record.type === ROOM_EVENT_ACCEPTED) stored.push((record.data as unknown as RoomEventAccepted).event_id);
        position = page[page.length - 1].position;
      }
      expect(stored.slice(0, acknowledged.length)).toEqual(acknowledged);

      sender = new FederationSender({
        serverName: ORIGIN,
        store,
        pool: db.pool,
        client,
        resolver: new FixedResolver(() => [receiver.serverName]),
        logger,
        backoff: { minMs: 20, maxMs: 200 },
      });
      await sender.start();
      await receiver.until(() => receiver.pdus().length === stored.length, 'every stored event', 60_000);

      expect(receiver.pdus().map((p) => p.eventId)).toEqual(stored);
      expect(receiver.deliveryProblems()).toEqual([]);
      const again = receiver.attempts.filter((attempt) => attempt.txnId === held());
      expect(again.length).toBeGreaterThanOrEqual(2);
      expect(again[again.length - 1]).toMatchObject({ duplicate: true, eventIds: heldEvents });
    } finally {
      await sender?.stop();
      await store?.close();
      client.close();
      await db.close();
    }
  }, 180_000);
});
