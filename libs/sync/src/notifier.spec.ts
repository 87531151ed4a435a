import { PlainEventRows, SyncProjector, type EventRow } from '@hs/projections/sync';
import { ReceiptsProjector } from '@hs/projections/receipts';
import { PushProjector } from '@hs/projections/push';
import { TestRoom } from '../../../projections/sync/testing/test-room';
import { openProjectionHarness, type ProjectionHarness } from '../../../projections/sync/testing/harness';
import { SyncNotifier } from './notifier';
import { TypingStore } from './typing';
import { NoAccountData } from './sources';

const alice = '@alice:test.local';
const bob = '@bob:test.local';

let h: ProjectionHarness;
let notifier: SyncNotifier | undefined;
let typing: TypingStore;

beforeEach(async () => {
  h = await openProjectionHarness([new SyncProjector(), new ReceiptsProjector(), new PushProjector('test.local')], (n, p, w, written) => notifier?.checkpointAdvanced(n, p, w, written));
  typing = new TypingStore();
  notifier = new SyncNotifier(h.db.pool, typing, new NoAccountData());
});

afterEach(async () => {
  notifier?.close();
  notifier = undefined;
  typing.close();
  await h?.close();
});

/** The pool, with the name of every method called on it pushed to `calls`. */
function recordingCalls<T extends object>(pool: T, calls: string[]): T {
  return new Proxy(pool, {
    get(target, property, receiver) {
      const value: unknown = Reflect.get(target, property, receiver);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        calls.push(String(property));
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
}

async function settle() {
  await h.settle();
  await notifier!.idle();
}

describe('SyncNotifier', () => {
  it('does not let a request sleep past an event that landed between its token and its wait', async () => {
    const a = await TestRoom.create(h.store, alice);
    const b = await TestRoom.create(h.store, bob);
    await settle();
    const token = { events: await h.store.headPosition(), accountData: 0, typing: 0, receipts: await h.store.headPosition(), presence: 0, e2ee: 0 };
    await a.message(alice, 'landed before the wait');
    await settle();
    // Alice's room was touched after her token: she returns at once.
    expect(await notifier!.wait(alice, new Set([a.roomId]), token, 600_000)).toBe(true);
    // Bob's room was not: he sleeps until his (short) timeout.
    expect(await notifier!.wait(bob, new Set([b.roomId]), token, 20)).toBe(false);
  });

  it('wakes members of a room on typing, and ends waits on abort', async () => {
    const a = await TestRoom.create(h.store, alice);
    await settle();
    const head = await h.store.headPosition();
    const token = { events: head, accountData: 0, typing: typing.counter(), receipts: head, presence: 0, e2ee: 0 };
    const waiting = notifier!.wait(alice, new Set([a.roomId]), token, 600_000);
    typing.setTyping(a.roomId, bob, true, 1000);
    expect(await waiting).toBe(true);
    const controller = new AbortController();
    const aborted = notifier!.wait(bob, new Set(['!other:test.local']), { ...token, typing: typing.counter() }, 600_000, controller.signal);
    controller.abort();
    expect(await aborted).toBe(false);
    expect(notifier!.waiting).toBe(0);
  });
});

describe('SyncNotifier with ranges the projections wrote nothing in', () => {
  it('records them without reading the projections and wakes nobody', async () => {
    const queried: string[] = [];
    const pool = recordingCalls(h.db.pool, queried);
    const quiet = new SyncNotifier(pool);
    try {
      quiet.checkpointAdvanced('sync', 10n, true); // the first report only marks the position
      quiet.checkpointAdvanced('receipts', 10n, true);
      await quiet.idle();
      const waiting = quiet.wait(alice, new Set(['!a:test.local']), { events: 10n, accountData: 0, typing: 0, receipts: 10n, presence: 0, e2ee: 0 }, 600_000);
      quiet.checkpointAdvanced('sync', 20n, false);
      quiet.checkpointAdvanced('receipts', 30n, false);
      await quiet.idle();
      expect(queried).toEqual([]);
      expect(quiet.processedUpTo('sync')).toBe(20n);
      expect(quiet.processedUpTo('receipts')).toBe(30n);
      // The live window stays contiguous: it now vouches for the empty range.
      expect(quiet.live.upTo).toBe(20n);
      expect(quiet.live.floor).toBe(10n);
      expect(quiet.live.receiptsPosition).toBe(30n);
      expect(quiet.waiting).toBe(1);
      // A range that was written is read.
      quiet.checkpointAdvanced('receipts', 40n, true);
      await quiet.idle();
      expect(queried.length).toBeGreaterThan(0);
      quiet.close();
      expect(await waiting).toBe(true);
    } finally {
      quiet.close();
    }
  });
});

describe('SyncNotifier with rows the sync projector reported writing', () => {
  it('takes them without reading the range, and reads a range whose report does not start where it left off', async () => {
    const queried: string[] = [];
    const pool = recordingCalls(h.db.pool, queried);
    const direct = new SyncNotifier(pool);
    const row = (position: bigint, roomId: string, body: string): EventRow => ({
      position,
      event_id: `$${position}`,
      room_id: roomId,
      type: 'm.room.message',
      sender: bob,
      state_key: null,
      depth: position,
      in_timeline: true,
      event: { event_id: `$${position}`, type: 'm.room.message', sender: bob, content: { body }, origin_server_ts: 1, room_id: roomId },
      prev_content: null,
      prev_sender: null,
      replaces_state: null,
      redacted_because: null,
      txn_user: null,
      txn_device: null,
      txn_id: null,
      extra_unsigned: null,
    });
    try {
      direct.checkpointAdvanced('sync', 10n, true); // marks the position
      await direct.idle();
      const token = { events: 10n, accountData: 0, typing: 0, receipts: 0n, presence: 0, e2ee: 0 };
      const inA = direct.wait(alice, new Set(['!a:test.local']), token, 600_000);
      const inB = direct.wait(bob, new Set(['!b:test.local']), token, 600_000);
      const rows = [row(11n, '!a:test.local', 'one'), row(12n, '!a:test.local', 'two')];
      direct.checkpointAdvanced('sync', 12n, true, { after: 10n, value: new PlainEventRows(rows) });
      await direct.idle();
      expect(queried).toEqual([]);
      expect(await inA).toBe(true);
      expect(direct.waiting).toBe(1); // bob's room had nothing
      expect(direct.live.upTo).toBe(12n);
      expect(direct.live.rowsAfter('!a:test.local', 10n).map((r) => r.event.content.body)).toEqual(['one', 'two']);

      // A report that does not continue the examined ranges (after 11, not 12) is read back instead.
      direct.checkpointAdvanced('sync', 13n, true, { after: 11n, value: new PlainEventRows([row(13n, '!b:test.local', 'three')]) });
      await direct.idle();
      expect(queried.length).toBeGreaterThan(0);
      expect(direct.live.upTo).toBe(13n);
      direct.close();
      expect(await inB).toBe(true);
    } finally {
      direct.close();
    }
  });
});
