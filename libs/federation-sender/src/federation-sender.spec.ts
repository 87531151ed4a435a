/**
 * The sender against real parts: the PostgreSQL event store and the sender's tables on PGlite,
 * the keys layer's HTTPS client (X-Matrix signing, certificate checked through a CA file) and
 * HTTPS receivers that check each request's signature with the sender's key and deduplicate
 * transactions on their id as the spec asks. Destinations come from a fixed resolver here (the
 * write-model resolver has its own spec, and test/federation/sender.spec.ts runs the whole
 * homeserver with it).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RECEIPT_RECORDED, receiptsStream, type ReceiptRecorded, type RoomEventAccepted } from '@hs/contracts';
import { PostgresEventStore } from '@hs/eventstore';
import { FederationClient } from '@hs/keys';
import { openTestDatabase, type TestDatabase } from '@hs/persistence';
import { generateSigningKey, type JsonValue } from '@hs/protocol';
import { FederationReceiver, type ReceiverAnswer } from '@hs/testing';
import pino from 'pino';
import { sql } from 'slonik';
import { ALICE, FixedResolver, ORIGIN, ROOM, RoomMessages } from '../test/support';
import type { DestinationResolver } from './destination-resolver';
import { DestinationStore } from './destination-store';
import { FederationSender, type FederationSenderOptions } from './federation-sender';

const signingKey = generateSigningKey('s1');
const elsewhereKey = generateSigningKey('e1');

describe('FederationSender', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hs-fed-sender-'));
  const caFile = join(dir, 'ca.pem');
  let receiver: FederationReceiver;
  let second: FederationReceiver;
  let client: FederationClient;
  let database: TestDatabase;
  let store: PostgresEventStore;
  let logLines: string[];
  const senders: FederationSender[] = [];
  const messages = new RoomMessages((server) => (server === ORIGIN ? signingKey : elsewhereKey));
  let receiptCount = 0;

  const verifyKey = (origin: string, keyId: string) => (origin === ORIGIN && keyId === signingKey.keyId ? signingKey.publicKeyBase64 : undefined);

  beforeAll(async () => {
    database = await openTestDatabase('hs_fed_sender', 6);
    store = await PostgresEventStore.open(database.db);
    receiver = await FederationReceiver.start({ verifyKey });
    second = await FederationReceiver.start({ verifyKey });
    writeFileSync(caFile, [receiver.certificate.cert, second.certificate.cert].join('\n'));
    client = new FederationClient({ serverName: ORIGIN, signingKey, verifyCertificates: true, caFile, timeoutMs: 5_000, logger: pino({ level: 'silent' }) });
  });

  afterAll(async () => {
    await store.close();
    await database.close();
    client.close();
    await receiver.close();
    await second.close();
    rmSync(dir, { recursive: true, force: true });
  });

  beforeEach(async () => {
    // Each test starts the sender afresh: no destinations, and the store's events so far are history.
    await database.db.pool.query(sql.unsafe`TRUNCATE federation_sender.destinations, federation_sender.reader`);
    logLines = [];
    for (const r of [receiver, second]) {
      r.transactions.length = 0;
      r.attempts.length = 0;
      r.refused.length = 0;
      r.answer = () => ({ process: true, status: 200 });
      await r.listen();
    }
  });

  afterEach(async () => {
    await Promise.all(senders.splice(0).map((sender) => sender.stop()));
  });

  /** Waits for `condition`; on a timeout the sender's log is shown. */
  async function until(r: FederationReceiver, condition: () => boolean, what: string, timeoutMs = 30_000): Promise<void> {
    try {
      await r.until(condition, what, timeoutMs);
    } catch (error) {
      process.stderr.write(`sender log:\n${logLines.join('')}\nattempts: ${JSON.stringify(r.attempts.slice(-20))}\nstatus: ${senders.map((s) => JSON.stringify(s.status(), (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v))).join('\n')}\n`);
      throw error;
    }
  }

  function newSender(resolver: DestinationResolver, options: Partial<FederationSenderOptions> = {}): FederationSender {
    const sender = new FederationSender({
      serverName: ORIGIN,
      store,
      pool: database.db.pool,
      client,
      resolver,
      logger: pino({ level: 'info' }, { write: (line: string) => logLines.push(line) }),
      backoff: { minMs: 20, maxMs: 200 },
      random: () => 0,
      persistIntervalMs: 50,
      ...options,
    });
    senders.push(sender);
    return sender;
  }

  const message = (overrides: Partial<RoomEventAccepted> = {}, sender = ALICE) => messages.message(overrides, sender);
  const append = (facts: RoomEventAccepted[]) => messages.append(store, facts);
  const appendMessages = (count: number) => messages.appendMessages(store, count);

  async function appendReceipts(receipts: Array<Partial<ReceiptRecorded>>): Promise<void> {
    await store.append(
      receiptsStream(ROOM),
      'any',
      receipts.map((receipt, i) => ({
        id: `receipt-${++receiptCount}-${i}`,
        type: RECEIPT_RECORDED,
        data: { v: 1, room_id: ROOM, user_id: ALICE, receipt_type: 'm.read', event_id: messages.lastEventId, ts: 1_700_000_000_000 + i, ...receipt } as unknown as JsonValue,
      })),
    );
  }

  const warnings = () => logLines.map((line) => JSON.parse(line) as Record<string, unknown>).filter((entry) => entry.level === 40);

  it('sends the events of our users to their destinations in order, at most 50 PDUs a transaction, nothing from before its first start', async () => {
    await appendMessages(3);
    // The first start begins at the store's head, which PostgreSQL shows only below the oldest
    // transaction in flight in the whole cluster (other suites share it): wait until the three
    // events are below it, so that "before the first start" means them.
    if (!(await store.settled(5_000))) throw new Error('events still held back by an older transaction');
    const sender = newSender(new FixedResolver(() => [receiver.serverName, ORIGIN]));
    await sender.start();
    // The first transaction is answered only once everything else is queued behind it.
    let release: () => void = () => undefined;
    const released = new Promise<void>((resolve) => (release = resolve));
    let first = true;
    receiver.answer = () => {
      const answer: ReceiverAnswer = { process: true, status: 200, ...(first ? { release: released } : {}) };
      first = false;
      return answer;
    };
    const expected = await appendMessages(1);
    await until(receiver, () => receiver.transactions.length === 1, 'the first transaction');
    expected.push(...(await appendMessages(120)));
    // Not ours, an outlier, a soft-failed event: none goes out.
    await append([message({}, '@zed:elsewhere.test'), message({ outlier: true }), message({ soft_failed: true })]);
    expected.push(...(await appendMessages(5)));
    await until(receiver, () => sender.status()[0]?.queued === expected.length - 1, 'everything queued');
    release();
    await until(receiver, () => receiver.pdus().length === expected.length, 'every event');

    expect(receiver.pdus().map((p) => p.eventId)).toEqual(expected);
    expect(receiver.transactions.map((t) => t.body.pdus.length)).toEqual([1, 50, 50, 25]);
    for (const t of receiver.transactions) {
      expect(t.origin).toBe(ORIGIN);
      expect(t.body.origin).toBe(ORIGIN);
      expect(t.body.edus).toBeUndefined();
    }
    expect(receiver.deliveryProblems()).toEqual([]);
    expect(receiver.attempts.every((a) => !a.duplicate)).toBe(true);
    expect(warnings()).toEqual([]);
  });

  it('retries an unreachable destination with exponential backoff, logging each failure, and sends everything once it is back', async () => {
    await receiver.close();
    const sender = newSender(new FixedResolver(() => [receiver.serverName]));
    await sender.start();
    const expected = await appendMessages(30);
    await until(receiver, () => warnings().length >= 6, 'six failed attempts');
    const failed = warnings();
    // Doubling from 20 ms up to the 200 ms cap (no jitter with random = 0).
    expect(failed.slice(0, 6).map((entry) => entry.retry_in_ms)).toEqual([20, 40, 80, 160, 200, 200]);
    for (const entry of failed) {
      expect(entry).toMatchObject({ destination: receiver.serverName, msg: 'federation transaction failed; retrying later', reason: expect.stringMatching(/ECONNREFUSED/) });
    }
    // One transaction id throughout: the spec wants a 200 before another id is sent.
    expect(new Set(failed.map((entry) => entry.txn_id)).size).toBe(1);
    expect(logLines.join('\n')).not.toMatch(/X-Matrix|sig=/);
    expect((await new DestinationStore(database.db.pool).destinations())[0]).toMatchObject({ destination: receiver.serverName, failures: expect.any(Number) });

    await receiver.listen();
    await until(receiver, () => receiver.pdus().length === expected.length, 'every event once the destination is back');
    expect(receiver.pdus().map((p) => p.eventId)).toEqual(expected);
    expect(receiver.deliveryProblems()).toEqual([]);
    await until(receiver, () => sender.status()[0].failures === 0, 'the failure count reset');
    const [stored] = await new DestinationStore(database.db.pool).destinations();
    expect(stored).toMatchObject({ failures: 0, retryAt: 0 });
    expect(stored.inflight).toBeUndefined();
  });

  it('retries at once a destination that reached us, however long its backoff', async () => {
    await receiver.close();
    const sender = newSender(new FixedResolver(() => [receiver.serverName]), { backoff: { minMs: 600_000, maxMs: 3_600_000 } });
    await sender.start();
    const expected = await appendMessages(5);
    await until(receiver, () => sender.status()[0]?.failures === 1, 'the first failure');
    await receiver.listen();
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(receiver.attempts).toEqual([]);
    sender.markReachable(receiver.serverName);
    await until(receiver, () => receiver.pdus().length === expected.length, 'every event after markReachable', 5_000);
    expect(receiver.pdus().map((p) => p.eventId)).toEqual(expected);
  });

  it('loses and duplicates nothing when restarted in the middle of a busy queue', async () => {
    const resolver = new FixedResolver(() => [receiver.serverName]);
    // Slow and flaky: every fourth new transaction fails unprocessed, the others take a while.
    let count = 0;
    const flaky = (): ReceiverAnswer => (++count % 4 === 0 ? { process: false, status: 503 } : { process: true, status: 200, delayMs: 15 });
    receiver.answer = flaky;
    // A short queue in memory and small reads: the destination falls behind and reads alone too.
    const options = { maxQueuedItems: 150, readBatchSize: 40 };
    let sender = newSender(resolver, options);
    await sender.start();
    const expected: string[] = [];
    for (let i = 0; i < 30; i++) expected.push(...(await appendMessages(10)));

    // Restart 1: the destination processes a transaction but its answer never reaches us.
    await until(receiver, () => receiver.pdus().length >= 60, 'a part of the events');
    const held = receiver.holdTransaction(1, flaky);
    await until(receiver, () => held() !== undefined, 'a transaction held');
    await sender.stop();
    const heldIds = receiver.attempts.find((a) => a.txnId === held())?.eventIds ?? [];
    expect(heldIds.length).toBeGreaterThan(0);
    for (let i = 0; i < 5; i++) expected.push(...(await appendMessages(10)));

    // Restart 2: the destination fails the resent transaction, and the sender stops meanwhile.
    let refusedOnce: string | undefined;
    receiver.answer = (txnId) => {
      refusedOnce ??= txnId;
      return { process: false, status: 500 };
    };
    sender = newSender(resolver, options);
    await sender.start();
    await until(receiver, () => receiver.attempts.some((a) => a.txnId === held() && a.duplicate), 'the held transaction sent again');
    await until(receiver, () => refusedOnce !== undefined, 'a refused transaction');
    await sender.stop();
    for (let i = 0; i < 5; i++) expected.push(...(await appendMessages(10)));

    receiver.answer = flaky;
    sender = newSender(resolver, options);
    await sender.start();
    for (let i = 0; i < 5; i++) expected.push(...(await appendMessages(10)));
    await until(receiver, () => receiver.pdus().length === expected.length, 'every event', 60_000);

    expect(receiver.pdus().map((p) => p.eventId)).toEqual(expected);
    expect(receiver.deliveryProblems()).toEqual([]);
    // The transaction whose answer was lost went again under its id, with the same events.
    const resent = receiver.attempts.filter((a) => a.txnId === held());
    expect(resent.length).toBeGreaterThanOrEqual(2);
    expect(resent.every((a) => a.eventIds.join() === heldIds.join())).toBe(true);
    // And the one refused before the second restart was processed under its id after it.
    expect(receiver.transactions.some((t) => t.txnId === refusedOnce)).toBe(true);
    await until(receiver, () => sender.status()[0].queued === 0 && sender.status()[0].inFlight === undefined, 'an empty queue');
  }, 120_000);

  it('sends receipts of our users from the store and typing from memory as EDUs, at most 100 a transaction', async () => {
    const resolver = new FixedResolver(() => [receiver.serverName], () => [receiver.serverName, ORIGIN]);
    const sender = newSender(resolver);
    await sender.start();
    const [read] = await appendMessages(1);
    await appendReceipts([
      { event_id: read, ts: 5, thread_id: 'main' },
      { receipt_type: 'm.read.private' },
      { user_id: '@zed:elsewhere.test' },
    ]);
    await until(receiver, () => receiver.edus().length === 1, 'the receipt');
    expect(receiver.edus()).toEqual([
      { edu_type: 'm.receipt', content: { [ROOM]: { 'm.read': { [ALICE]: { event_ids: [read], data: { ts: 5, thread_id: 'main' } } } } } },
    ]);

    await sender.typingChanged({ roomId: ROOM, userId: '@zed:elsewhere.test', typing: true });
    await sender.typingChanged({ roomId: ROOM, userId: ALICE, typing: true });
    await until(receiver, () => receiver.edus().length === 2, 'the typing notification');
    expect(receiver.edus()[1]).toEqual({ edu_type: 'm.typing', content: { room_id: ROOM, user_id: ALICE, typing: true } });

    // While the destination is down, a queued EDU is replaced by a later one of the same key.
    await receiver.close();
    sender.enqueueEdu([receiver.serverName], { edu_type: 'org.example.first', content: {} });
    await until(receiver, () => sender.status()[0].failures > 0, 'a failure');
    await sender.typingChanged({ roomId: ROOM, userId: ALICE, typing: true });
    await sender.typingChanged({ roomId: ROOM, userId: ALICE, typing: false });
    await appendReceipts(Array.from({ length: 150 }, (_, i) => ({ ts: 1000 + i })));
    await receiver.listen();
    sender.markReachable(receiver.serverName);
    await until(receiver, () => receiver.edus().length === 2 + 1 + 1 + 150, 'every EDU');
    const later = receiver.edus().slice(2);
    expect(later[0]).toEqual({ edu_type: 'org.example.first', content: {} });
    expect(later.filter((edu) => edu.edu_type === 'm.typing')).toEqual([{ edu_type: 'm.typing', content: { room_id: ROOM, user_id: ALICE, typing: false } }]);
    const receiptTimes = later.filter((edu) => edu.edu_type === 'm.receipt').map((edu) => (edu.content[ROOM] as { 'm.read': Record<string, { data: { ts: number } }> })['m.read'][ALICE].data.ts);
    expect(receiptTimes).toEqual(Array.from({ length: 150 }, (_, i) => 1000 + i));
    expect(Math.max(...receiver.transactions.map((t) => (t.body.edus ?? []).length))).toBe(100);
    expect(receiver.deliveryProblems()).toEqual([]);
  });

  it('starts a destination that first appears at the event that names it, and persists it', async () => {
    let late = false;
    const resolver = new FixedResolver(() => (late ? [receiver.serverName, second.serverName] : [receiver.serverName]));
    const sender = newSender(resolver);
    await sender.start();
    const early = await appendMessages(10);
    await until(receiver, () => receiver.pdus().length === 10, 'the early events');
    late = true;
    const joined = await appendMessages(10);
    await until(receiver, () => receiver.pdus().length === 20 && second.pdus().length === 10, 'the later events at both');
    expect(receiver.pdus().map((p) => p.eventId)).toEqual([...early, ...joined]);
    expect(second.pdus().map((p) => p.eventId)).toEqual(joined);
    await until(receiver, () => sender.status().every((d) => d.queued === 0 && d.inFlight === undefined), 'both queues empty');
    await sender.stop();
    const stored = await new DestinationStore(database.db.pool).destinations();
    expect(stored.map((d) => d.destination).sort()).toEqual([receiver.serverName, second.serverName].sort());
    expect(new Set(stored.map((d) => d.position)).size).toBe(1);
    expect(stored[0].position).toBe(await store.headPosition());
  });
});
