/**
 * matrix-js-sdk as an application service's client (an ESM package, hence a separate Node
 * process): `node js-sdk-appservice.mjs <homeserver url> <as_token> <user id> <room id> <result file>`.
 * With the service's token and the `user_id` query parameter on every request, it registers the
 * user of the service's namespace, joins the room as that user and sends a message; it also
 * checks whoami. Writes a JSON report; exits 1 on failure.
 */
import { writeFileSync } from 'node:fs';
import * as sdk from 'matrix-js-sdk';
import { logger } from 'matrix-js-sdk/lib/logger.js';

const [baseUrl, asToken, userId, roomId, resultFile] = process.argv.slice(2);
const report = { steps: [] };
const step = (name) => report.steps.push(name);
logger.setLevel?.('error');

try {
  // registerRequest sends no access token: the SDK's authenticated request carries the service's.
  const sender = sdk.createClient({ baseUrl, accessToken: asToken });
  const localpart = userId.slice(1, userId.indexOf(':'));
  const registered = await sender.http.authedRequest(sdk.Method.Post, '/register', undefined, { type: 'm.login.application_service', username: localpart, inhibit_login: true });
  report.registered = registered.user_id;
  step('registered');

  // This SDK version does not apply `queryParams` to its requests: a fetch that adds `user_id`
  // to every URL makes it act as the user, as bridges built on it do.
  const fetchAsUser = (input, init) => {
    const url = new URL(typeof input === 'string' || input instanceof URL ? input : input.url);
    url.searchParams.set('user_id', userId);
    return fetch(url, init);
  };
  const client = sdk.createClient({ baseUrl, accessToken: asToken, userId, fetchFn: fetchAsUser });
  report.whoami = (await client.whoami()).user_id;
  await client.joinRoom(roomId);
  step('joined');
  const sent = await client.sendMessage(roomId, { msgtype: 'm.text', body: 'hello from the bridge' });
  report.eventId = sent.event_id;
  step('sent');
  report.ok = true;
} catch (error) {
  report.ok = false;
  report.error = error instanceof Error ? `${error.message}\n${error.stack}` : String(error);
}
writeFileSync(resultFile, JSON.stringify(report));
process.exit(report.ok ? 0 : 1);
