/**
 * Threads and edits through matrix-js-sdk (an ESM package, hence a separate Node process):
 * `node js-sdk-threads.mjs <homeserver url> <result file>`. Alice (a client with thread
 * support, which reads /versions to pick the stable thread endpoints) sends a root message;
 * bob replies in its thread with `sendMessage(roomId, threadId, content)` and edits his reply
 * with an `m.replace` relation. Alice reads the thread and the edit with `relations(...)`,
 * lists the room's threads with `createThreadListMessagesRequest` (GET /threads), and her
 * client shows the edited reply. Writes a JSON report; exits 1 on failure.
 */
import { writeFileSync } from 'node:fs';
import * as sdk from 'matrix-js-sdk';
import { logger } from 'matrix-js-sdk/lib/logger.js';
import { register, startSyncing, waitFor } from '../../support/js-sdk-helpers.mjs';

const [baseUrl, resultFile] = process.argv.slice(2);
const report = { steps: [] };
const step = (name) => report.steps.push(name);
logger.setLevel?.('error');

let alice;
let bob;
try {
  const suffix = Math.random().toString(36).slice(2, 8);
  alice = await register(baseUrl, `alice${suffix}`, { threadSupport: true });
  bob = await register(baseUrl, `bob${suffix}`);
  await startSyncing(alice);
  await startSyncing(bob);
  report.threadListSupport = sdk.Thread.hasServerSideListSupport === sdk.FeatureSupport.Stable;
  step('synced');

  const { room_id: roomId } = await alice.createRoom({ preset: 'private_chat', invite: [bob.getUserId()] });
  await waitFor(bob, [sdk.ClientEvent.Room, sdk.RoomEvent.MyMembership], () => bob.getRoom(roomId)?.getMyMembership() === 'invite', 20000, 'bob sees the invite');
  await bob.joinRoom(roomId);
  const { event_id: root } = await alice.sendMessage(roomId, { msgtype: 'm.text', body: 'Where shall we meet?' });
  const { event_id: reply } = await bob.sendMessage(roomId, root, { msgtype: 'm.text', body: 'At the statoin' });
  const { event_id: edit } = await bob.sendMessage(roomId, {
    msgtype: 'm.text',
    body: '* At the station',
    'm.new_content': { msgtype: 'm.text', body: 'At the station' },
    'm.relates_to': { rel_type: 'm.replace', event_id: reply },
  });
  report.ids = { root, reply, edit };
  step('sent');

  const inThread = await alice.relations(roomId, root, sdk.THREAD_RELATION_TYPE.name);
  report.thread = { original: inThread.originalEvent?.getId(), events: inThread.events.map((e) => e.getId()) };
  const replacements = await alice.relations(roomId, reply, sdk.RelationType.Replace, sdk.EventType.RoomMessage);
  report.replacements = replacements.events.map((e) => e.getId());
  step('relations');

  const list = await alice.createThreadListMessagesRequest(roomId, null, 10, sdk.Direction.Backward, sdk.ThreadFilterType.All);
  const listed = list.chunk.find((e) => e.event_id === root);
  report.threads = {
    roots: list.chunk.map((e) => e.event_id),
    summary: listed?.unsigned?.['m.relations']?.['m.thread'],
  };
  const participated = await alice.createThreadListMessagesRequest(roomId, null, 10, sdk.Direction.Backward, sdk.ThreadFilterType.My);
  report.participatedRoots = participated.chunk.map((e) => e.event_id);
  step('threads');

  // Alice's client shows the reply with its edit applied.
  const shownReply = () => {
    const room = alice.getRoom(roomId);
    return room?.findEventById(reply) ?? room?.getThread(root)?.findEventById(reply);
  };
  await waitFor(alice, [sdk.RoomEvent.Timeline, sdk.MatrixEventEvent.Replaced, sdk.ThreadEvent.Update], () => shownReply()?.getContent().body === 'At the station', 20000, 'alice sees the edited reply');
  report.shownBody = shownReply().getContent().body;
  step('shown');

  // Per-thread unread counts (the client's filter asks for unread_thread_notifications): bob's
  // reply is unread in the thread; alice's threaded read receipt on it reads the thread alone.
  const room = alice.getRoom(roomId);
  const threadCount = () => room.getThreadUnreadNotificationCount(root, sdk.NotificationCountType.Total);
  await waitFor(alice, [sdk.RoomEvent.UnreadNotifications, sdk.ClientEvent.Sync], () => threadCount() > 0, 20000, 'alice sees the thread unread');
  report.threadUnreadBefore = threadCount();
  const { event_id: mainAfter } = await bob.sendMessage(roomId, { msgtype: 'm.text', body: 'Back in the room' });
  await waitFor(alice, [sdk.RoomEvent.UnreadNotifications, sdk.ClientEvent.Sync], () => room.getRoomUnreadNotificationCount(sdk.NotificationCountType.Total) > 0, 20000, 'alice sees the main timeline unread');
  await alice.sendReadReceipt(shownReply());
  await waitFor(alice, [sdk.RoomEvent.UnreadNotifications, sdk.ClientEvent.Sync], () => threadCount() === 0, 20000, 'the threaded receipt reads the thread');
  report.threadUnreadAfter = threadCount();
  report.mainUnreadAfterThreadReceipt = room.getRoomUnreadNotificationCount(sdk.NotificationCountType.Total);
  report.mainAfter = mainAfter;
  step('thread receipts');
  report.ok = true;
} catch (error) {
  report.ok = false;
  report.error = error instanceof Error ? `${error.message}\n${error.stack}` : String(error);
} finally {
  alice?.stopClient();
  bob?.stopClient();
  writeFileSync(resultFile, JSON.stringify(report, null, 2));
  process.exit(report.ok ? 0 : 1);
}
