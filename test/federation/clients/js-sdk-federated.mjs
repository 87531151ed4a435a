/**
 * Two users on two federating homeservers, driven by matrix-js-sdk (an ESM package, hence a
 * separate Node process): `node js-sdk-federated.mjs <url of A> <url of B> <result file>`.
 * Writes a JSON report of what each client saw; exits 1 (with `error` in the report) on failure.
 *
 * Alice (on A) creates a private room and invites Bob (on B); Bob sees the invite and joins
 * over federation; they talk; Bob renames himself and Alice sees it; Alice changes the topic
 * and Bob sees it; Bob leaves and Alice sees it.
 */
import { writeFileSync } from 'node:fs';
import * as sdk from 'matrix-js-sdk';
import { register, startSyncing, syncOrder, waitFor } from '../../support/js-sdk-helpers.mjs';
import { logger } from 'matrix-js-sdk/lib/logger.js';

const [urlA, urlB, resultFile] = process.argv.slice(2);
const report = { steps: [] };
const step = (name) => report.steps.push(name);
logger.setLevel?.('error');

let alice;
let bob;
try {
  const suffix = Math.random().toString(36).slice(2, 8);
  alice = await register(urlA, `alice${suffix}`);
  bob = await register(urlB, `bob${suffix}`);
  report.alice = alice.getUserId();
  report.bob = bob.getUserId();
  await startSyncing(alice);
  await startSyncing(bob);
  step('synced');

  const { room_id: roomId } = await alice.createRoom({ name: 'across servers', preset: 'private_chat' });
  await alice.invite(roomId, bob.getUserId());
  await waitFor(bob, [sdk.ClientEvent.Room, sdk.RoomEvent.MyMembership], () => bob.getRoom(roomId)?.getMyMembership() === 'invite', 30000, 'bob sees the invite');
  step('invited');
  await bob.joinRoom(roomId);
  await waitFor(alice, [sdk.RoomStateEvent.Members, sdk.RoomEvent.Timeline], () => alice.getRoom(roomId)?.getMember(bob.getUserId())?.membership === 'join', 30000, 'alice sees bob join');
  await waitFor(bob, [sdk.RoomStateEvent.Events, sdk.RoomEvent.Timeline], () => bob.getRoom(roomId)?.name === 'across servers', 30000, 'bob sees the room name');
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
  await waitFor(alice, echoes, sawConversation(alice), 30000, 'alice sees the conversation');
  await waitFor(bob, echoes, sawConversation(bob), 30000, 'bob sees the conversation');
  report.conversation = conversation;
  report.aliceTimeline = [...syncOrder.get(alice)];
  report.bobTimeline = [...syncOrder.get(bob)];
  step('conversation');

  await bob.setDisplayName('Bob from afar');
  await waitFor(alice, [sdk.RoomStateEvent.Members, sdk.RoomMemberEvent.Name, sdk.RoomEvent.Timeline], () => alice.getRoom(roomId)?.getMember(bob.getUserId())?.name === 'Bob from afar', 30000, 'alice sees the new display name');
  report.bobNameSeenByAlice = alice.getRoom(roomId).getMember(bob.getUserId()).name;
  step('displayname');

  await alice.setRoomTopic(roomId, 'a topic from A');
  await waitFor(bob, [sdk.RoomStateEvent.Events, sdk.RoomEvent.Timeline], () => bob.getRoom(roomId)?.currentState.getStateEvents('m.room.topic', '')?.getContent().topic === 'a topic from A', 30000, 'bob sees the topic');
  step('topic');

  await bob.leave(roomId);
  await waitFor(alice, [sdk.RoomStateEvent.Members, sdk.RoomEvent.Timeline], () => alice.getRoom(roomId)?.getMember(bob.getUserId())?.membership === 'leave', 30000, 'alice sees bob leave');
  step('left');
  report.ok = true;
} catch (error) {
  report.ok = false;
  report.error = error instanceof Error ? `${error.name}: ${error.message}\n${error.stack}` : String(error);
} finally {
  alice?.stopClient();
  bob?.stopClient();
  writeFileSync(resultFile, JSON.stringify(report, null, 2));
  process.exit(report.ok ? 0 : 1);
}
