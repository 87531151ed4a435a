/**
 * Search through matrix-js-sdk (an ESM package, hence a separate Node process):
 * `node js-sdk-search.mjs <homeserver url> <result file>`. Alice creates a room with bob and
 * both talk; right after the last message is acknowledged, alice searches the room's messages
 * with `searchRoomEvents` (newest first, one event of context each side, profiles) and pages
 * back with `backPaginateRoomEventsSearch`; bob finds alice with `searchUserDirectory` right
 * after she renamed herself; bob lists the rooms alice publishes with `publicRooms` (search,
 * paging) right after, and no longer sees one she unpublished. Writes a JSON report; exits 1
 * on failure.
 */
import * as sdk from 'matrix-js-sdk';
import { logger } from 'matrix-js-sdk/lib/logger.js';
import { runPairFlow, waitFor } from '../../support/js-sdk-helpers.mjs';

const [baseUrl, resultFile] = process.argv.slice(2);
const report = { steps: [] };
const step = (name) => report.steps.push(name);
logger.setLevel?.('error');

await runPairFlow(baseUrl, resultFile, report, async ({ alice, bob }) => {
    step('synced');

    const { room_id: roomId } = await alice.createRoom({ preset: 'private_chat', invite: [bob.getUserId()] });
    await waitFor(bob, [sdk.ClientEvent.Room, sdk.RoomEvent.MyMembership], () => bob.getRoom(roomId)?.getMyMembership() === 'invite', 20000, 'bob sees the invite');
    await bob.joinRoom(roomId);
    step('joined');

    report.sent = [];
    for (let i = 0; i < 14; i++) {
      const body = i % 2 === 0 ? `kumquat number ${i}` : `small talk ${i}`;
      await (i % 3 === 0 ? bob : alice).sendTextMessage(roomId, body);
      if (body.startsWith('kumquat')) report.sent.push(body);
    }
    step('sent');

    const found = await alice.searchRoomEvents({ term: 'kumquats', filter: { rooms: [roomId], limit: 4 } });
    report.count = found.count;
    report.highlights = found.highlights;
    const page = (results) => results.map((r) => r.context.getEvent().getContent().body);
    report.firstPage = page(found.results);
    report.context = found.results.map((r) => r.context.getTimeline().map((e) => e.getContent().body));
    report.hadNextBatch = typeof found.next_batch === 'string';
    while (found.next_batch) await alice.backPaginateRoomEventsSearch(found);
    report.allPages = page(found.results);
    step('searched');

    await alice.setDisplayName('Alice Kumquatson');
    const directory = await bob.searchUserDirectory({ term: 'kumquatson' });
    report.directory = directory;
    report.aliceId = alice.getUserId();
    step('directory');

    // The public room directory: rooms alice publishes are listed for bob right after, found
    // by a word of their topic, and paged through with next_batch.
    report.published = [];
    for (let i = 0; i < 3; i++) {
      const { room_id } = await alice.createRoom({ preset: 'public_chat', visibility: 'public', name: `Citrus ${i}`, topic: `kumquat grove ${i}` });
      report.published.push(room_id);
    }
    const { room_id: hidden } = await alice.createRoom({ preset: 'public_chat', name: 'Citrus unlisted', topic: 'kumquat grove hidden' });
    report.hidden = hidden;
    const firstPage = await bob.publicRooms({ limit: 2, filter: { generic_search_term: 'kumquat' } });
    const secondPage = await bob.publicRooms({ limit: 2, since: firstPage.next_batch, filter: { generic_search_term: 'kumquat' } });
    report.directoryPages = [firstPage.chunk.map((r) => r.room_id), secondPage.chunk.map((r) => r.room_id)];
    report.directoryTotal = firstPage.total_room_count_estimate;
    report.directoryChunk = firstPage.chunk[0];
    await alice.setRoomDirectoryVisibility(report.published[0], 'private');
    report.afterUnpublish = (await bob.publicRooms({ filter: { generic_search_term: 'kumquat' } })).chunk.map((r) => r.room_id);
    step('public rooms');
});
