/**
 * What the matrix-js-sdk client scripts share: timeouts, waiting on client events, the order in
 * which syncs delivered messages, registration through user-interactive auth, starting a client.
 */
import { writeFileSync } from 'node:fs';
import * as sdk from 'matrix-js-sdk';

export function withTimeout(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Resolves once `check()` is true, re-checking on every event `emitter` emits of `events`. */
export function waitFor(emitter, events, check, ms, what) {
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
export const syncOrder = new Map();
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

/** The password `register` gives a user. */
export const passwordOf = (username) => `${username}-secret-password`;

/** Registers `username` (password `<username>-secret-password`); `clientOptions` go to createClient. */
export async function register(baseUrl, username, clientOptions = {}) {
  const anonymous = sdk.createClient({ baseUrl });
  const body = { username, password: passwordOf(username), initial_device_display_name: `${username} js-sdk` };
  let session;
  try {
    await anonymous.registerRequest(body);
    throw new Error('registration without auth should need user-interactive authentication');
  } catch (error) {
    if (error?.httpStatus !== 401 || !error.data?.session) throw error;
    session = error.data.session;
  }
  const response = await anonymous.registerRequest({ ...body, auth: { type: 'm.login.dummy', session } });
  const client = sdk.createClient({ ...clientOptions, baseUrl, accessToken: response.access_token, userId: response.user_id, deviceId: response.device_id });
  recordSyncOrder(client);
  return client;
}

export async function startSyncing(client) {
  const prepared = new Promise((resolve, reject) => {
    client.on(sdk.ClientEvent.Sync, (state, _prev, data) => {
      if (state === 'PREPARED') resolve();
      if (state === 'ERROR') reject(data?.error ?? new Error('sync error'));
    });
  });
  await client.startClient({ initialSyncLimit: 20 });
  await withTimeout(prepared, 30000, `${client.getUserId()} initial sync`);
}


/** Registers alice (at `urlA`) and bob (at `urlB`) under fresh names, both syncing. */
export async function syncingPair(urlA, urlB) {
  const suffix = Math.random().toString(36).slice(2, 8);
  const alice = await register(urlA, `alice${suffix}`);
  const bob = await register(urlB, `bob${suffix}`);
  await startSyncing(alice);
  await startSyncing(bob);
  return { alice, bob };
}

/**
 * Runs a client flow against a syncing pair and writes its report: `report.ok` and, on failure,
 * `report.error`; both clients are stopped and the process exits 0 or 1.
 */
export async function runPairFlow(baseUrl, resultFile, report, flow) {
  let pair;
  try {
    pair = await syncingPair(baseUrl, baseUrl);
    await flow(pair);
    report.ok = true;
  } catch (error) {
    report.ok = false;
    report.error = error instanceof Error ? `${error.message}\n${error.stack}` : String(error);
  } finally {
    pair?.alice.stopClient();
    pair?.bob.stopClient();
    writeFileSync(resultFile, JSON.stringify(report, null, 2));
    process.exit(report.ok ? 0 : 1);
  }
}
