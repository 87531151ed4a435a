import 'reflect-metadata';
import { Test } from '@nestjs/testing';
import { QueryBus } from '@nestjs/cqrs';
import { SyncProjector } from '@hs/projections/sync';
import { ReceiptsProjector } from '@hs/projections/receipts';
import { PushProjector } from '@hs/projections/push';
import { TestRoom } from '../../../projections/sync/testing/test-room';
import { openProjectionHarness, type ProjectionHarness } from '../../../projections/sync/testing/harness';
import { ReadBarrier, processHorizon } from '@hs/eventstore';
import { ReadModelQueryHandler, SYNC_QUERY_HANDLERS } from './handlers';
import { SyncModule } from './sync.module';
import { SyncService } from './sync.service';
import { SyncNotifier } from './notifier';
import { GetContext, GetEventForUser, GetJoinedMembers, GetJoinedRooms, GetMembers, GetMessages, GetRoomStateForUser } from './queries';

const alice = '@alice:test.local';
const bob = '@bob:test.local';

let h: ProjectionHarness;

afterEach(async () => {
  await h?.close();
});

describe('SyncModule', () => {
  it('serves every read-side query through the QueryBus, with typed errors', async () => {
    const wiring: { notifier?: SyncNotifier } = {};
    h = await openProjectionHarness([new SyncProjector(), new ReceiptsProjector(), new PushProjector('test.local')], (n, p, w, written) => wiring.notifier?.checkpointAdvanced(n, p, w, written));
    const moduleRef = await Test.createTestingModule({ imports: [SyncModule.forRoot({ pool: h.db.pool })] }).compile();
    await moduleRef.init();
    wiring.notifier = moduleRef.get(SyncNotifier);
    const bus = moduleRef.get(QueryBus);
    try {
      const room = await TestRoom.create(h.store, alice, { name: 'Nest' });
      await room.join(bob, 'Bob');
      const msg = await room.message(bob, 'hello');
      await h.settle();
      const viewer = { userId: alice, deviceId: 'A' };
      const messages = await bus.execute(new GetMessages(room.roomId, viewer, 'b', undefined, undefined, 1));
      expect(messages.chunk.map((e) => e.content.body)).toEqual(['hello']);
      const context = await bus.execute(new GetContext(room.roomId, msg.eventId, viewer, 2));
      expect(context.event.event_id).toBe(msg.eventId);
      const state = await bus.execute(new GetRoomStateForUser(room.roomId, viewer));
      expect(state.map((e) => e.type)).toContain('m.room.name');
      const name = await bus.execute(new GetRoomStateForUser(room.roomId, viewer, 'm.room.name', ''));
      expect(name[0].content).toEqual({ name: 'Nest' });
      const members = await bus.execute(new GetMembers(room.roomId, viewer, undefined, 'join'));
      expect(members.map((e) => e.state_key).sort()).toEqual([alice, bob]);
      expect(await bus.execute(new GetJoinedMembers(room.roomId, viewer))).toEqual({ [alice]: {}, [bob]: { display_name: 'Bob' } });
      expect(await bus.execute(new GetJoinedRooms(bob))).toEqual([room.roomId]);
      const event = await bus.execute(new GetEventForUser(room.roomId, msg.eventId, viewer));
      expect(event.content.body).toBe('hello');
      await expect(bus.execute(new GetEventForUser(room.roomId, '$nope', viewer))).rejects.toMatchObject({ errcode: 'M_NOT_FOUND', httpStatus: 404 });
      await expect(bus.execute(new GetMessages(room.roomId, { userId: '@eve:test.local' }, 'b'))).rejects.toMatchObject({
        errcode: 'M_FORBIDDEN',
        httpStatus: 403,
      });
      await expect(bus.execute(new GetRoomStateForUser(room.roomId, viewer, 'm.room.topic', ''))).rejects.toMatchObject({ errcode: 'M_NOT_FOUND' });
      await expect(bus.execute(new GetMessages(room.roomId, viewer, 'b', undefined, undefined, -1))).rejects.toMatchObject({ errcode: 'M_INVALID_PARAM' });
      const sync = await moduleRef.get(SyncService).sync({ userId: bob, deviceId: 'B' });
      expect(Object.keys(sync.rooms?.join ?? {})).toEqual([room.roomId]);
    } finally {
      await moduleRef.close();
    }
  });

  it('with a read barrier, every query and /sync reflect the writes acknowledged before them (no settling)', async () => {
    expect(SYNC_QUERY_HANDLERS.every((handler) => handler.prototype instanceof ReadModelQueryHandler)).toBe(true);
    const wiring: { notifier?: SyncNotifier; barrier?: ReadBarrier } = {};
    h = await openProjectionHarness([new SyncProjector(), new ReceiptsProjector(), new PushProjector('test.local')], (n, p, w, written) => {
      wiring.barrier?.advance(n, p);
      wiring.notifier?.checkpointAdvanced(n, p, w, written);
    });
    const checked: string[] = [];
    const barrier = new ReadBarrier(processHorizon(h.store), { maxWaitMs: 30_000, observe: (name) => checked.push(name) });
    barrier.declare('sync');
    barrier.declare('receipts');
    wiring.barrier = barrier;
    const moduleRef = await Test.createTestingModule({ imports: [SyncModule.forRoot({ pool: h.db.pool, readBarrier: barrier })] }).compile();
    await moduleRef.init();
    const notifier = moduleRef.get(SyncNotifier);
    wiring.notifier = notifier;
    for (const lane of await h.runner.status()) {
      barrier.advance(lane.name, lane.checkpoint);
      notifier.checkpointAdvanced(lane.name, lane.checkpoint);
    }
    const bus = moduleRef.get(QueryBus);
    const sync = moduleRef.get(SyncService);
    try {
      const room = await TestRoom.create(h.store, alice, { name: 'Barrier' });
      await room.join(bob, 'Bob');
      const viewer = { userId: alice, deviceId: 'A' };
      let since = (await sync.sync({ userId: bob, deviceId: 'B' })).next_batch;
      for (let i = 0; i < 20; i++) {
        const msg = await room.message(bob, `m${i}`);
        const messages = await bus.execute(new GetMessages(room.roomId, viewer, 'b', undefined, undefined, 1));
        expect(messages.chunk.map((e) => e.event_id)).toEqual([msg.eventId]);
        const next = await sync.sync({ userId: alice, deviceId: 'A', since });
        expect(next.rooms?.join?.[room.roomId]?.timeline.events.map((e) => e.event_id)).toEqual([msg.eventId]);
        since = next.next_batch;
      }
      expect(barrier.lagging()).toEqual([]);
      // Both the query handlers and /sync went through the barrier.
      expect(checked.filter((name) => name === 'sync')).toHaveLength(20);
      expect(checked.filter((name) => name === 'sync/notified')).toHaveLength(21);
    } finally {
      await moduleRef.close();
    }
  });
});
