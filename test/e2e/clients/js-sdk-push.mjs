/**
 * Push notifications through matrix-js-sdk: `node js-sdk-push.mjs <homeserver url> <gateway
 * url> <result file>`. Bob sets an http pusher pointing at the gateway, a content rule for a
 * keyword (highlight) and, once in two rooms with alice, a room rule that silences the second
 * room. Alice sends a plain message and one with the keyword in the first room and a message
 * in the second. Bob's client must show 2 unread notifications (1 highlight) in the first room
 * and none in the second; GET /notifications lists the two, `only=highlight` the keyword one.
 * Writes a JSON report; exits 1 on failure.
 */
import * as sdk from 'matrix-js-sdk';
import { logger } from 'matrix-js-sdk/lib/logger.js';
import { runPairFlow, waitFor } from '../../support/js-sdk-helpers.mjs';

const [baseUrl, gatewayUrl, resultFile] = process.argv.slice(2);
const report = { steps: [] };
const step = (name) => report.steps.push(name);
logger.setLevel?.('error');

async function sharedRoom(alice, bob, name) {
  const { room_id: roomId } = await alice.createRoom({ preset: 'private_chat', name, invite: [bob.getUserId()] });
  await waitFor(bob, [sdk.ClientEvent.Room, sdk.RoomEvent.MyMembership], () => bob.getRoom(roomId)?.getMyMembership() === 'invite', 20000, `bob sees the invite to ${name}`);
  await bob.joinRoom(roomId);
  return roomId;
}

await runPairFlow(baseUrl, resultFile, report, async ({ alice, bob }) => {
  report.bob = { userId: bob.getUserId(), accessToken: bob.getAccessToken() };
  report.alice = { userId: alice.getUserId(), accessToken: alice.getAccessToken() };
  step('synced');

  await bob.setPusher({
    kind: 'http',
    app_id: 'org.example.push.test',
    pushkey: 'bob-pushkey-1',
    app_display_name: 'Push test',
    device_display_name: 'Test phone',
    lang: 'en',
    data: { url: `${gatewayUrl}/_matrix/push/v1/notify`, custom: 'kept' },
  });
  report.pushers = (await bob.getPushers()).pushers;
  step('pusher set');

  await bob.addPushRule('global', sdk.PushRuleKind.ContentSpecific, 'pineapple', {
    actions: ['notify', { set_tweak: 'highlight' }, { set_tweak: 'sound', value: 'fruit' }],
    pattern: 'pineapple',
  });
  const loud = await sharedRoom(alice, bob, 'Loud room');
  const quiet = await sharedRoom(alice, bob, 'Quiet room');
  report.rooms = { loud, quiet };
  await bob.addPushRule('global', sdk.PushRuleKind.RoomSpecific, quiet, { actions: [] });
  step('rules set');

  await alice.sendTextMessage(loud, 'hello bob');
  await alice.sendTextMessage(loud, 'who wants pineapple pizza?');
  await alice.sendTextMessage(quiet, 'nothing to see here');
  step('sent');

  const counts = (roomId) => {
    const room = bob.getRoom(roomId);
    return {
      total: room?.getUnreadNotificationCount(sdk.NotificationCountType.Total) ?? -1,
      highlight: room?.getUnreadNotificationCount(sdk.NotificationCountType.Highlight) ?? -1,
      messages: room?.getLiveTimeline().getEvents().filter((e) => e.getType() === 'm.room.message').length ?? 0,
    };
  };
  await waitFor(bob, [sdk.ClientEvent.Sync, sdk.RoomEvent.Timeline], () => counts(loud).total === 2 && counts(quiet).messages === 1, 20000, 'bob sees the counts');
  report.counts = { loud: counts(loud), quiet: counts(quiet) };
  step('counted');

  report.notifications = await bob.http.authedRequest(sdk.Method.Get, '/notifications');
  report.highlights = await bob.http.authedRequest(sdk.Method.Get, '/notifications', { only: 'highlight' });
  report.firstPage = await bob.http.authedRequest(sdk.Method.Get, '/notifications', { limit: '1' });
  if (report.firstPage.next_token) {
    report.secondPage = await bob.http.authedRequest(sdk.Method.Get, '/notifications', { limit: '1', from: report.firstPage.next_token });
  }
  step('listed');
});
