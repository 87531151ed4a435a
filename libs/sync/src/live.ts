/**
 * The recent past of the sync projection, kept in memory so that the long-polls woken by a new
 * event answer without reading the database (`SyncService`'s live path).
 *
 * The notifier hands every processed range of the sync projection (positions after, upTo]
 * here with its event rows, the users whose memberships changed and the rooms whose state
 * changed. From the first range on, the window holds every event row above `floor` (the oldest
 * ranges are forgotten when the window is full, which moves `floor` up). Besides the rows it
 * caches what an incremental sync of a steady room needs: a user's memberships, a room's
 * member events (for lazy-loading members) and a user's unread counts per room. Each cached
 * answer records the generation of what it depends on and is used only while that generation
 * is unchanged, so an answer read while a change was being processed is never kept.
 *
 * Anything the window cannot vouch for (a token older than the floor, a room whose state
 * changed or had a redaction after the token, a membership change of the user) makes the
 * caller take the ordinary path through the database.
 */
import type { CommonQueryMethods } from 'slonik';
import type { EventRow, MembershipRow, SyncQueries } from '@hs/projections/sync';
import type { ReceiptRow } from '@hs/projections/receipts';
import { unreadCountsIn, type RoomUnread } from './unread';

/** Rows kept at most; older ranges are forgotten first. */
export const LIVE_MAX_ROWS = 5000;

interface Range {
  after: bigint;
  upTo: bigint;
  rows: number;
}

interface MembershipsEntry {
  generation: string;
  rows: MembershipRow[];
}

interface MembersEntry {
  generation: string;
  /** user id -> current member event row. */
  byUser: Map<string, EventRow>;
}

interface UnreadEntry {
  generation: string;
  /** Counted up to this position. */
  position: bigint;
  counts: RoomUnread;
  /** Events up to this position are read (not counted). */
  readUpTo: bigint;
}

export class LiveWindow {
  /** Every row above this position is held (undefined until the first range). */
  private floorPosition: bigint | undefined;
  private upToPosition = 0n;
  private readonly ranges: Range[] = [];
  private rowCount = 0;
  /** room id -> its rows in position order. */
  private readonly roomRows = new Map<string, EventRow[]>();
  /** room id -> upper end of the last range with a state change or a redaction in the room. */
  private readonly roomDirty = new Map<string, bigint>();
  /** Generations: bumped on every change that invalidates cached answers. */
  private readonly roomGeneration = new Map<string, number>();
  private readonly userGeneration = new Map<string, number>();
  private readonly receiptGeneration = new Map<string, number>();
  private epoch = 0;
  private readonly memberships = new Map<string, MembershipsEntry>();
  private readonly members = new Map<string, MembersEntry>();
  private readonly unread = new Map<string, UnreadEntry>();
  /** Receipts above `receiptsFloor` up to `receiptsUpTo`, in position order. */
  private readonly receiptRows: ReceiptRow[] = [];
  private receiptsFloor: bigint | undefined;
  private receiptsUpTo = 0n;

  constructor(
    private readonly queries: SyncQueries,
    private readonly maxRows = LIVE_MAX_ROWS,
  ) {}

  /** Lowest token position the window can answer for (undefined: not yet). */
  get floor(): bigint | undefined {
    return this.floorPosition;
  }

  /** Position up to which the window holds the projection. */
  get upTo(): bigint {
    return this.upToPosition;
  }

  /**
   * Forgets everything and starts the window at `position` (the projection's checkpoint when
   * first seen, or where a range could not be read).
   */
  start(position: bigint): void {
    this.clear();
    this.floorPosition = position;
    this.upToPosition = position;
  }

  /** Reads the range (after, upTo] of the sync projection and adds it. */
  async load(conn: CommonQueryMethods, after: bigint, upTo: bigint): Promise<{ rooms: Set<string>; users: Set<string> }> {
    const { rows, users, stateRooms } = await this.queries.rangeBetween(conn, after, upTo);
    this.add(after, upTo, rows, users, stateRooms);
    const rooms = new Set(rows.map((r) => r.room_id));
    for (const room of stateRooms) rooms.add(room);
    return { rooms, users };
  }

  /** Adds a processed range (exported for tests through `load`). */
  add(after: bigint, upTo: bigint, rows: readonly EventRow[], users: ReadonlySet<string>, stateRooms: ReadonlySet<string>): void {
    if (this.floorPosition === undefined || after !== this.upToPosition) {
      // Not contiguous with what is held: start over from here.
      this.start(upTo);
      return;
    }
    const dirty = new Set(stateRooms);
    for (const row of rows) {
      if (row.state_key !== null || row.type === 'm.room.redaction') dirty.add(row.room_id);
      let list = this.roomRows.get(row.room_id);
      if (!list) {
        list = [];
        this.roomRows.set(row.room_id, list);
      }
      list.push(row);
    }
    for (const room of dirty) {
      this.roomDirty.set(room, upTo);
      this.bump(this.roomGeneration, room);
    }
    for (const user of users) this.bump(this.userGeneration, user);
    this.ranges.push({ after, upTo, rows: rows.length });
    this.rowCount += rows.length;
    this.upToPosition = upTo;
    this.trim();
  }

  /** Marks the position the receipts window starts from. */
  startReceipts(position: bigint): void {
    this.receiptRows.length = 0;
    this.receiptsFloor = position;
    this.receiptsUpTo = position;
  }

  /**
   * Adds the receipts recorded in (after, upTo]; the unread counts of their (room, user) pairs
   * are read again.
   */
  addReceipts(after: bigint, upTo: bigint, rows: readonly ReceiptRow[]): void {
    for (const row of rows) this.bump(this.receiptGeneration, `${row.room_id}\u0000${row.user_id}`);
    if (this.receiptsFloor === undefined || after !== this.receiptsUpTo) {
      this.startReceipts(upTo);
      return;
    }
    this.receiptRows.push(...rows);
    this.receiptsUpTo = upTo;
    if (this.receiptRows.length > this.maxRows) {
      const drop = this.receiptRows.length - Math.floor((this.maxRows * 3) / 4);
      this.receiptsFloor = this.receiptRows[drop - 1].position;
      this.receiptRows.splice(0, drop);
    }
  }

  /** Receipts recorded after `since` (in position order), or undefined when the window does not reach back that far. */
  receiptsAfter(since: bigint): ReceiptRow[] | undefined {
    if (this.receiptsFloor === undefined || since < this.receiptsFloor) return undefined;
    let lo = 0;
    let hi = this.receiptRows.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.receiptRows[mid].position <= since) lo = mid + 1;
      else hi = mid;
    }
    return this.receiptRows.slice(lo);
  }

  /** Position up to which the receipts window holds every receipt. */
  get receiptsPosition(): bigint | undefined {
    return this.receiptsFloor === undefined ? undefined : this.receiptsUpTo;
  }

  /** Whether the window holds every row of the room in (after, upTo] unchanged by state changes or redactions. */
  steady(roomId: string, after: bigint): boolean {
    if (this.floorPosition === undefined || after < this.floorPosition) return false;
    return (this.roomDirty.get(roomId) ?? -1n) <= after;
  }

  /** The room's rows in (after, upTo], in position order. */
  rowsAfter(roomId: string, after: bigint): EventRow[] {
    const list = this.roomRows.get(roomId);
    if (!list || list.length === 0) return [];
    let lo = 0;
    let hi = list.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (list[mid].position <= after) lo = mid + 1;
      else hi = mid;
    }
    return list.slice(lo);
  }

  /** The user's memberships if cached and unchanged since they were read (else undefined: load them). */
  cachedMemberships(userId: string): MembershipRow[] | undefined {
    const entry = this.memberships.get(userId);
    return entry && entry.generation === this.generation(this.userGeneration, userId) ? entry.rows : undefined;
  }

  async loadMemberships(userId: string): Promise<void> {
    const generation = this.generation(this.userGeneration, userId);
    const rows = await this.queries.membershipsOf(this.queries.pool, userId);
    if (this.generation(this.userGeneration, userId) === generation) this.memberships.set(userId, { generation, rows });
  }

  /** The room's current member events (user id -> row) if cached and unchanged since (else undefined: load them). */
  cachedMembers(roomId: string): ReadonlyMap<string, EventRow> | undefined {
    const entry = this.members.get(roomId);
    return entry && entry.generation === this.generation(this.roomGeneration, roomId) ? entry.byUser : undefined;
  }

  async loadMembers(roomId: string): Promise<void> {
    const generation = this.generation(this.roomGeneration, roomId);
    const rows = await this.queries.stateAt(this.queries.pool, roomId, this.upToPosition, { types: ['m.room.member'] });
    if (this.generation(this.roomGeneration, roomId) !== generation) return;
    this.members.set(roomId, { generation, byUser: new Map(rows.map((r) => [r.state_key ?? '', r])) });
  }

  /**
   * The user's unread counts in the room at the window's position: the cached count while the
   * window holds no event of another sender in the room since it was read (the push
   * projection decides what such an event counts); undefined when they must be read
   * (`loadUnread`).
   */
  cachedUnread(userId: string, roomId: string): RoomUnread | undefined {
    const key = `${roomId}\u0000${userId}`;
    const entry = this.unread.get(key);
    if (!entry || entry.generation !== this.unreadGeneration(roomId, key)) return undefined;
    if (this.floorPosition === undefined || entry.position < this.floorPosition) return undefined;
    if (!this.stillCounted(entry, roomId, userId, this.upToPosition)) return undefined;
    return { ...entry.counts, main: { ...entry.counts.main }, threads: { ...entry.counts.threads } };
  }

  /** Reads the user's unread counts of the rooms at the window's position, in one query. */
  async loadUnread(userId: string, rooms: readonly { roomId: string; joinPosition: bigint }[]): Promise<void> {
    if (rooms.length === 0) return;
    const upTo = this.upToPosition;
    const generations = new Map(rooms.map((r) => [r.roomId, this.unreadGeneration(r.roomId, `${r.roomId}\u0000${userId}`)]));
    const read = await unreadCountsIn(this.queries.pool, rooms, userId, upTo);
    for (const room of rooms) {
      const counted = read.get(room.roomId);
      const key = `${room.roomId}\u0000${userId}`;
      if (!counted || this.unreadGeneration(room.roomId, key) !== generations.get(room.roomId)) continue;
      this.unread.set(key, {
        generation: generations.get(room.roomId)!,
        position: upTo,
        counts: { notification_count: counted.notification_count, highlight_count: counted.highlight_count, main: counted.main, threads: counted.threads },
        readUpTo: counted.readUpTo,
      });
    }
  }

  /** Whether the entry's counts hold at `upTo`: no unread event of another sender after it (the entry moves up then). */
  private stillCounted(entry: UnreadEntry, roomId: string, userId: string, upTo: bigint): boolean {
    if (entry.position >= upTo) return true;
    for (const row of this.rowsAfter(roomId, entry.position)) {
      if (row.position > upTo) break;
      if (row.position <= entry.readUpTo) continue;
      if (row.in_timeline && row.sender !== userId) return false;
    }
    entry.position = upTo;
    return true;
  }

  private generation(map: Map<string, number>, key: string): string {
    return `${this.epoch}:${map.get(key) ?? 0}`;
  }

  private unreadGeneration(roomId: string, key: string): string {
    return `${this.generation(this.roomGeneration, roomId)}:${this.receiptGeneration.get(key) ?? 0}`;
  }

  private bump(map: Map<string, number>, key: string): void {
    map.set(key, (map.get(key) ?? 0) + 1);
  }

  private trim(): void {
    if (this.rowCount <= this.maxRows || this.ranges.length <= 1) return;
    // Forget the oldest ranges down to three quarters of the limit (trimming is then rare).
    while (this.rowCount > (this.maxRows * 3) / 4 && this.ranges.length > 1) {
      const oldest = this.ranges.shift()!;
      this.rowCount -= oldest.rows;
      this.floorPosition = oldest.upTo;
    }
    const floor = this.floorPosition ?? 0n;
    for (const [room, list] of this.roomRows) {
      let drop = 0;
      while (drop < list.length && list[drop].position <= floor) drop++;
      if (drop === list.length) this.roomRows.delete(room);
      else if (drop > 0) list.splice(0, drop);
    }
    for (const [key, entry] of this.unread) if (entry.position < floor) this.unread.delete(key);
  }

  private clear(): void {
    this.epoch++;
    this.ranges.length = 0;
    this.rowCount = 0;
    this.roomRows.clear();
    this.roomDirty.clear();
    this.memberships.clear();
    this.members.clear();
    this.unread.clear();
  }
}
