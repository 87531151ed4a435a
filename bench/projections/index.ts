/**
 * Projection rebuild benchmark: a store holding BENCH_EVENTS room events (default 100,000) in
 * 20 rooms of 10 local members each (messages, 2% of them in threads, mentions now and then,
 * and a read receipt of every member after each 1,000 messages), then an online rebuild of
 * every projection the homeserver runs, one after the other, each timed from start to swap.
 * Prints events per second of the store read (every projection reads every event and keeps
 * the ones it wants). Not a test: it prints figures.
 *
 * Run: npm run bench:projections (on the embedded database; BENCH_DATABASE_URL=postgres://...
 * runs it on a temporary PostgreSQL database made there). BENCH_ONLY=sync,push rebuilds only
 * those.
 */
import { randomUUID } from 'node:crypto';
import { ROOM_EVENT_ACCEPTED, roomStream, type RoomEventAccepted } from '@hs/contracts';
import { PostgresEventStore, ProjectionRunner, rebuildProjection, type JsonValue } from '@hs/eventstore';
import { createTemporaryDatabase, migrate, openDatabase } from '@hs/persistence';
import { allProjectors } from '../../apps/homeserver/src/projectors';
import { TestRoom } from '../../projections/sync/testing/test-room';

const EVENTS = Number(process.env.BENCH_EVENTS ?? 100_000);
const ROOMS = 20;
const MEMBERS = 10;
const SERVER = 'bench.local';
const BATCH = 1000;

async function main(): Promise<void> {
  const temporary = process.env.BENCH_DATABASE_URL ? await createTemporaryDatabase(process.env.BENCH_DATABASE_URL, 'hs_bench_projections') : undefined;
  const db = await openDatabase({ maxConnections: 8, ...(temporary ? { url: temporary.url } : {}) });
  await migrate(db);
  const store = await PostgresEventStore.open(db);
  console.log(`database: ${temporary ? 'PostgreSQL' : 'PGlite (embedded)'}; ${EVENTS} messages in ${ROOMS} rooms of ${MEMBERS} members`);

  const seeded = performance.now();
  const rooms: { room: TestRoom; members: string[] }[] = [];
  for (let r = 0; r < ROOMS; r++) {
    const members = Array.from({ length: MEMBERS }, (_, m) => `@user${r}_${m}:${SERVER}`);
    const room = await TestRoom.create(store, members[0], { name: `room ${r}` });
    for (const member of members.slice(1)) await room.join(member);
    rooms.push({ room, members });
  }
  for (let done = 0; done < EVENTS; done += BATCH) {
    const { room, members } = rooms[(done / BATCH) % ROOMS];
    const roots: string[] = [];
    const facts = Array.from({ length: Math.min(BATCH, EVENTS - done) }, (_, i) => {
      const n = done + i;
      const eventId = `$bench${n}`;
      const sender = members[n % MEMBERS];
      const content: Record<string, unknown> = { msgtype: 'm.text', body: n % 50 === 7 ? `hey ${members[(n + 1) % MEMBERS]} look at message ${n}` : `message ${n} of the benchmark` };
      if (n % 50 === 0) roots.push(eventId);
      else if (n % 50 === 1 && roots.length > 0) content['m.relates_to'] = { rel_type: 'm.thread', event_id: roots[roots.length - 1], is_falling_back: true };
      const fact: RoomEventAccepted = {
        v: 1,
        room_id: room.roomId,
        room_version: '11',
        event_id: eventId,
        pdu: { type: 'm.room.message', sender, content, origin_server_ts: 1_700_000_100_000 + n, room_id: room.roomId, depth: 100 + n } as unknown as RoomEventAccepted['pdu'],
        soft_failed: false,
        outlier: false,
        state_delta: { added: [], removed: [] },
        forward_extremities: [eventId],
      };
      return { id: randomUUID(), type: ROOM_EVENT_ACCEPTED, data: fact as unknown as JsonValue };
    });
    await store.append(roomStream(room.roomId), 'any', facts);
    const last = `$bench${done + facts.length - 1}`;
    for (const member of members) await room.receipt(member, last);
  }
  const head = await store.headPosition();
  const total = await store.countBetween(0n, head);
  console.log(`seeded ${total} store events in ${((performance.now() - seeded) / 1000).toFixed(1)} s`);

  const only = process.env.BENCH_ONLY?.split(',').filter((name) => name.length > 0);
  const projectors = allProjectors(SERVER).filter((projector) => !only || only.includes(projector.name));
  // The live generation of each, as a running server has it, so that every rebuild is online.
  const runner = new ProjectionRunner(db, store, projectors);
  const caughtUp = performance.now();
  await runner.start();
  await runner.waitFor(head);
  console.log(`all ${projectors.length} projections caught up together (one runner) in ${((performance.now() - caughtUp) / 1000).toFixed(1)} s`);

  for (const projector of projectors) {
    const started = performance.now();
    const result = await rebuildProjection(db, store, projector, { batchSize: 1000 });
    const seconds = (performance.now() - started) / 1000;
    console.log(
      `rebuild ${projector.name.padEnd(15)} generation ${result.generation}: ${total} events in ${seconds.toFixed(1)} s = ${Math.round(Number(total) / seconds)} events/s`,
    );
  }

  await runner.stop();
  await store.close();
  await db.close();
  await temporary?.drop();
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
