/**
 * The conversation flow driven by matrix-js-sdk (an ESM package, hence a separate Node
 * process): `node js-sdk-flow.mjs <homeserver url> <result file>`. Writes a JSON report of
 * what each client saw to the result file; exits 1 (with `error` in the report) on failure.
 *
 * Two users register (user-interactive auth with m.login.dummy), alice creates a room and
 * invites bob, bob joins from his invite, both exchange messages, alice sends 200 more, bob
 * paginates back through them with /messages, bob changes his display name and alice's client
 * sees it on his room member.
 */
import { writeFileSync } from 'node:fs';
import * as sdk from 'matrix-js-sdk';
import { logger } from 'matrix-js-sdk/lib/logger.js';

const [baseUrl, resultFile] = process.argv.slice(2);
const report = { steps: [] };
const step = (name) => report.steps.push(name);
logger.setLevel?.('error');

function withTimeout(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Resolves once `check()` is true, re-checking on every event `emitter` emits of `events`. */
function waitFor(emitter, events, check, ms, what) {
  return withTimeout(
    new Promise((resolve) => {
      const handler = () => {
        if (check()) {
          for (const event of events) emitter.off(event, handler);
          resolve();
        }
      };
      for (const event of events) emitter.on(event, handler);
      handler();
    }),
    ms,
    what,
  );
}

/**
 * The order in which the server's syncs delivered message events to a client: events of
 * others as they enter the timeline, the client's own when their remote echo (matched by
 * transaction id) arrives. The live timeline itself places the client's own local echoes at
 * send time, which is the client's order, not the server's.
 */
const syncOrder = new Map();
function recordSyncOrder(client) {
  const order = [];
  syncOrder.set(client, order);
  client.on(sdk.RoomEvent.Timeline, (event, _room, toStartOfTimeline) => {
    if (!toStartOfTimeline && event.getType() === 'm.room.message' && event.getId()?.startsWith('$') && !event.getUnsigned().transaction_id) {
      order.push(event.getContent().body);
    }
  });
  client.on(sdk.RoomEvent.LocalEchoUpdated, (event) => {
    if (event.status === null && event.getType() === 'm.room.message') order.push(event.getContent().body);
  });
}

async function register(username) {
  const anonymous = sdk.createClient({ baseUrl });
  const body = { username, password: `${username}-secret-password`, initial_device_display_name: `${username} js-sdk` };
  let session;
  try {
    await anonymous.registerRequest(body);
    throw new Error('registration without auth should need user-interactive authentication');
  } catch (error) {
    if (error?.httpStatus !== 401 || !error.data?.session) throw error;
    session = error.data.session;
  }
  const response = await anonymous.registerRequest({ ...body, auth: { type: 'm.login.dummy', session } });
  const client = sdk.createClient({ baseUrl, accessToken: response.access_token, userId: response.user_id, deviceId: response.device_id });
  recordSyncOrder(client);
  return client;
}

async function startSyncing(client) {
  const prepared = new Promise((resolve, reject) => {
    client.on(sdk.ClientEvent.Sync, (state, _prev, data) => {
      if (state === 'PREPARED') resolve();
      if (state === 'ERROR') reject(data?.error ?? new Error('sync error'));
    });
  });
  await client.startClient({ initialSyncLimit: 20 });
  await withTimeout(prepared, 30000, `${client.getUserId()} initial sync`);
}

const bodiesOf = (room) =>
  room
    .getLiveTimeline()
    .getEvents()
    .filter((e) => e.getType() === 'm.room.message')
    .map((e) => e.getContent().body);

let alice;
let bob;
try {
  const suffix = Math.random().toString(36).slice(2, 8);
  alice = await register(`alice${suffix}`);
  bob = await register(`bob${suffix}`);
  report.alice = alice.getUserId();
  report.bob = bob.getUserId();
  step('registered');

  await startSyncing(alice);
  await startSyncing(bob);
  step('synced');

  const { room_id: roomId } = await alice.createRoom({ name: 'js-sdk e2e', preset: 'private_chat' });
  report.roomId = roomId;
  await alice.invite(roomId, bob.getUserId());
  step('invited');

  await waitFor(bob, [sdk.ClientEvent.Room, sdk.RoomEvent.MyMembership], () => bob.getRoom(roomId)?.getMyMembership() === 'invite', 20000, 'bob sees the invite');
  report.bobSawInvite = true;
  await bob.joinRoom(roomId);
  await waitFor(alice, [sdk.RoomStateEvent.Members, sdk.RoomEvent.Timeline], () => alice.getRoom(roomId)?.getMember(bob.getUserId())?.membership === 'join', 20000, 'alice sees bob join');
  step('joined');

  const conversation = [];
  for (let i = 0; i < 6; i++) {
    const sender = i % 2 === 0 ? alice : bob;
    const body = `${i % 2 === 0 ? 'alice' : 'bob'} says ${i}`;
    conversation.push(body);
    await sender.sendTextMessage(roomId, body);
  }
  const sawConversation = (client) => () => conversation.every((body) => syncOrder.get(client).includes(body));
  const echoes = [sdk.RoomEvent.Timeline, sdk.RoomEvent.LocalEchoUpdated];
  await waitFor(alice, echoes, sawConversation(alice), 20000, 'alice sees the conversation');
  await waitFor(bob, echoes, sawConversation(bob), 20000, 'bob sees the conversation');
  report.conversation = conversation;
  report.aliceTimeline = [...syncOrder.get(alice)];
  report.bobTimeline = [...syncOrder.get(bob)];
  report.aliceLiveTimeline = bodiesOf(alice.getRoom(roomId));
  // Every local echo was replaced by the server's event (no pending or failed sends).
  report.pendingAlice = alice
    .getRoom(roomId)
    .getLiveTimeline()
    .getEvents()
    .filter((e) => e.status !== null).length;
  step('conversation');

  const many = [];
  for (let i = 0; i < 200; i++) {
    const body = `message ${i}`;
    many.push(body);
    await alice.sendTextMessage(roomId, body);
  }
  await waitFor(bob, echoes, () => syncOrder.get(bob).includes('message 199'), 30000, 'bob sees message 199');
  step('sent 200');

  // Back through the whole room with /messages, 30 at a time, from the live end.
  const paginated = [];
  let from = null;
  for (let page = 0; page < 100; page++) {
    const response = await bob.createMessagesRequest(roomId, from, 30, sdk.Direction.Backward);
    for (const event of response.chunk) if (event.type === 'm.room.message') paginated.push(event.content.body);
    if (!response.end || response.chunk.length === 0) break;
    from = response.end;
  }
  report.paginated = paginated;
  step('paginated');

  // A fresh client with a small initial sync fills its timeline back with scrollback.
  const bobAgain = sdk.createClient({ baseUrl, accessToken: bob.getAccessToken(), userId: bob.getUserId(), deviceId: bob.getDeviceId() });
  bob.stopClient();
  const prepared = new Promise((resolve) => bobAgain.on(sdk.ClientEvent.Sync, (state) => state === 'PREPARED' && resolve()));
  await bobAgain.startClient({ initialSyncLimit: 5 });
  await withTimeout(prepared, 30000, 'second bob client initial sync');
  const room = bobAgain.getRoom(roomId);
  report.initialWindow = bodiesOf(room);
  for (let i = 0; i < 50 && room.getLiveTimeline().getPaginationToken(sdk.EventTimeline.BACKWARDS) !== null; i++) {
    await bobAgain.scrollback(room, 40);
  }
  report.scrolledBack = bodiesOf(room);
  bobAgain.stopClient();
  bob = bobAgain;
  step('scrollback');

  await bob.setDisplayName('Bob the Builder');
  await waitFor(
    alice,
    [sdk.RoomStateEvent.Members, sdk.RoomMemberEvent.Name, sdk.RoomEvent.Timeline],
    () => alice.getRoom(roomId)?.getMember(bob.getUserId())?.name === 'Bob the Builder',
    20000,
    'alice sees the new display name',
  );
  report.bobNameSeenByAlice = alice.getRoom(roomId).getMember(bob.getUserId()).name;
  step('displayname');

  report.ok = true;
} catch (error) {
  report.ok = false;
  report.error = error instanceof Error ? `${error.name}: ${error.message}\n${error.stack}` : String(error);
  if (error?.data) report.errorData = error.data;
} finally {
  alice?.stopClient();
  bob?.stopClient();
  writeFileSync(resultFile, JSON.stringify(report, null, 2));
  process.exit(report.ok ? 0 : 1);
}
