/**
 * Outbound federation of a whole homeserver (A, in this process, federation listener on) to
 * another server over HTTPS: a receiving server that authenticates each PUT /send by its
 * X-Matrix signature with A's key (fetched from A's key endpoint) and deduplicates
 * transactions by id. Destinations come from A's room write model (the real resolver): the
 * remote server's user is made a joined member with the membership fact that accepting its join
 * over federation stores. A's users act through the client-server API.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_ROOM_VERSION, generateSigningKey, verifyEventSignature } from '@hs/protocol';
import { ROOM_EVENT_STORE, RoomWriter, type TransactionalEventStore } from '@hs/room';
import { FederationReceiver, call, freePort, registerUser, selfSignedCertificate, type ReceiverAnswer, type TestUser } from '@hs/testing';
import { addRemoteMembership } from '../../libs/room/test/remote-members';
import { startInProcess, type InProcessServer } from '../support/in-process-server';

/** GET over HTTPS trusting `ca`, the answer parsed as JSON. */
function getJson(port: number, ca: string, path: string): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest({ host: '127.0.0.1', port, path, ca }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('outbound federation of a homeserver to another server over HTTPS', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hs-federation-sender-'));
  const aDir = join(dir, 'a');
  const remoteKey = generateSigningKey('remote');
  let receiver: FederationReceiver;
  let a: InProcessServer;
  let aName = '';
  let aPort = 0;
  let aCert = '';
  let alice: TestUser;
  let env: Record<string, string>;

  async function startA(): Promise<void> {
    a = await startInProcess({ dir: aDir, env });
  }

  beforeAll(async () => {
    aPort = await freePort();
    aName = `127.0.0.1:${aPort}`;
    const tls = await selfSignedCertificate(`federation sender test ${aName}`);
    aCert = tls.cert;
    writeFileSync(join(dir, 'a.crt'), tls.cert);
    writeFileSync(join(dir, 'a.key'), tls.key);
    // The receiver checks signatures with the key A publishes (fetched once over HTTPS).
    let aKeys: Record<string, { key: string }> | undefined;
    receiver = await FederationReceiver.start({
      async verifyKey(origin, keyId) {
        if (origin !== aName) return undefined;
        aKeys ??= (await getJson(aPort, aCert, '/_matrix/key/v2/server')).verify_keys as Record<string, { key: string }>;
        return aKeys[keyId]?.key;
      },
    });
    writeFileSync(join(dir, 'ca.pem'), receiver.certificate.cert);
    env = {
      HS_SERVER_NAME: aName,
      HS_FEDERATION_LISTENER__ENABLED: 'true',
      HS_FEDERATION_LISTENER__BIND_ADDRESS: '127.0.0.1',
      HS_FEDERATION_LISTENER__PORT: String(aPort),
      HS_FEDERATION_LISTENER__TLS_CERTIFICATE_PATH: join(dir, 'a.crt'),
      HS_FEDERATION_LISTENER__TLS_PRIVATE_KEY_PATH: join(dir, 'a.key'),
      HS_FEDERATION__TLS_CA_FILE: join(dir, 'ca.pem'),
      HS_FEDERATION__REQUEST_TIMEOUT_MS: '60000',
      HS_FEDERATION__DESTINATION_MIN_RETRY_INTERVAL_MS: '50',
      HS_FEDERATION__DESTINATION_MAX_RETRY_INTERVAL_MS: '400',
    };
    await startA();
    alice = await registerUser(a.url, 'alice');
  }, 120_000);

  afterAll(async () => {
    await a?.close();
    await receiver?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** A public room of alice's where a user of the receiving server is joined. */
  async function roomWithRemoteMember(localpart: string): Promise<string> {
    const created = await call<{ room_id: string }>(a.url, 'POST', 'createRoom', { token: alice.token, body: { preset: 'public_chat' } });
    expect(created.status).toBe(200);
    const roomId = created.body.room_id;
    const app = a.server.clientApp;
    await addRemoteMembership(app.get(RoomWriter), app.get<symbol, TransactionalEventStore>(ROOM_EVENT_STORE), roomId, {
      userId: `@${localpart}:${receiver.serverName}`,
      membership: 'join',
      signingKey: remoteKey,
    });
    return roomId;
  }

  let txn = 0;
  async function say(roomId: string, body: string): Promise<string> {
    const sent = await call<{ event_id: string }>(a.url, 'PUT', `rooms/${encodeURIComponent(roomId)}/send/m.room.message/t${++txn}`, {
      token: alice.token,
      body: { msgtype: 'm.text', body },
    });
    expect(sent.status).toBe(200);
    return sent.body.event_id;
  }

  const pdusOf = (roomId: string) => receiver.pdus().filter((p) => p.pdu.room_id === roomId);

  it('sends what local users do in a room with a member of the server: events in order and signed, typing and receipts, and the kick of its user', async () => {
    const roomId = await roomWithRemoteMember('bob');
    const sent: string[] = [];
    for (let i = 0; i < 60; i++) sent.push(await say(roomId, `hello ${i}`));
    await receiver.until(() => pdusOf(roomId).length === 60, '60 events');
    // Only what came after the remote join: the room's creation is not sent (that is backfill's job).
    expect(pdusOf(roomId).map((p) => p.eventId)).toEqual(sent);
    const key = a.server.keys.ourKeys.signingKey;
    for (const { pdu } of pdusOf(roomId)) {
      expect(pdu.sender).toBe(alice.userId);
      expect(verifyEventSignature(pdu, DEFAULT_ROOM_VERSION, aName, key.keyId, key.publicKeyBase64)).toBe(true);
    }
    expect(Math.max(...receiver.transactions.map((t) => t.body.pdus.length))).toBeLessThanOrEqual(50);

    const typing = await call(a.url, 'PUT', `rooms/${encodeURIComponent(roomId)}/typing/${encodeURIComponent(alice.userId)}`, {
      token: alice.token,
      body: { typing: true, timeout: 30_000 },
    });
    expect(typing.status).toBe(200);
    await receiver.until(() => receiver.edus().some((edu) => edu.edu_type === 'm.typing'), 'the typing notification');
    expect(receiver.edus().find((edu) => edu.edu_type === 'm.typing')).toEqual({ edu_type: 'm.typing', content: { room_id: roomId, user_id: alice.userId, typing: true } });

    const last = sent[sent.length - 1];
    const receipt = await call(a.url, 'POST', `rooms/${encodeURIComponent(roomId)}/receipt/m.read/${encodeURIComponent(last)}`, { token: alice.token, body: {} });
    expect(receipt.status).toBe(200);
    await receiver.until(() => receiver.edus().some((edu) => edu.edu_type === 'm.receipt'), 'the receipt');
    expect(receiver.edus().find((edu) => edu.edu_type === 'm.receipt')).toEqual({
      edu_type: 'm.receipt',
      content: { [roomId]: { 'm.read': { [alice.userId]: { event_ids: [last], data: { ts: expect.any(Number) } } } } },
    });

    // The kick of the server's only member goes to it; what follows does not.
    const bob = `@bob:${receiver.serverName}`;
    const kick = await call(a.url, 'POST', `rooms/${encodeURIComponent(roomId)}/kick`, { token: alice.token, body: { user_id: bob } });
    expect(kick.status).toBe(200);
    await receiver.until(() => pdusOf(roomId).length === 61, 'the kick');
    expect(pdusOf(roomId)[60].pdu).toMatchObject({ type: 'm.room.member', state_key: bob, content: { membership: 'leave' } });
    await say(roomId, 'bob is gone');
    const other = await roomWithRemoteMember('carl');
    const marker = await say(other, 'in another room');
    await receiver.until(() => pdusOf(other).length === 1, 'the message of the other room');
    expect(pdusOf(other)[0].eventId).toBe(marker);
    expect(pdusOf(roomId)).toHaveLength(61);
    expect(receiver.deliveryProblems()).toEqual([]);
  });

  it('loses and duplicates nothing when the homeserver restarts in the middle of a busy queue', async () => {
    const roomId = await roomWithRemoteMember('dora');
    // The receiver is slow, and holds the answer to its third transaction until A has stopped.
    const held = receiver.holdTransaction(3, () => ({ process: true, status: 200, delayMs: 150 }));
    const sent: string[] = [];
    for (let i = 0; i < 120; i++) sent.push(await say(roomId, `busy ${i}`));
    await receiver.until(() => held() !== undefined, 'a held transaction');
    const heldEvents = receiver.attempts.find((attempt) => attempt.txnId === held())?.eventIds ?? [];
    expect(heldEvents.length).toBeGreaterThan(0);
    expect(pdusOf(roomId).length).toBeLessThan(sent.length);

    await a.close();
    // After the restart every third new transaction fails once before it is processed.
    let failed = 0;
    receiver.answer = (): ReceiverAnswer => (++failed % 3 === 0 ? { process: false, status: 503 } : { process: true, status: 200 });
    await startA();
    for (let i = 0; i < 30; i++) sent.push(await say(roomId, `after ${i}`));
    await receiver.until(() => pdusOf(roomId).length === sent.length, 'every event', 60_000);

    expect(pdusOf(roomId).map((p) => p.eventId)).toEqual(sent);
    expect(receiver.deliveryProblems()).toEqual([]);
    // The transaction whose answer A never got went again under the same id, with the same events.
    const again = receiver.attempts.filter((attempt) => attempt.txnId === held());
    expect(again.length).toBeGreaterThanOrEqual(2);
    expect(again[again.length - 1]).toMatchObject({ duplicate: true, eventIds: heldEvents });
  }, 180_000);
});
