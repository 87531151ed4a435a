/**
 * End-to-end encryption flows driven by matrix-js-sdk with its Rust crypto (an ESM package
 * with a wasm module, hence a separate Node process):
 * `node crypto-flows.mjs <flow> <params json> <homeserver url> <result file>`. Writes a JSON
 * report of what the clients saw to the result file; exits 1 (with `error` in the report) on
 * failure. The crypto stores are in memory.
 *
 * Flows:
 * - `converse`: alice and bob in a megolm room, one message each, each decrypts the other's;
 *   the events as the server serves them from /messages.
 * - `backup`: alice makes a key backup and sends a message; once its key is in the backup on
 *   the server, a new device of alice (given the backup key, with alice's first device
 *   stopped) restores the backup and decrypts the message.
 * - `cross-signing`: alice sets up cross-signing and secret storage; a new device of alice
 *   reads the cross-signing keys from secret storage and signs itself; what each client then
 *   reports of the new device's trust; the new device decrypts new messages of bob and alice.
 * - `nio-peer`: alice (js-sdk) in a megolm room with another client's user (params.peer):
 *   waits for the peer's message (params.expect), decrypts it, answers (params.send).
 */
import { writeFileSync } from 'node:fs';
import * as sdk from 'matrix-js-sdk';
import { logger } from 'matrix-js-sdk/lib/logger.js';
import { passwordOf, register as registerAt, startSyncing, waitFor, withTimeout } from '../../../support/js-sdk-helpers.mjs';

const [flow, paramsJson, baseUrl, resultFile] = process.argv.slice(2);
const params = JSON.parse(paramsJson);
const report = { flow, steps: [] };
const step = (name) => report.steps.push(name);
const clients = [];
const suffix = Math.random().toString(36).slice(2, 8);
const WAIT = 60_000;
// The SDK's and the Rust crypto's chatter (errors stay; E2EE_CLIENT_LOG=1 keeps all).
if (!process.env.E2EE_CLIENT_LOG) {
  logger.setLevel?.('error');
  for (const method of ['trace', 'debug', 'info', 'log', 'warn']) console[method] = () => {};
}

const localpart = (client) => client.getUserId().slice(1).split(':')[0];

/** Starts the client's Rust crypto (in-memory store) and its sync. */
async function started(client) {
  clients.push(client);
  await client.initRustCrypto({ useIndexedDB: false });
  await startSyncing(client);
  return client;
}

async function newUser(name, clientOptions = {}) {
  return started(await registerAt(baseUrl, `${name}${suffix}`, clientOptions));
}

/** A new device of `client`'s user (a password login). */
async function newDevice(client, clientOptions = {}) {
  const user = localpart(client);
  const login = await sdk.createClient({ baseUrl }).loginRequest({
    type: 'm.login.password',
    identifier: { type: 'm.id.user', user },
    password: passwordOf(user),
    initial_device_display_name: `${user} second js-sdk`,
  });
  return started(sdk.createClient({ ...clientOptions, baseUrl, accessToken: login.access_token, userId: login.user_id, deviceId: login.device_id }));
}

/** A call to the server outside the SDK: `{ status, body }`. */
async function raw(client, method, path, body) {
  const response = await fetch(`${baseUrl}/_matrix/client/v3${path}`, {
    method,
    headers: { Authorization: `Bearer ${client.getAccessToken()}`, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: response.status, body: await response.json() };
}

/** Polls `check` (async) every 250 ms until it is true. */
async function until(check, ms, what) {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

const joined = (client, roomId, userId) => client.getRoom(roomId)?.getMember(userId)?.membership === 'join';

/** A private room with m.room.encryption (megolm) that `members` join from their invite. */
async function encryptedRoom(owner, members) {
  const { room_id: roomId } = await owner.createRoom({
    name: 'e2ee',
    preset: 'private_chat',
    invite: members.map((member) => member.getUserId()),
    initial_state: [{ type: 'm.room.encryption', state_key: '', content: { algorithm: 'm.megolm.v1.aes-sha2' } }],
  });
  for (const member of members) {
    await waitFor(member, [sdk.ClientEvent.Room, sdk.RoomEvent.MyMembership], () => member.getRoom(roomId)?.getMyMembership() === 'invite', WAIT, `${member.getUserId()} sees the invite`);
    await member.joinRoom(roomId);
  }
  await waitForRoom(owner, roomId, members.map((member) => member.getUserId()));
  for (const member of members) await waitForRoom(member, roomId, [owner.getUserId()]);
  return roomId;
}

/** Waits until `client` knows the room as encrypted with `userIds` joined. */
function waitForRoom(client, roomId, userIds) {
  return waitFor(
    client,
    [sdk.ClientEvent.Room, sdk.RoomStateEvent.Members, sdk.RoomStateEvent.Events, sdk.RoomEvent.Timeline],
    () => Boolean(client.getRoom(roomId)?.hasEncryptionStateEvent()) && userIds.every((userId) => joined(client, roomId, userId)),
    WAIT,
    `${client.getUserId()} sees ${userIds.join(', ')} joined in the encrypted room`,
  );
}

/** The encrypted events of the live timeline: sender, decrypted body, decryption failure. */
function encryptedEvents(client, roomId) {
  const events = client.getRoom(roomId)?.getLiveTimeline().getEvents() ?? [];
  return events
    .filter((event) => event.isEncrypted())
    .map((event) => ({ sender: event.getSender(), body: event.getClearContent()?.body, failure: event.isDecryptionFailure() ? event.decryptionFailureReason ?? 'failed' : null }));
}

/** Waits until `client` has decrypted a message `body` in the room; returns what it decrypted. */
async function decrypted(client, roomId, body) {
  const has = () => encryptedEvents(client, roomId).some((event) => event.body === body && event.failure === null);
  try {
    await waitFor(client, [sdk.RoomEvent.Timeline, sdk.MatrixEventEvent.Decrypted], has, WAIT, `${client.getUserId()} (${client.getDeviceId()}) decrypts "${body}"`);
  } catch (error) {
    report.undecrypted = encryptedEvents(client, roomId);
    throw error;
  }
  return encryptedEvents(client, roomId).find((event) => event.body === body);
}

/** Sends `body` and waits for the server's echo. */
async function send(client, roomId, body) {
  const { event_id: eventId } = await client.sendTextMessage(roomId, body);
  return eventId;
}

/** The room's events as /messages serves them (newest first), message contents summarised. */
async function wire(client, roomId) {
  const { status, body } = await raw(client, 'GET', `/rooms/${encodeURIComponent(roomId)}/messages?dir=b&limit=100`);
  if (status !== 200) throw new Error(`/messages answered ${status}: ${JSON.stringify(body)}`);
  return body.chunk
    .filter((event) => event.state_key === undefined)
    .map((event) => ({
      type: event.type,
      sender: event.sender,
      algorithm: event.content.algorithm,
      ciphertext: typeof event.content.ciphertext === 'string',
      content: JSON.stringify(event.content),
    }));
}

async function converse() {
  const alice = await newUser('alice');
  const bob = await newUser('bob');
  step('started');
  const roomId = await encryptedRoom(alice, [bob]);
  step('joined');
  const aliceBody = `alice's secret ${suffix}`;
  const bobBody = `bob's secret ${suffix}`;
  await send(alice, roomId, aliceBody);
  await send(bob, roomId, bobBody);
  step('sent');
  report.bobDecrypted = await decrypted(bob, roomId, aliceBody);
  report.aliceDecrypted = await decrypted(alice, roomId, bobBody);
  step('decrypted');
  report.secrets = [aliceBody, bobBody];
  report.wire = await wire(alice, roomId);
  report.users = { alice: alice.getUserId(), bob: bob.getUserId() };
}

async function backup() {
  const alice = await newUser('alice');
  const crypto = alice.getCrypto();
  await crypto.resetKeyBackup();
  // resetKeyBackup starts the backup without waiting for it; this waits.
  const check = await crypto.checkKeyBackupAndEnable();
  report.backupTrust = check?.trustInfo;
  const version = await crypto.getActiveSessionBackupVersion();
  if (!version) throw new Error('no active key backup after resetKeyBackup');
  report.version = version;
  step('backup created');
  const roomId = await encryptedRoom(alice, []);
  const body = `before the backup ${suffix}`;
  await send(alice, roomId, body);
  step('sent');
  await until(
    async () => {
      const { status, body: keys } = await raw(alice, 'GET', `/room_keys/keys?version=${encodeURIComponent(version)}`);
      report.backedUp = status === 200 ? Object.keys(keys.rooms?.[roomId]?.sessions ?? {}).length : `status ${status}`;
      return typeof report.backedUp === 'number' && report.backedUp > 0;
    },
    WAIT,
    'the room key reaches the key backup on the server',
  );
  report.backupInfo = (await raw(alice, 'GET', '/room_keys/version')).body;
  step('backed up');
  const key = await crypto.getSessionBackupPrivateKey();
  if (!key) throw new Error('the first device has no backup decryption key');
  // Stopped, the first device cannot forward the room key to the new one.
  alice.stopClient();

  const again = await newDevice(alice);
  report.newDevice = again.getDeviceId();
  // Before the restore the new device cannot read the message.
  await waitFor(
    again,
    [sdk.RoomEvent.Timeline, sdk.MatrixEventEvent.Decrypted, sdk.ClientEvent.Room],
    () => encryptedEvents(again, roomId).some((event) => event.failure !== null),
    WAIT,
    'the new device fails to decrypt the message before the restore',
  );
  report.beforeRestore = encryptedEvents(again, roomId);
  step('undecryptable');
  await again.getCrypto().storeSessionBackupPrivateKey(key, version);
  report.restored = await again.getCrypto().restoreKeyBackup();
  step('restored');
  report.decrypted = await decrypted(again, roomId, body);
  report.secret = body;
  step('decrypted');
}

/** Answers user-interactive auth with the user's password (or none, where none is asked). */
function passwordAuth(client) {
  return async (makeRequest) => {
    let session;
    try {
      await makeRequest(null);
      return;
    } catch (error) {
      if (error?.httpStatus !== 401 || !error.data?.flows) throw error;
      session = error.data.session;
    }
    const user = localpart(client);
    await makeRequest({ type: 'm.login.password', identifier: { type: 'm.id.user', user }, password: passwordOf(user), ...(session ? { session } : {}) });
  };
}

async function crossSigning() {
  let recoveryKey;
  const cryptoCallbacks = {
    getSecretStorageKey: async ({ keys }) => {
      const keyId = Object.keys(keys)[0];
      return keyId && recoveryKey ? [keyId, recoveryKey.privateKey] : null;
    },
  };
  const alice = await newUser('alice', { cryptoCallbacks });
  const bob = await newUser('bob');
  step('started');
  await alice.getCrypto().bootstrapCrossSigning({ authUploadDeviceSigningKeys: passwordAuth(alice) });
  await alice.getCrypto().bootstrapSecretStorage({
    createSecretStorageKey: async () => (recoveryKey = await alice.getCrypto().createRecoveryKeyFromPassphrase()),
    setupNewSecretStorage: true,
  });
  report.aliceReady = await alice.getCrypto().isCrossSigningReady();
  step('bootstrapped');
  const roomId = await encryptedRoom(alice, [bob]);
  step('joined');

  const again = await newDevice(alice, { cryptoCallbacks });
  // The private keys from secret storage are checked against the public ones of /keys/query.
  await until(() => again.getCrypto().userHasCrossSigningKeys(alice.getUserId(), true), WAIT, "the new device downloads alice's cross-signing keys");
  await again.getCrypto().bootstrapCrossSigning({});
  report.newDeviceReady = await again.getCrypto().isCrossSigningReady();
  step('new device cross-signed');

  const aliceId = alice.getUserId();
  const newDeviceId = again.getDeviceId();
  const status = async (client, deviceId) => {
    const device = await client.getCrypto().getDeviceVerificationStatus(aliceId, deviceId);
    return device && { crossSigningVerified: device.crossSigningVerified, signedByOwner: device.signedByOwner, verified: device.isVerified() };
  };
  // The signature reaches the other clients through their device list updates.
  await until(async () => (await status(alice, newDeviceId))?.crossSigningVerified === true, WAIT, "alice's first device sees the new device cross-signed");
  await until(async () => (await status(bob, newDeviceId))?.signedByOwner === true, WAIT, "bob sees alice's new device signed by her");
  report.newDeviceSeenByAlice = await status(alice, newDeviceId);
  report.newDeviceSeenByBob = await status(bob, newDeviceId);
  report.firstDeviceSeenByNewDevice = await status(again, alice.getDeviceId());
  const identity = async (client) => {
    const user = await client.getCrypto().getUserVerificationStatus(aliceId);
    return { crossSigningVerified: user.isCrossSigningVerified(), verified: user.isVerified() };
  };
  report.aliceIdentitySeenByNewDevice = await identity(again);
  report.aliceIdentitySeenByBob = await identity(bob);
  report.bobSeesAliceKeys = await bob.getCrypto().userHasCrossSigningKeys(aliceId, true);
  step('trust');

  await waitForRoom(again, roomId, [aliceId, bob.getUserId()]);
  const bobBody = `bob after cross-signing ${suffix}`;
  const aliceBody = `alice after cross-signing ${suffix}`;
  await send(bob, roomId, bobBody);
  await send(alice, roomId, aliceBody);
  report.newDeviceDecrypted = [await decrypted(again, roomId, bobBody), await decrypted(again, roomId, aliceBody)];
  const replyBody = `the new device answers ${suffix}`;
  await send(again, roomId, replyBody);
  report.bobDecrypted = await decrypted(bob, roomId, replyBody);
  report.secrets = [bobBody, aliceBody, replyBody];
  step('decrypted');
}

async function nioPeer() {
  const alice = await newUser('alice');
  report.alice = alice.getUserId();
  step('started');
  // The peer registers itself: its profile is there once it has.
  const profile = `/profile/${encodeURIComponent(params.peer)}`;
  await until(async () => (await raw(alice, 'GET', profile)).status === 200, WAIT, `${params.peer} registers`);
  const { room_id: roomId } = await alice.createRoom({
    name: 'e2ee with nio',
    preset: 'private_chat',
    invite: [params.peer],
    initial_state: [{ type: 'm.room.encryption', state_key: '', content: { algorithm: 'm.megolm.v1.aes-sha2' } }],
  });
  report.roomId = roomId;
  await waitForRoom(alice, roomId, [params.peer]);
  step('peer joined');
  report.decrypted = await decrypted(alice, roomId, params.expect);
  step('decrypted');
  await send(alice, roomId, params.send);
  step('sent');
  report.wire = await wire(alice, roomId);
}

const flows = { converse, backup, 'cross-signing': crossSigning, 'nio-peer': nioPeer };
try {
  if (!flows[flow]) throw new Error(`unknown flow ${flow}`);
  await withTimeout(flows[flow](), 240_000, flow);
  report.ok = true;
} catch (error) {
  report.ok = false;
  report.error = error instanceof Error ? `${error.name}: ${error.message}\n${error.stack}` : String(error);
  if (error?.data) report.errorData = error.data;
} finally {
  for (const client of clients) client.stopClient();
  writeFileSync(resultFile, JSON.stringify(report, null, 2));
  process.exit(report.ok ? 0 : 1);
}
