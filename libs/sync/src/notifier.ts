/**
 * Wakes long-polling /sync requests the moment something for their user lands, without
 * polling: the projection runner reports each checkpoint advance of the sync and receipts
 * projections (one query then finds the rooms and users the new range touched, unless the
 * sync projector's statement reported the rows it wrote, which are then taken as they are), the typing
 * store reports its rooms, the account data source its users, the presence store its users
 * (whose joined rooms one query then finds: the user's own requests wake at once, those of
 * the users who share a room with them once the rooms are known), the e2ee source its users
 * (to-device messages wake their recipients, device list changes their room-mates too). A request waits with its
 * rooms and its token; it is woken only when one of its rooms or its user is affected.
 */
import type { DatabasePool } from 'slonik';
import type { SyncToken } from '@hs/contracts';
import type { ReadBarrier, WrittenBatch } from '@hs/eventstore';
import { SYNC_PROJECTION, SyncQueries, writtenEventRows } from '@hs/projections/sync';
import { RECEIPTS_PROJECTION, receiptsBetween } from '@hs/projections/receipts';
import { LiveWindow } from './live';
import { declareNotifiedReadModels, notifiedReadModel } from './read-models';
import type { AccountDataSource, E2eeSource, PresenceSource, TypingSource } from './sources';

interface Waiter {
  userId: string;
  rooms: ReadonlySet<string>;
  wake: () => void;
}

/** One processed range of a projection: which rooms and users it touched. */
interface Range {
  after: bigint;
  upTo: bigint;
  rooms: ReadonlySet<string>;
  users: ReadonlySet<string>;
}

const HISTORY = 512;

/**
 * A change of some users' presence or e2ee data at a counter of its stream: whose, and the rooms
 * they were joined to when their room-mates are concerned too (undefined: being read; 'all':
 * unknown; 'none': only the users themselves are concerned).
 */
interface UserChange {
  counter: number;
  userIds: ReadonlySet<string>;
  rooms: ReadonlySet<string> | 'all' | 'none' | undefined;
}

/**
 * The recent changes of a stream whose changes concern users (and maybe the users who share a
 * room with them): which waiters they wake, and whether a token missed one.
 */
class UserChangeLog {
  private readonly changes: UserChange[] = [];
  /** Changes at or below this counter may have been forgotten. */
  private floor = 0;
  /** Changes whose users' rooms are not read yet. */
  private readonly unresolved: UserChange[] = [];

  constructor(
    private readonly joinedRoomsOf: (userIds: readonly string[]) => Promise<Map<string, string[]>>,
    private readonly wake: (rooms: ReadonlySet<string>, users: ReadonlySet<string>) => void,
    private readonly wakeAll: () => void,
  ) {}

  add(counter: number, userIds: readonly string[], roomMates: boolean): void {
    const change: UserChange = { counter, userIds: new Set(userIds), rooms: roomMates ? undefined : 'none' };
    this.changes.push(change);
    if (this.changes.length > HISTORY) this.floor = this.changes.splice(0, this.changes.length - HISTORY).at(-1)?.counter ?? 0;
    this.wake(new Set(), change.userIds);
    if (!roomMates) return;
    // Changes made together (a sweep of the timeouts) have their rooms read in one query.
    this.unresolved.push(change);
    if (this.unresolved.length === 1) setImmediate(() => this.resolveRooms());
  }

  /** Whether a change after `since` (the stream being at `latest`) concerns the user: their own, or of a user joined to one of their rooms. */
  missed(userId: string, rooms: ReadonlySet<string>, since: number, latest: number): boolean {
    if (latest <= since) return false;
    // The changes after the token are no longer all remembered: wake to be safe.
    if (since < this.floor) return true;
    // A change whose rooms are still being read wakes its waiters once they are known.
    return this.changes.some(
      (c) =>
        c.counter > since &&
        (c.userIds.has(userId) || c.rooms === 'all' || (c.rooms instanceof Set && [...rooms].some((room) => (c.rooms as ReadonlySet<string>).has(room)))),
    );
  }

  /** Reads the rooms of the changed users, then wakes the requests of their room-mates. */
  private resolveRooms(): void {
    const changes = this.unresolved.splice(0);
    const users = new Set<string>();
    for (const change of changes) for (const userId of change.userIds) users.add(userId);
    this.joinedRoomsOf([...users]).then(
      (joined) => {
        const rooms = new Set<string>();
        for (const change of changes) {
          const changeRooms = new Set<string>();
          for (const userId of change.userIds) for (const room of joined.get(userId) ?? []) changeRooms.add(room);
          change.rooms = changeRooms;
          for (const room of changeRooms) rooms.add(room);
        }
        this.wake(rooms, new Set());
      },
      () => {
        // The rooms could not be read: wake every request so none sleeps past the changes.
        for (const change of changes) change.rooms = 'all';
        this.wakeAll();
      },
    );
  }
}

export class SyncNotifier {
  private readonly waiters = new Set<Waiter>();
  private readonly processed = new Map<string, bigint>();
  private readonly targets = new Map<string, bigint>();
  private readonly history = new Map<string, Range[]>();
  private readonly accountData = new Map<string, number>();
  private chain: Promise<void> = Promise.resolve();
  private readonly presenceChanges: UserChangeLog;
  private readonly e2eeChanges: UserChangeLog;
  /** The highest e2ee position announced. */
  private e2eeLatest = 0;
  private readonly unsubscribe: (() => void)[] = [];
  /** The recent past of the sync projection in memory, for /sync's live path. */
  readonly live: LiveWindow;

  constructor(
    private readonly pool: DatabasePool,
    private readonly typing?: TypingSource,
    accountData?: AccountDataSource,
    private readonly queries: SyncQueries = new SyncQueries(pool),
    /** Told each position up to which a projection's ranges have been examined (reads of /sync wait for it). */
    private readonly barrier?: ReadBarrier,
    private readonly presence?: PresenceSource,
    e2ee?: E2eeSource,
  ) {
    this.live = new LiveWindow(queries);
    const joinedRoomsOf = (userIds: readonly string[]) => this.queries.joinedRoomsOf(this.pool, userIds);
    const wakeAll = () => {
      for (const waiter of [...this.waiters]) waiter.wake();
    };
    this.presenceChanges = new UserChangeLog(joinedRoomsOf, (rooms, users) => this.wakeRooms(rooms, users), wakeAll);
    this.e2eeChanges = new UserChangeLog(joinedRoomsOf, (rooms, users) => this.wakeRooms(rooms, users), wakeAll);
    if (barrier) declareNotifiedReadModels(barrier);
    if (typing) this.unsubscribe.push(typing.onChange((roomId) => this.wakeRooms(new Set([roomId]), new Set())));
    if (accountData) {
      this.unsubscribe.push(
        accountData.onChange((userId, position) => {
          this.accountData.set(userId, Math.max(position, this.accountData.get(userId) ?? 0));
          this.wakeRooms(new Set(), new Set([userId]));
        }),
      );
    }
    if (presence?.enabled) this.unsubscribe.push(presence.onChange((userId, counter) => this.presenceChanges.add(counter, [userId], true)));
    if (e2ee) {
      this.unsubscribe.push(
        e2ee.onChange((change) => {
          this.e2eeLatest = Math.max(this.e2eeLatest, change.position);
          // A device list change concerns the users who share a room with its users; to-device messages only their recipients.
          this.e2eeChanges.add(change.position, change.userIds, change.kind === 'device_list');
        }),
      );
    }
  }

  /**
   * Tells the notifier that a projection's checkpoint reached `position` (wire it to the
   * projection runner's `onCheckpoint`). Ranges are examined one after another, in order;
   * a range the projection wrote nothing in (`wrote` false: the runner passed over events the
   * projector does not handle since its previous report) is recorded without a query, and so
   * is a range whose rows the sync projector reported in `written` (when it starts where the
   * examined ranges end).
   */
  checkpointAdvanced(name: string, position: bigint, wrote = true, written?: WrittenBatch): void {
    if (name !== SYNC_PROJECTION && name !== RECEIPTS_PROJECTION) return;
    // -1: a first report of position 0 (an empty store) still marks where examination starts.
    const target = this.targets.get(name) ?? -1n;
    if (position <= target) return;
    this.targets.set(name, position);
    this.chain = this.chain
      .then(() => this.process(name, position, wrote, written))
      .catch(() => {
        // The range could not be examined: wake every request so none sleeps past its event.
        this.history.set(name, []);
        this.processed.set(name, position);
        if (name === SYNC_PROJECTION) this.live.start(position);
        else this.live.startReceipts(position);
        this.barrier?.advance(notifiedReadModel(name), position);
        for (const waiter of [...this.waiters]) waiter.wake();
      });
  }

  /** Resolves once everything reported so far has been examined (and its waiters woken). */
  idle(): Promise<void> {
    return this.chain;
  }

  /**
   * Waits until something for `userId` happens after `token` (true) or `timeoutMs` passes or
   * `signal` aborts (false). `rooms` are the rooms whose events concern the user.
   */
  wait(userId: string, rooms: ReadonlySet<string>, token: SyncToken, timeoutMs: number, signal?: AbortSignal): Promise<boolean> {
    if (this.missed(userId, rooms, token)) return Promise.resolve(true);
    if (timeoutMs <= 0 || signal?.aborted) return Promise.resolve(false);
    return new Promise<boolean>((resolve) => {
      const finish = (woken: boolean) => {
        clearTimeout(timer);
        this.waiters.delete(waiter);
        signal?.removeEventListener('abort', onAbort);
        resolve(woken);
      };
      const onAbort = () => finish(false);
      const waiter: Waiter = { userId, rooms, wake: () => finish(true) };
      const timer = setTimeout(() => finish(false), timeoutMs);
      this.waiters.add(waiter);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Position up to which a projection's ranges have been examined (undefined: none yet). */
  processedUpTo(name: string): bigint | undefined {
    return this.processed.get(name);
  }

  /** Highest account data position announced for the user since start-up (0: none). */
  accountDataChangedAt(userId: string): number {
    return this.accountData.get(userId) ?? 0;
  }

  /** Number of requests waiting now. */
  get waiting(): number {
    return this.waiters.size;
  }

  close(): void {
    for (const unsubscribe of this.unsubscribe) unsubscribe();
    for (const waiter of [...this.waiters]) waiter.wake();
  }

  /** Whether something for the user was examined after the token was cut (the request must not sleep). */
  private missed(userId: string, rooms: ReadonlySet<string>, token: SyncToken): boolean {
    const touches = (name: string, since: bigint): boolean => {
      if ((this.processed.get(name) ?? 0n) <= since) return false;
      const ranges = this.history.get(name) ?? [];
      // The ranges after the token are no longer all remembered: wake to be safe.
      if (ranges.length === 0 || ranges[0].after > since) return true;
      return ranges.some((r) => r.upTo > since && (r.users.has(userId) || [...rooms].some((room) => r.rooms.has(room))));
    };
    if (touches(SYNC_PROJECTION, token.events) || touches(RECEIPTS_PROJECTION, token.receipts)) return true;
    if (this.typing) {
      for (const room of rooms) if (this.typing.roomCounter(room) > token.typing) return true;
    }
    if (this.presence?.enabled && this.presenceChanges.missed(userId, rooms, token.presence, this.presence.counter())) return true;
    if (this.e2eeChanges.missed(userId, rooms, token.e2ee, this.e2eeLatest)) return true;
    return (this.accountData.get(userId) ?? 0) > token.accountData;
  }

  private async process(name: string, upTo: bigint, wrote: boolean, written: WrittenBatch | undefined): Promise<void> {
    const after = this.processed.get(name);
    if (after === undefined) {
      // The first report only marks the position: no request can be waiting on anything earlier.
      this.processed.set(name, upTo);
      if (name === SYNC_PROJECTION) this.live.start(upTo);
      else this.live.startReceipts(upTo);
      this.barrier?.advance(notifiedReadModel(name), upTo);
      return;
    }
    if (upTo <= after) return;
    let rooms = new Set<string>();
    let users = new Set<string>();
    const writtenRows = name === SYNC_PROJECTION && written?.after === after ? writtenEventRows(written.value) : undefined;
    if (!wrote) {
      if (name === SYNC_PROJECTION) this.live.add(after, upTo, [], users, rooms);
      else this.live.addReceipts(after, upTo, []);
    } else if (writtenRows) {
      this.live.add(after, upTo, writtenRows, users, rooms);
      rooms = new Set(writtenRows.map((row) => row.room_id));
    } else if (name === SYNC_PROJECTION) ({ rooms, users } = await this.live.load(this.pool, after, upTo));
    else {
      const receipts = await receiptsBetween(this.pool, after, upTo);
      this.live.addReceipts(after, upTo, receipts);
      rooms = new Set(receipts.map((r) => r.room_id));
    }
    const ranges = this.history.get(name) ?? [];
    ranges.push({ after, upTo, rooms, users });
    if (ranges.length > HISTORY) ranges.splice(0, ranges.length - HISTORY);
    this.history.set(name, ranges);
    this.processed.set(name, upTo);
    this.barrier?.advance(notifiedReadModel(name), upTo);
    this.wakeRooms(rooms, users);
  }

  private wakeRooms(rooms: ReadonlySet<string>, users: ReadonlySet<string>): void {
    if (rooms.size === 0 && users.size === 0) return;
    for (const waiter of [...this.waiters]) {
      if (users.has(waiter.userId) || [...waiter.rooms].some((room) => rooms.has(room))) waiter.wake();
    }
  }
}
