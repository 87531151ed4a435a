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
import { register as registerAt, startSyncing, syncOrder, waitFor, withTimeout } from '../../support/js-sdk-helpers.mjs';
import { logger } from 'matrix-js-sdk/lib/logger.js';

const [baseUrl, resultFile] = process.argv.slice(2);
const register = (username) => registerAt(baseUrl, username);
const report = { steps: [] };
const step = (name) => report.steps.push(name);
logger.setLevel?.('error');

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
