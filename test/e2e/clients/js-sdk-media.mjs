/**
 * Media through matrix-js-sdk (an ESM package, hence a separate Node process):
 * `node js-sdk-media.mjs <homeserver url> <result file>`. Alice uploads a PNG with
 * `uploadContent` and sends it as an `m.image`; bob's client receives the event, and bob
 * downloads the picture and a thumbnail from the URLs `mxcUrlToHttp` builds for authenticated
 * media (`/_matrix/client/v1/media/...`, with his access token), and reads the media
 * configuration with `getMediaConfig(true)`. Writes a JSON report; exits 1 on failure.
 */
import * as sdk from 'matrix-js-sdk';
import sharp from 'sharp';
import { logger } from 'matrix-js-sdk/lib/logger.js';
import { runPairFlow, waitFor } from '../../support/js-sdk-helpers.mjs';

const [baseUrl, resultFile] = process.argv.slice(2);
const report = { steps: [] };
const step = (name) => report.steps.push(name);
logger.setLevel?.('error');

await runPairFlow(baseUrl, resultFile, report, async ({ alice, bob }) => {
  step('synced');

  const picture = await sharp({ create: { width: 640, height: 400, channels: 3, background: { r: 10, g: 120, b: 200 } } }).png().toBuffer();
  report.pictureSize = picture.length;
  const { content_uri: contentUri } = await alice.uploadContent(picture, { name: 'sky.png', type: 'image/png' });
  report.contentUri = contentUri;
  step('uploaded');

  const { room_id: roomId } = await alice.createRoom({ preset: 'private_chat', invite: [bob.getUserId()] });
  await waitFor(bob, [sdk.ClientEvent.Room, sdk.RoomEvent.MyMembership], () => bob.getRoom(roomId)?.getMyMembership() === 'invite', 20000, 'bob sees the invite');
  await bob.joinRoom(roomId);
  await alice.sendMessage(roomId, { msgtype: 'm.image', body: 'sky.png', url: contentUri, info: { mimetype: 'image/png', size: picture.length, w: 640, h: 400 } });
  step('sent');

  const imageEvent = () =>
    bob
      .getRoom(roomId)
      ?.getLiveTimeline()
      .getEvents()
      .find((event) => event.getType() === 'm.room.message' && event.getContent().msgtype === 'm.image');
  await waitFor(bob, [sdk.RoomEvent.Timeline], () => imageEvent() !== undefined, 20000, 'bob receives the image');
  const received = imageEvent().getContent().url;
  report.receivedUrl = received;
  step('received');

  const headers = { Authorization: `Bearer ${bob.getAccessToken()}` };
  const downloadUrl = bob.mxcUrlToHttp(received, undefined, undefined, undefined, false, true, true);
  report.downloadUrl = downloadUrl;
  const download = await fetch(downloadUrl, { headers });
  const downloaded = Buffer.from(await download.arrayBuffer());
  report.download = { status: download.status, type: download.headers.get('content-type'), disposition: download.headers.get('content-disposition'), same: downloaded.equals(picture) };
  const unauthenticated = await fetch(downloadUrl);
  report.unauthenticatedStatus = unauthenticated.status;
  step('downloaded');

  const thumbnailUrl = bob.mxcUrlToHttp(received, 64, 64, 'crop', false, true, true);
  report.thumbnailUrl = thumbnailUrl;
  const thumbnail = await fetch(thumbnailUrl, { headers });
  const thumbnailBytes = Buffer.from(await thumbnail.arrayBuffer());
  const meta = thumbnail.status === 200 ? await sharp(thumbnailBytes).metadata() : {};
  report.thumbnail = { status: thumbnail.status, type: thumbnail.headers.get('content-type'), width: meta.width, height: meta.height };
  step('thumbnail');

  report.config = await bob.getMediaConfig(true);
  step('config');
});
