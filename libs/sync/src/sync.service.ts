/**
 * GET /_matrix/client/v3/sync: the response body for a user's device, initial or incremental,
 * long-polling until something for the user lands or the timeout passes. Presence (of the
 * user and of the users who share a joined room with them) comes from the in-memory presence
 * store, beside the rooms.
 */
import { setTimeout as delay } from 'node:timers/promises';
import type { CommonQueryMethods } from 'slonik';
import { encodePaginationToken, encodeSyncToken, parseSyncToken, type SyncToken } from '@hs/contracts';
import {
  SYNC_PROJECTION,
  SyncQueries,
  bundleAggregations,
  relationOf,
  eventMatches,
  fromIgnored,
  roomMatches,
  strippedStateOf,
  type ClientEvent,
  type EventRow,
  type MembershipRow,
  type RoomSummary,
  type RoomEventFilter,
  type RoomVisibility,
  type StrippedStateEvent,
} from '@hs/projections/sync';
import { RECEIPTS_PROJECTION, addReceipt, receiptsPosition, receiptsSince, type ReceiptContent } from '@hs/projections/receipts';
import { inFederationFormat, type WireEventSource } from './event-format';
import { DEFAULT_TIMELINE_LIMIT, MAX_TIMELINE_LIMIT, applyEventFields, type SyncFilter } from './filter';
import { IgnoredUsers } from './ignored-users';
import { LazyMembersCache } from './lazy-members';
import { SyncNotifier } from './notifier';
import { SYNC_ENDPOINT_READ_MODELS } from './read-models';
import { PUSH_PROJECTION } from '@hs/projections/push';
import type { ReadBarrier } from '@hs/eventstore';
import type { LiveWindow } from './live';
import { SharedReads } from './shared-reads';
import type {
  AccountDataDelta,
  AccountDataEntry,
  AccountDataSource,
  E2eeSource,
  PresenceSource,
  PresenceState,
  PresenceStatus,
  ProfileSource,
  ToDeviceMessage,
  TypingSource,
} from './sources';
import { unreadFields, unreadNotificationsIn, type RoomUnread, type UnreadNotifications } from './unread';

export interface SyncRequest {
  userId: string;
  deviceId: string;
  since?: string;
  /** Longest wait of an incremental sync with nothing new, in milliseconds. */
  timeoutMs?: number;
  fullState?: boolean;
  filter?: SyncFilter;
  /** Aborts the wait (e.g. the client went away). */
  signal?: AbortSignal;
  /** `set_presence`: how the sync marks the user's presence (default online; offline: not at all). */
  setPresence?: PresenceState;
}

/** An m.presence event of the `presence` section. */
export interface PresenceEvent {
  type: 'm.presence';
  sender: string;
  content: PresenceStatus & { displayname?: string; avatar_url?: string };
}

export interface Timeline {
  events: Partial<ClientEvent>[];
  limited: boolean;
  prev_batch: string;
}

export interface JoinedRoom {
  timeline: Timeline;
  state: { events: Partial<ClientEvent>[] };
  account_data: { events: AccountDataEntry[] };
  ephemeral: { events: { type: string; content: Record<string, unknown> }[] };
  unread_notifications: UnreadNotifications;
  /** With `unread_thread_notifications` in the filter: the unread threads' counts (and the main timeline's above). */
  unread_thread_notifications?: Record<string, UnreadNotifications>;
  summary?: RoomSummary;
}

export interface LeftRoom {
  timeline: Timeline;
  state: { events: Partial<ClientEvent>[] };
  account_data: { events: AccountDataEntry[] };
}

export interface SyncResponse {
  next_batch: string;
  rooms?: {
    join?: Record<string, JoinedRoom>;
    invite?: Record<string, { invite_state: { events: StrippedStateEvent[] } }>;
    knock?: Record<string, { knock_state: { events: StrippedStateEvent[] } }>;
    leave?: Record<string, LeftRoom>;
  };
  account_data?: { events: AccountDataEntry[] };
  presence?: { events: PresenceEvent[] };
  to_device?: { events: ToDeviceMessage[] };
  device_lists?: DeviceLists;
  device_one_time_keys_count?: Record<string, number>;
  device_unused_fallback_key_types?: string[];
}

/** Users whose devices the syncing user should look at again (`changed`) or no longer tracks (`left`). */
export interface DeviceLists {
  changed: string[];
  left: string[];
}

interface Computed {
  body: SyncResponse;
  token: SyncToken;
  /** Rooms whose events concern the user (joined, invited, knocked). */
  rooms: Set<string>;
  empty: boolean;
}

interface Context {
  conn: CommonQueryMethods;
  userId: string;
  deviceId: string;
  since: SyncToken | undefined;
  fullState: boolean;
  filter: SyncFilter;
  upTo: bigint;
  receiptsUpTo: bigint;
  typingCounter: number;
  accountData: AccountDataDelta;
  receipts: Map<string, ReceiptContent>;
  /** Incremental syncs: joined rooms with events or state changes since the token. */
  active: Set<string> | undefined;
  /** History visibility of the joined rooms shown, read for all of them at once. */
  visibility: Map<string, RoomVisibility>;
  /** Unread notification counts of the joined rooms shown, read for all of them at once. */
  unread: Map<string, RoomUnread>;
  /** Users the user ignores: their timeline events (other than state) and invites are left out. */
  ignored: ReadonlySet<string>;
  /** The timeline events of the answer (client form), given their bundled aggregations at once at the end. */
  timelineEvents: ClientEvent[];
}

export interface SyncServiceOptions {
  typing?: TypingSource;
  /** Presence of local users (none: no presence section). */
  presence?: PresenceSource;
  /** Display names and avatars for m.presence events (none: left out). */
  profiles?: ProfileSource;
  /** Device lists, to-device messages and key counts (none: no e2ee sections). */
  e2ee?: E2eeSource;
  accountData: AccountDataSource;
  /** Built with the same account data source: its record of changes spares reads. */
  notifier: SyncNotifier;
  now?: () => number;
  /**
   * Answer incremental syncs of steady rooms from the notifier's live window (default true;
   * false always reads the database, e.g. to compare both in tests).
   */
  live?: boolean;
  /**
   * Shortest time between two answers with news to one device's long-polls, in milliseconds
   * (default {@link DEFAULT_MIN_ANSWER_INTERVAL_MS}; 0: none). See {@link SyncService.sync}.
   */
  minAnswerIntervalMs?: number;
  /**
   * Makes every sync reflect the writes acknowledged before it: the first computation waits
   * (bounded) until the notifier has examined them. None: answers from what is examined.
   */
  barrier?: ReadBarrier;
  /** Who each user ignores (default: read from `accountData`). */
  ignoredUsers?: IgnoredUsers;
  /** The signed wire forms of events, for filters asking for the federation format (none: the client form). */
  wireEvents?: WireEventSource;
}

/**
 * Default pacing of a device's long-polls: at most 100 answers with news a second. A device
 * in busy rooms then gets what lands within 10 ms in one response instead of one response
 * per projection batch (each answer costs the server a computation, a response and the
 * client's next request); a device that has not been answered for that long is not delayed.
 */
export const DEFAULT_MIN_ANSWER_INTERVAL_MS = 10;
/** Devices whose last answer time is remembered before old entries are swept. */
const MAX_PACED_DEVICES = 10_000;

/**
 * Keys of a room event filter the live path applies as the database path does
 * (`unread_thread_notifications` chooses how both show the counts they hold per thread).
 */
const LIVE_FILTER_KEYS = new Set(['limit', 'lazy_load_members', 'include_redundant_members', 'unread_thread_notifications']);

function liveFilter(filter: SyncFilter): boolean {
  const timeline = filter.room?.timeline;
  const state = filter.room?.state;
  if (timeline && Object.keys(timeline).some((k) => !LIVE_FILTER_KEYS.has(k))) return false;
  if (state && Object.keys(state).some((k) => !LIVE_FILTER_KEYS.has(k))) return false;
  return true;
}

/** Whether one of the rows relates to another of them. */
function hasChildAmong(rows: readonly EventRow[]): boolean {
  const ids = new Set(rows.map((r) => r.event_id));
  return rows.some((r) => {
    const parent = relationOf(r.event.content)?.eventId;
    return parent !== undefined && ids.has(parent);
  });
}

/** Orders state entries by type, then state key (by UTF-16 code units). */
function byStateKey(a: EventRow, b: EventRow): number {
  if (a.type !== b.type) return a.type < b.type ? -1 : 1;
  const ka = a.state_key ?? '';
  const kb = b.state_key ?? '';
  return ka === kb ? 0 : ka < kb ? -1 : 1;
}

/** Most users whose account data baseline is remembered. */
const MAX_ACCOUNT_DATA_USERS = 100_000;

/** What a snapshot returns when it found the push projection behind the events it would show (see computeRooms). */
const PUSH_BEHIND = Symbol('push projection behind');

export class SyncService {
  private readonly lazyMembers = new LazyMembersCache();
  private readonly shared = new SharedReads();
  private readonly now: () => number;
  /**
   * Account data: user -> the position of the first complete read since start-up. A token at
   * or after it, and after the user's last change the notifier heard of, has nothing new.
   */
  private readonly accountDataBaseline = new Map<string, number>();
  /** Incremental and initial syncs computed, by the path that answered them. */
  readonly answeredBy = { live: 0, database: 0 };
  /** Device (user and device id) -> when a long-poll of it was last answered with news. */
  private readonly answeredAt = new Map<string, number>();
  private readonly minAnswerIntervalMs: number;
  private readonly ignoredUsers: IgnoredUsers;

  constructor(
    readonly queries: SyncQueries,
    private readonly options: SyncServiceOptions,
  ) {
    this.now = options.now ?? Date.now;
    this.minAnswerIntervalMs = Math.max(0, options.minAnswerIntervalMs ?? DEFAULT_MIN_ANSWER_INTERVAL_MS);
    this.ignoredUsers = options.ignoredUsers ?? new IgnoredUsers(options.accountData);
  }

  /** Whether the user's account data is known unchanged after `since` (no read needed). */
  private accountDataUnchanged(userId: string, since: number): boolean {
    const baseline = this.accountDataBaseline.get(userId);
    return baseline !== undefined && since >= baseline && this.options.notifier.accountDataChangedAt(userId) <= since;
  }

  private async accountDataSince(userId: string, since: number): Promise<AccountDataDelta> {
    if (this.accountDataUnchanged(userId, since)) return { global: [], rooms: {}, position: since };
    const delta = await this.options.accountData.accountDataSince(userId, since);
    if (!this.accountDataBaseline.has(userId)) {
      if (this.accountDataBaseline.size >= MAX_ACCOUNT_DATA_USERS) {
        const oldest = this.accountDataBaseline.keys().next().value as string;
        this.accountDataBaseline.delete(oldest);
      }
      this.accountDataBaseline.set(userId, delta.position);
    }
    return delta;
  }

  /**
   * Unread counts come from the push projection: it must have evaluated every event the answer
   * shows, which may be later than the request's start after a long-poll woke.
   */
  private async pushReady(): Promise<void> {
    const barrier = this.options.barrier;
    if (barrier?.has(PUSH_PROJECTION)) await barrier.ready([PUSH_PROJECTION]);
  }

  /** Whether the push projection has evaluated the events up to `position` (or is not waited for). */
  private pushCovers(position: bigint): boolean {
    const barrier = this.options.barrier;
    if (!barrier?.has(PUSH_PROJECTION) || !barrier.enabled) return true;
    return (barrier.position(PUSH_PROJECTION) ?? 0n) >= position;
  }

  /**
   * Computes the response; an incremental sync with nothing new waits (up to its timeout) for
   * the notifier to wake it. Long-polls (incremental, with a timeout) of a device answered
   * with news less than `minAnswerIntervalMs` ago first wait out the rest of that interval, so
   * that what lands meanwhile is answered together.
   */
  async sync(request: SyncRequest): Promise<SyncResponse> {
    const since = request.since !== undefined ? parseSyncToken(request.since) : undefined;
    await this.ready();
    const timeout = Math.max(0, request.timeoutMs ?? 0);
    const deadline = this.now() + timeout;
    const paced = since !== undefined && request.fullState !== true && timeout > 0 && this.minAnswerIntervalMs > 0;
    const device = `${request.userId}\u0000${request.deviceId}`;
    // Marked before the first computation, so that the change it makes is in this answer.
    const endPresence = this.options.presence?.syncing(request.userId, request.deviceId, request.setPresence ?? 'online');
    try {
      return await this.answer(request, since, deadline, paced, device);
    } finally {
      endPresence?.();
    }
  }

  private async answer(request: SyncRequest, since: SyncToken | undefined, deadline: number, paced: boolean, device: string): Promise<SyncResponse> {
    if (paced) await this.pace(device, deadline, request.signal);
    for (;;) {
      const computed = await this.compute(request, since);
      const remaining = deadline - this.now();
      if (!since || request.fullState || !computed.empty || remaining <= 0 || request.signal?.aborted) {
        if (paced && !computed.empty) this.answered(device);
        return this.inEventFormat(await this.withKeyCounts(computed.body, request), request.filter);
      }
      const woken = await this.options.notifier.wait(request.userId, computed.rooms, computed.token, remaining, request.signal);
      if (!woken) return this.inEventFormat(await this.withKeyCounts(computed.body, request), request.filter);
      if (paced) await this.pace(device, deadline, request.signal);
    }
  }

  /**
   * The device's key counts, read when the answer is sent (they never make an answer non-empty,
   * so a long-poll that waits does not read them): they reflect every write acknowledged before.
   */
  private async withKeyCounts(body: SyncResponse, request: SyncRequest): Promise<SyncResponse> {
    const e2ee = this.options.e2ee;
    if (!e2ee) return body;
    const counts = await e2ee.counts(request.userId, request.deviceId);
    return { ...body, device_one_time_keys_count: counts.oneTimeKeyCounts, device_unused_fallback_key_types: counts.unusedFallbackKeyTypes };
  }

  /** Waits until the read models of /sync reflect every write acknowledged before the call. */
  async ready(): Promise<void> {
    await this.options.barrier?.ready(SYNC_ENDPOINT_READ_MODELS);
  }

  /**
   * A sync token for "now" (the deprecated GET /events without `from`): every room event,
   * receipt, typing and presence change acknowledged so far counts as seen; account data does not.
   */
  async currentToken(): Promise<string> {
    await this.ready();
    const { upTo, receiptsUpTo } = await this.positionsIn(this.queries.pool, this.notifiedPositions());
    return encodeSyncToken({
      events: upTo,
      accountData: 0,
      typing: this.options.typing?.counter() ?? 0,
      receipts: receiptsUpTo,
      presence: this.options.presence?.counter() ?? 0,
      e2ee: (await this.options.e2ee?.position()) ?? 0,
    });
  }

  /**
   * Positions the notifier has examined. They are committed: read before a snapshot is taken,
   * they are in it too, and a token is never cut below them (so a waiting request is never
   * woken for ranges it has). Read after, they could name rows the snapshot does not see.
   */
  private notifiedPositions(): { events: bigint; receipts: bigint } {
    return {
      events: this.options.notifier.processedUpTo(SYNC_PROJECTION) ?? 0n,
      receipts: this.options.notifier.processedUpTo(RECEIPTS_PROJECTION) ?? 0n,
    };
  }

  /** How far a token cut on `conn` reaches: the stored positions, or the notified ones read before. */
  private async positionsIn(conn: CommonQueryMethods, notified: { events: bigint; receipts: bigint }): Promise<{ upTo: bigint; receiptsUpTo: bigint }> {
    const stored = await this.queries.position(conn);
    const storedReceipts = await receiptsPosition(conn);
    return {
      upTo: stored > notified.events ? stored : notified.events,
      receiptsUpTo: storedReceipts > notified.receipts ? storedReceipts : notified.receipts,
    };
  }

  /** Waits until the device's last answer is `minAnswerIntervalMs` old (or the deadline, or abort). */
  private async pace(device: string, deadline: number, signal: AbortSignal | undefined): Promise<void> {
    const last = this.answeredAt.get(device);
    if (last === undefined) return;
    const wait = Math.min(last + this.minAnswerIntervalMs, deadline) - this.now();
    if (wait <= 0 || signal?.aborted) return;
    // An abort ends the wait early (the rejection it causes is not an error here).
    await delay(wait, undefined, signal ? { signal } : {}).catch(() => undefined);
  }

  private answered(device: string): void {
    const now = this.now();
    if (this.answeredAt.size >= MAX_PACED_DEVICES && !this.answeredAt.has(device)) {
      // Entries older than the interval no longer delay anything.
      for (const [key, at] of this.answeredAt) if (at + this.minAnswerIntervalMs <= now) this.answeredAt.delete(key);
      if (this.answeredAt.size >= MAX_PACED_DEVICES) return;
    }
    this.answeredAt.set(device, now);
  }

  /** The rooms and account data of the answer, then its presence and e2ee sections. */
  private async compute(request: SyncRequest, since: SyncToken | undefined): Promise<Computed> {
    const computed = await this.computeRooms(request, since);
    const withPresence = await this.withPresence(computed, request, since);
    return this.options.e2ee ? this.withE2ee(this.options.e2ee, withPresence, request, since) : withPresence;
  }

  private async withPresence(computed: Computed, request: SyncRequest, since: SyncToken | undefined): Promise<Computed> {
    const presence = this.options.presence;
    if (!presence?.enabled) return computed;
    const { events, counter } = await this.presenceSection(presence, request, since, computed.body);
    const token: SyncToken = { ...computed.token, presence: counter };
    const body: SyncResponse = { ...computed.body, next_batch: encodeSyncToken(token) };
    if (events.length > 0) body.presence = { events };
    return { ...computed, body, token, empty: computed.empty && events.length === 0 };
  }

  /**
   * The e2ee sections but the key counts (added when the answer is sent): the device's
   * to-device messages after the token (those at or before it, which the device has thereby
   * acknowledged, are deleted) and the users whose device lists the user should look at again
   * or stop tracking (incremental syncs).
   */
  private async withE2ee(e2ee: E2eeSource, computed: Computed, request: SyncRequest, since: SyncToken | undefined): Promise<Computed> {
    const after = since?.e2ee ?? 0;
    const position = await e2ee.position();
    const inbox = await e2ee.inbox(request.userId, request.deviceId, after, after, position);
    const reached = Math.max(after, inbox.upTo);
    const lists = since ? await this.deviceListChanges(e2ee, request.userId, since, { events: computed.token.events, e2ee: reached }, true) : { changed: [], left: [] };
    const token: SyncToken = { ...computed.token, e2ee: reached };
    const body: SyncResponse = { ...computed.body, next_batch: encodeSyncToken(token) };
    if (inbox.events.length > 0) body.to_device = { events: inbox.events };
    if (lists.changed.length > 0 || lists.left.length > 0) body.device_lists = lists;
    const empty = computed.empty && inbox.events.length === 0 && lists.changed.length === 0 && lists.left.length === 0;
    return { ...computed, body, token, empty };
  }

  /**
   * GET /keys/changes: the users whose device lists changed between two sync tokens and who
   * share a room with the user, and those who stopped sharing any room with them.
   */
  async keyChanges(userId: string, from: string, to: string): Promise<DeviceLists> {
    const e2ee = this.options.e2ee;
    const since = parseSyncToken(from);
    const until = parseSyncToken(to);
    if (!e2ee) return { changed: [], left: [] };
    await this.ready();
    return this.deviceListChanges(e2ee, userId, since, until);
  }

  /**
   * Device lists between two tokens: users whose device lists changed in the e2ee range and who
   * share a room with the user (the user among them; invited members count), users who came to
   * share a room with the user in the room-event range (joined or were invited: their devices
   * are new to the user), and users who stopped sharing every room with the user (`left`).
   * `committed`: `until.e2ee` is a committed position, so the changes up to it are final and
   * the read is shared with the syncs asking for the same range.
   */
  private async deviceListChanges(e2ee: E2eeSource, userId: string, since: SyncToken, until: { events: bigint; e2ee: number }, committed = false): Promise<DeviceLists> {
    const usersChanged = () => e2ee.usersChanged(since.e2ee, until.e2ee);
    const changedCandidates = new Set(
      committed && until.e2ee > since.e2ee ? await this.shared.get(`e2ee-users-changed\u0000${since.e2ee}\u0000${until.e2ee}`, usersChanged) : await usersChanged(),
    );
    const leftCandidates = new Set<string>();
    if (since.events < until.events) {
      const changes = await this.queries.membershipChangesAround(this.queries.pool, userId, since.events, until.events);
      for (const change of changes) {
        // A join or an invite brings the user's devices in; a leave, ban or kick takes them out.
        const joined = change.membership === 'join' || change.membership === 'invite';
        if (change.userId === userId) {
          // The user's own join or leave: every member of the room is new or gone.
          for (const member of await this.queries.joinedUserIds(this.queries.pool, change.roomId)) (joined ? changedCandidates : leftCandidates).add(member);
        } else (joined ? changedCandidates : leftCandidates).add(change.userId);
      }
    }
    const own = changedCandidates.has(userId);
    changedCandidates.delete(userId);
    leftCandidates.delete(userId);
    const sharing = await this.queries.usersSharingRoomWith(this.queries.pool, userId, [...new Set([...changedCandidates, ...leftCandidates])], true);
    const changed = [...changedCandidates].filter((u) => sharing.has(u));
    if (own) changed.push(userId);
    const left = [...leftCandidates].filter((u) => !sharing.has(u));
    return { changed: changed.sort(), left: left.sort() };
  }

  /**
   * m.presence events for the user and the users who share a joined room with them: on an
   * initial sync (or full_state) everyone's current presence but that of offline users
   * without a status message (as Synapse leaves them out: clients take a user they hear
   * nothing of as offline); on an incremental sync, the changes after the token, and the
   * current presence of users who came to share a room with the user in this answer (joins
   * in its rooms, or a room the user joined). The filter's `presence` section applies
   * (`limit` keeps the latest changes). Returns the presence counter the answer is complete up to.
   */
  private async presenceSection(
    presence: PresenceSource,
    request: SyncRequest,
    since: SyncToken | undefined,
    body: SyncResponse,
  ): Promise<{ events: PresenceEvent[]; counter: number }> {
    const filter = request.filter?.presence;
    const initial = since === undefined || request.fullState === true;
    // The counter and the statuses are read at once (the store is synchronous).
    const { counter, changes } = presence.changesSince(initial ? undefined : since.presence);
    if (!eventMatches({ type: 'm.presence' }, filter) || (typeof filter?.limit === 'number' && filter.limit <= 0)) return { events: [], counter };
    if (!initial) {
      // Someone never seen online is offline (so the client hears of every new member).
      for (const userId of await this.newlySharing(request.userId, body)) {
        if (!changes.has(userId)) changes.set(userId, presence.status(userId) ?? { presence: 'offline' });
      }
    }
    let wanted = [...changes].filter(
      ([userId, status]) => eventMatches({ type: 'm.presence', sender: userId }, filter) && !(initial && status.presence === 'offline' && status.status_msg === undefined),
    );
    const others = wanted.map(([userId]) => userId).filter((userId) => userId !== request.userId);
    const sharing = others.length > 0 ? await this.queries.usersSharingRoomWith(this.queries.pool, request.userId, others) : new Set<string>();
    wanted = wanted.filter(([userId]) => userId === request.userId || sharing.has(userId));
    const limit = filter?.limit;
    if (typeof limit === 'number' && Number.isSafeInteger(limit) && wanted.length > limit) wanted = wanted.slice(wanted.length - limit);
    if (wanted.length === 0) return { events: [], counter };
    const profiles = (await this.options.profiles?.displayProfiles(wanted.map(([userId]) => userId))) ?? new Map<string, { displayname?: string; avatar_url?: string }>();
    const events = wanted.map(([userId, status]): PresenceEvent => ({ type: 'm.presence', sender: userId, content: { ...status, ...profiles.get(userId) } }));
    return { events, counter };
  }

  /**
   * Users who come to share a room with the user in this answer: those whose join is in a
   * joined room's timeline or state, and every member of a room the user's own join is in.
   */
  private async newlySharing(userId: string, body: SyncResponse): Promise<Set<string>> {
    const users = new Set<string>();
    for (const [roomId, room] of Object.entries(body.rooms?.join ?? {})) {
      const joins = [...room.state.events, ...room.timeline.events].filter(
        (e) =>
          e.type === 'm.room.member' &&
          typeof e.state_key === 'string' &&
          e.content?.membership === 'join' &&
          // A display name or avatar change is a join after a join.
          (e.unsigned?.prev_content as { membership?: unknown } | undefined)?.membership !== 'join',
      );
      if (joins.some((e) => e.state_key === userId)) {
        for (const member of await this.queries.joinedUserIds(this.queries.pool, roomId)) users.add(member);
      } else for (const e of joins) users.add(e.state_key as string);
    }
    users.delete(userId);
    return users;
  }

  /** The rooms and account data of the answer (the live window's path, or the database's). */
  private async computeRooms(request: SyncRequest, since: SyncToken | undefined): Promise<Computed> {
    const filter = request.filter ?? {};
    const fullState = request.fullState === true;
    const ignored = await this.ignoredUsers.of(request.userId);
    if (since && !fullState) {
      const live = await this.liveCompute(request, since, filter, ignored);
      if (live) {
        this.answeredBy.live++;
        return live;
      }
    }
    this.answeredBy.database++;
    const accountData = await this.accountDataSince(request.userId, since?.accountData ?? 0);
    // Unread counts come from the push projection, which must have evaluated every event the
    // answer shows. It is waited for outside the snapshot: a snapshot is a transaction, and on
    // the embedded database one open transaction keeps every other connection (the push
    // projector's among them) waiting. A snapshot that finds it behind is given up and taken
    // again after the wait (twice at most; then the counts are those it has).
    for (let attempt = 0; ; attempt++) {
      await this.pushReady();
      const computed = await this.computeRoomsIn(request, since, filter, fullState, ignored, accountData, attempt < 2);
      if (computed !== PUSH_BEHIND) return computed;
    }
  }

  private async computeRoomsIn(
    request: SyncRequest,
    since: SyncToken | undefined,
    filter: SyncFilter,
    fullState: boolean,
    ignored: ReadonlySet<string>,
    accountData: AccountDataDelta,
    retryWhenPushBehind: boolean,
  ): Promise<Computed | typeof PUSH_BEHIND> {
    // Read before the snapshot is taken (see notifiedPositions).
    const notified = this.notifiedPositions();
    return this.queries.snapshot(async (conn): Promise<Computed | typeof PUSH_BEHIND> => {
      const { upTo, receiptsUpTo } = await this.positionsIn(conn, notified);
      const typingCounter = this.options.typing?.counter() ?? 0;
      const incremental = since !== undefined && !fullState;
      let memberships: MembershipRow[];
      let active: Set<string> | undefined;
      if (incremental) {
        ({ memberships, active } = await this.queries.membershipsWithActivity(conn, request.userId, since.events, upTo));
      } else memberships = await this.queries.membershipsOf(conn, request.userId);
      const joined = memberships.filter((m) => m.membership === 'join' && roomMatches(m.room_id, filter.room)).map((m) => m.room_id);
      const receiptsAfter = incremental ? since.receipts : 0n;
      const receipts =
        filter.room?.ephemeral?.not_types?.includes('m.receipt') ||
        (filter.room?.ephemeral?.types && !filter.room.ephemeral.types.includes('m.receipt')) ||
        receiptsAfter >= receiptsUpTo
          ? new Map<string, ReceiptContent>()
          : await receiptsSince(conn, joined, receiptsAfter, receiptsUpTo, request.userId);
      const ctx: Context = {
        conn,
        userId: request.userId,
        deviceId: request.deviceId,
        since,
        fullState,
        filter,
        upTo,
        receiptsUpTo,
        typingCounter,
        accountData,
        receipts,
        active,
        visibility: new Map(),
        unread: new Map(),
        ignored,
        timelineEvents: [],
      };
      // The joined rooms to show: their visibility and unread counts in one query each.
      const shown = memberships.filter((m) => m.membership === 'join' && roomMatches(m.room_id, filter.room) && !this.unchanged(ctx, m));
      if (shown.length > 0) {
        const shownIds = shown.map((m) => m.room_id);
        ctx.visibility = await this.queries.visibilities(conn, shownIds, request.userId);
        if (retryWhenPushBehind && !this.pushCovers(upTo)) return PUSH_BEHIND;
        ctx.unread = await unreadNotificationsIn(
          conn,
          shown.map((m) => ({ roomId: m.room_id, joinPosition: m.position })),
          request.userId,
          upTo,
        );
      }
      if (!since) this.lazyMembers.reset(request.userId, request.deviceId);
      const token: SyncToken = {
        events: since && since.events > upTo ? since.events : upTo,
        accountData: Math.max(accountData.position, since?.accountData ?? 0),
        typing: typingCounter,
        receipts: since && since.receipts > receiptsUpTo ? since.receipts : receiptsUpTo,
        presence: since?.presence ?? 0,
        e2ee: since?.e2ee ?? 0,
      };
      const body: SyncResponse = { next_batch: encodeSyncToken(token) };
      const rooms = new Set<string>();
      const join: Record<string, JoinedRoom> = {};
      const invite: Record<string, { invite_state: { events: StrippedStateEvent[] } }> = {};
      const knock: Record<string, { knock_state: { events: StrippedStateEvent[] } }> = {};
      const leave: Record<string, LeftRoom> = {};
      const changedSince = (m: MembershipRow) => !since || m.position > since.events;
      for (const m of memberships) {
        if (!roomMatches(m.room_id, filter.room)) continue;
        if (m.membership === 'join') {
          rooms.add(m.room_id);
          const room = await this.joinedRoom(ctx, m);
          if (room) join[m.room_id] = room;
        } else if (m.membership === 'invite') {
          rooms.add(m.room_id);
          if (changedSince(m) || fullState) {
            const events = await this.strippedWith(ctx, m);
            if (events) invite[m.room_id] = { invite_state: { events } };
          }
        } else if (m.membership === 'knock') {
          rooms.add(m.room_id);
          if (changedSince(m) || fullState) knock[m.room_id] = { knock_state: { events: (await this.strippedWith(ctx, m)) ?? [] } };
        } else if (!m.forgotten) {
          const wanted = since && !fullState ? changedSince(m) : filter.room?.include_leave === true;
          if (wanted) leave[m.room_id] = await this.leftRoom(ctx, m);
        }
      }
      const roomsBody: NonNullable<SyncResponse['rooms']> = {};
      if (Object.keys(join).length > 0) roomsBody.join = join;
      if (Object.keys(invite).length > 0) roomsBody.invite = invite;
      if (Object.keys(knock).length > 0) roomsBody.knock = knock;
      if (Object.keys(leave).length > 0) roomsBody.leave = leave;
      if (Object.keys(roomsBody).length > 0) body.rooms = roomsBody;
      const globalData = accountData.global.filter((e) => eventMatches(e, filter.account_data));
      if (globalData.length > 0) body.account_data = { events: globalData };
      // Bundled aggregations of every timeline event shown, in one read (an event's `unsigned`
      // is the object the answer holds, unless the filter's event_fields left it out).
      await bundleAggregations(this.queries, conn, ctx.timelineEvents, { userId: request.userId, deviceId: request.deviceId }, { upTo });
      return { body, token, rooms, empty: !body.rooms && !body.account_data };
    });
  }

  /**
   * An incremental sync answered from the notifier's live window, without reading the
   * database once its caches are warm. It answers only what it can answer exactly as the
   * database path would: the user's memberships unchanged since the token, every room shown
   * steady (no state change or redaction since the token), timelines not limited, no new
   * account data or receipts for the user, no member event to send for the first time, and a
   * filter of only limits and lazy-loading. Anything else returns undefined.
   */
  private async liveCompute(
    request: SyncRequest,
    since: SyncToken,
    filter: SyncFilter,
    ignored: ReadonlySet<string>,
  ): Promise<Computed | undefined> {
    const notifier = this.options.notifier;
    const live = notifier.live;
    if (this.options.live === false || !liveFilter(filter)) return undefined;
    if (!this.accountDataUnchanged(request.userId, since.accountData)) return undefined;
    // Warm the caches, then answer synchronously from one position of the window.
    for (let attempt = 0; attempt < 3; attempt++) {
      const outcome = this.liveAnswer(request, since, filter, live, ignored);
      if (outcome === 'database') return undefined;
      if (outcome.kind === 'answer') return outcome.computed;
      if (outcome.memberships) await live.loadMemberships(request.userId);
      for (const roomId of outcome.members) await live.loadMembers(roomId);
      if (outcome.unread.length > 0) {
        await this.pushReady();
        await live.loadUnread(request.userId, outcome.unread);
      }
    }
    return undefined;
  }

  private liveAnswer(
    request: SyncRequest,
    since: SyncToken,
    filter: SyncFilter,
    live: LiveWindow,
    ignored: ReadonlySet<string>,
  ):
    | 'database'
    | { kind: 'answer'; computed: Computed }
    | { kind: 'load'; memberships: boolean; members: string[]; unread: { roomId: string; joinPosition: bigint }[] } {
    const userId = request.userId;
    const after = since.events;
    const floor = live.floor;
    if (floor === undefined || after < floor) return 'database';
    const upTo = live.upTo;
    const memberships = live.cachedMemberships(userId);
    if (!memberships) return { kind: 'load', memberships: true, members: [], unread: [] };
    // A membership of the user changed after the token (or after the window): the database path shows it.
    if (memberships.some((m) => m.position > after || m.position > upTo)) return 'database';
    const joined = memberships.filter((m) => m.membership === 'join' && roomMatches(m.room_id, filter.room));
    // Receipts: none of the user's rooms may have new ones unless receipts are filtered out.
    const ephemeralFilter = filter.room?.ephemeral;
    const receiptsWanted = !(ephemeralFilter?.not_types?.includes('m.receipt') || (ephemeralFilter?.types && !ephemeralFilter.types.includes('m.receipt')));
    const receiptsUpTo = live.receiptsPosition ?? 0n;
    let receiptsToken = since.receipts;
    const receipts = new Map<string, ReceiptContent>();
    if (receiptsUpTo > since.receipts) {
      if (receiptsWanted) {
        const rows = live.receiptsAfter(since.receipts);
        if (!rows) return 'database';
        const rooms = new Set(joined.map((m) => m.room_id));
        // A receipt replaces the same user's earlier one of its type and thread (as stored).
        const keyOf = (row: (typeof rows)[number]) => `${row.room_id}\u0000${row.user_id}\u0000${row.receipt_type}\u0000${row.thread_id}`;
        const latest = new Map<string, (typeof rows)[number]>();
        for (const row of rows) latest.set(keyOf(row), row);
        for (const row of rows) {
          if (latest.get(keyOf(row)) !== row) continue;
          if (!rooms.has(row.room_id) || (row.receipt_type === 'm.read.private' && row.user_id !== userId)) continue;
          const content = receipts.get(row.room_id) ?? {};
          addReceipt(content, row);
          receipts.set(row.room_id, content);
        }
      }
      receiptsToken = receiptsUpTo;
    }
    const typing = this.options.typing;
    const typingWanted = typing !== undefined && eventMatches({ type: 'm.typing' }, ephemeralFilter);
    const limit = this.timelineLimit(filter.room?.timeline);
    const stateFilter = filter.room?.state;
    const lazy = stateFilter?.lazy_load_members === true;
    const include = stateFilter?.include_redundant_members === true;
    const missingMembers: string[] = [];
    const missingUnread: { roomId: string; joinPosition: bigint }[] = [];
    const shown: { m: MembershipRow; rows: EventRow[]; typing: string[] | undefined; start: bigint; members: EventRow[] }[] = [];
    for (const m of joined) {
      if (!live.steady(m.room_id, after)) return 'database';
      const rows = live.rowsAfter(m.room_id, after).filter((r) => r.in_timeline && !fromIgnored(r, ignored));
      const typingUsers = typingWanted ? typing.typingSince(m.room_id, since.typing) : undefined;
      if (rows.length === 0 && typingUsers === undefined && !receipts.has(m.room_id)) continue;
      if (rows.length > limit) return 'database';
      // An event shown with a child among the rows shown has bundled aggregations: the database path answers.
      if (rows.length > 1 && hasChildAmong(rows)) return 'database';
      const start = rows.length > 0 ? rows[0].position - 1n : upTo;
      let members: EventRow[] = [];
      if (lazy) {
        const byUser = live.cachedMembers(m.room_id);
        if (!byUser) {
          missingMembers.push(m.room_id);
          continue;
        }
        const senders = new Set(rows.map((r) => r.sender));
        const ownSent = m.event_id != null && m.position <= start && this.lazyMembers.has(userId, request.deviceId, m.room_id, m.event_id);
        if (!ownSent) senders.add(userId);
        members = [...senders]
          .sort()
          .map((sender) => byUser.get(sender))
          .filter((r): r is EventRow => r !== undefined);
        // A member event this device has not been sent yet changes the room summary: the database path answers.
        if (members.some((r) => include || !this.lazyMembers.has(userId, request.deviceId, m.room_id, r.event_id))) return 'database';
      }
      if (live.cachedUnread(userId, m.room_id) === undefined) missingUnread.push({ roomId: m.room_id, joinPosition: m.position });
      shown.push({ m, rows, typing: typingUsers, start, members });
    }
    if (missingMembers.length > 0 || missingUnread.length > 0) {
      return { kind: 'load', memberships: false, members: missingMembers, unread: missingUnread };
    }
    const token: SyncToken = {
      events: after > upTo ? after : upTo,
      accountData: since.accountData,
      typing: typing?.counter() ?? 0,
      receipts: receiptsToken,
      presence: since.presence,
      e2ee: since.e2ee,
    };
    const body: SyncResponse = { next_batch: encodeSyncToken(token) };
    const viewer = { userId, deviceId: request.deviceId };
    const join: Record<string, JoinedRoom> = {};
    for (const { m, rows, typing: typingUsers, start } of shown) {
      const ephemeral: JoinedRoom['ephemeral']['events'] = [];
      if (typingUsers !== undefined) ephemeral.push({ type: 'm.typing', content: { user_ids: typingUsers } });
      const roomReceipts = receipts.get(m.room_id);
      if (roomReceipts) ephemeral.push({ type: 'm.receipt', content: roomReceipts });
      join[m.room_id] = {
        timeline: {
          events: this.queries.formatAll(rows, viewer).map((e) => applyEventFields(e, this.clientFields(filter))),
          limited: false,
          prev_batch: encodePaginationToken(start),
        },
        state: { events: [] },
        account_data: { events: [] },
        ephemeral: { events: ephemeral },
        ...unreadFields(live.cachedUnread(userId, m.room_id), filter.room?.timeline?.unread_thread_notifications === true),
      };
    }
    const rooms = new Set<string>();
    for (const m of memberships) {
      if (!roomMatches(m.room_id, filter.room)) continue;
      if (m.membership === 'join' || m.membership === 'invite' || m.membership === 'knock') rooms.add(m.room_id);
    }
    if (Object.keys(join).length > 0) body.rooms = { join };
    return { kind: 'answer', computed: { body, token, rooms, empty: body.rooms === undefined } };
  }

  private timelineLimit(filter: RoomEventFilter | undefined): number {
    const limit = filter?.limit;
    if (typeof limit !== 'number' || !Number.isSafeInteger(limit) || limit < 0) return DEFAULT_TIMELINE_LIMIT;
    return Math.min(limit, MAX_TIMELINE_LIMIT);
  }

  /**
   * Timeline of a room between `after` (exclusive; undefined: from the start) and `upTo`.
   * `joined`: the user is a member at `upTo` (a joined room), so the room's current state
   * events are shown even where history visibility hides them (see `visibleTimeline`).
   */
  private async timeline(ctx: Context, roomId: string, after: bigint | undefined, upTo: bigint, joined: boolean) {
    const filter = ctx.filter.room?.timeline;
    const limit = this.timelineLimit(filter);
    const visibility = ctx.visibility.get(roomId) ?? (await this.queries.visibility(ctx.conn, roomId, ctx.userId));
    const filterKey = JSON.stringify(filter ?? null);
    const { rows } = await this.queries.visibleTimeline(
      ctx.conn,
      roomId,
      visibility,
      { from: upTo, to: after, dir: 'b', limit: limit + 1, filter, ignored: ctx.ignored, currentStateVisible: joined },
      (page) =>
        this.shared.get(`timeline\u0000${roomId}\u0000${ctx.upTo}\u0000${page.from}\u0000${page.to}\u0000${page.dir}\u0000${page.limit}\u0000${filterKey}`, () =>
          this.queries.timeline(ctx.conn, roomId, page),
        ),
    );
    const limited = rows.length > limit;
    const kept = rows.slice(0, limit).reverse();
    const start = kept.length > 0 ? kept[0].position - 1n : upTo;
    return { rows: kept, limited, start };
  }

  /**
   * State for the `state` block: entries up to the timeline start the client does not have
   * yet, ordered by event type, then state key (by UTF-16 code units, whatever the database's
   * collation), so that the same state always comes in the same order.
   */
  private async stateBlock(
    ctx: Context,
    roomId: string,
    initial: boolean,
    after: bigint | undefined,
    start: bigint,
    timeline: readonly EventRow[],
    member?: MembershipRow,
  ): Promise<EventRow[]> {
    const filter = ctx.filter.room?.state;
    const at = `${roomId}\u0000${start}\u0000${ctx.upTo}`;
    // A timeline's first event may come with state from before it (a join through another
    // server brings the room's whole state; resolution where branches meet changes some):
    // that is state at the timeline's start too.
    const beforeNext = timeline.length > 0;
    let rows: EventRow[];
    if (initial || after === undefined) rows = await this.queries.stateAt(ctx.conn, roomId, start, { beforeNext });
    else if (start > after || beforeNext) {
      const keys = await this.shared.get(`changed\u0000${at}\u0000${after}\u0000${beforeNext}`, () =>
        this.queries.stateKeysChanged(ctx.conn, roomId, after, start, beforeNext),
      );
      rows =
        keys.length === 0
          ? []
          : await this.shared.get(`state\u0000${at}\u0000${beforeNext}\u0000${JSON.stringify(keys)}`, () =>
              this.queries.stateAt(ctx.conn, roomId, start, { keys, beforeNext }),
            );
    } else rows = [];
    rows = rows.filter((r) => eventMatches(r, filter) && !(filter?.contains_url === true && typeof r.event.content.url !== 'string'));
    if (!filter?.lazy_load_members) return rows.sort(byStateKey);
    // Lazy-loading members: only the members of the timeline's senders (and the user).
    const include = filter.include_redundant_members === true;
    const senders = new Set(timeline.map((r) => r.sender));
    // The user's own member event at the timeline start is the current one when it is not
    // newer than the start; once this device has been sent it, it need not be read again.
    // include_redundant_members concerns the senders' members: the user's own, when the user
    // sent nothing in the timeline, is not sent again.
    const ownSent =
      !initial &&
      member?.event_id != null &&
      member.position <= start &&
      this.lazyMembers.has(ctx.userId, ctx.deviceId, roomId, member.event_id);
    if (!ownSent) senders.add(ctx.userId);
    const inTimeline = new Set(timeline.map((r) => r.event_id));
    const nonMembers = rows.filter((r) => r.type !== 'm.room.member');
    // An incremental sync's members that changed between the token and the timeline start
    // (joins and leaves in the gap) are state changes the client must hear of: always sent.
    const changedMembers = initial ? [] : rows.filter((r) => r.type === 'm.room.member');
    for (const r of changedMembers) if (r.state_key !== null) senders.delete(r.state_key);
    const memberKeys = [...senders].sort();
    const members =
      memberKeys.length === 0
        ? []
        : await this.shared.get(`members\u0000${at}\u0000${beforeNext}\u0000${JSON.stringify(memberKeys)}`, () =>
            this.queries.stateAt(ctx.conn, roomId, start, { keys: memberKeys.map((s) => ({ type: 'm.room.member', state_key: s })), beforeNext }),
          );
    const wanted = members.filter((r) => !inTimeline.has(r.event_id));
    const sent = wanted.filter((r) => include || initial || !this.lazyMembers.has(ctx.userId, ctx.deviceId, roomId, r.event_id));
    this.lazyMembers.add(
      ctx.userId,
      ctx.deviceId,
      roomId,
      [...wanted, ...changedMembers, ...timeline.filter((r) => r.type === 'm.room.member')].map((r) => r.event_id),
    );
    return [...nonMembers, ...changedMembers, ...sent].sort(byStateKey);
  }

  private format(ctx: Context, rows: readonly EventRow[], timeline = false): Partial<ClientEvent>[] {
    const viewer = { userId: ctx.userId, deviceId: ctx.deviceId };
    const events = this.queries.formatAll(rows, viewer);
    if (timeline) ctx.timelineEvents.push(...events);
    return events.map((e) => applyEventFields(e, this.clientFields(ctx.filter)));
  }

  /** The filter's `event_fields` for the client form; none when the federation form is cut instead. */
  private clientFields(filter: SyncFilter): readonly string[] | undefined {
    return filter.event_format === 'federation' && this.options.wireEvents ? undefined : filter.event_fields;
  }

  /** The answer in the filter's event format. */
  private async inEventFormat(body: SyncResponse, filter: SyncFilter | undefined): Promise<SyncResponse> {
    if (filter?.event_format !== 'federation' || !this.options.wireEvents) return body;
    return inFederationFormat(body, this.options.wireEvents, filter.event_fields);
  }

  private roomAccountData(ctx: Context, roomId: string): AccountDataEntry[] {
    return (ctx.accountData.rooms[roomId] ?? []).filter((e) => eventMatches(e, ctx.filter.room?.account_data));
  }

  /** An incremental sync's joined room with nothing new since the token (left out of the response). */
  private unchanged(ctx: Context, m: MembershipRow): boolean {
    const roomId = m.room_id;
    const newlyJoined = !ctx.since || m.position > ctx.since.events;
    const initial = newlyJoined || ctx.fullState;
    return (
      !initial &&
      ctx.active !== undefined &&
      !ctx.active.has(roomId) &&
      !ctx.receipts.has(roomId) &&
      (ctx.accountData.rooms[roomId] ?? []).length === 0 &&
      (!ctx.since || !this.options.typing || this.options.typing.typingSince(roomId, ctx.since.typing) === undefined)
    );
  }

  private async joinedRoom(ctx: Context, m: MembershipRow): Promise<JoinedRoom | undefined> {
    const roomId = m.room_id;
    const newlyJoined = !ctx.since || m.position > ctx.since.events;
    const initial = newlyJoined || ctx.fullState;
    const after = newlyJoined ? undefined : ctx.since?.events;
    if (this.unchanged(ctx, m)) return undefined;
    const { rows, limited, start } = await this.timeline(ctx, roomId, after, ctx.upTo, true);
    const state = await this.stateBlock(ctx, roomId, initial, after, start, rows, m);
    const ephemeral: JoinedRoom['ephemeral']['events'] = [];
    const ephemeralFilter = ctx.filter.room?.ephemeral;
    if (this.options.typing && eventMatches({ type: 'm.typing' }, ephemeralFilter)) {
      const typing = ctx.since && !ctx.fullState ? this.options.typing.typingSince(roomId, ctx.since.typing) : this.options.typing.typingSince(roomId, -1);
      // A room where someone typed since the server started shows who types now, nobody
      // included, also in an initial sync (a client then knows that a typing it saw ended).
      if (typing) ephemeral.push({ type: 'm.typing', content: { user_ids: typing } });
    }
    const receipts = ctx.receipts.get(roomId);
    if (receipts) ephemeral.push({ type: 'm.receipt', content: receipts });
    const accountData = this.roomAccountData(ctx, roomId);
    const changed = rows.length > 0 || state.length > 0 || ephemeral.length > 0 || accountData.length > 0;
    if (!initial && !changed) return undefined;
    const membersChanged = initial || [...rows, ...state].some((r) => r.type === 'm.room.member');
    return {
      ...(membersChanged ? { summary: await this.queries.roomSummary(ctx.conn, roomId, ctx.userId) } : {}),
      timeline: {
        events: this.format(ctx, rows, true),
        limited,
        prev_batch: encodePaginationToken(start),
      },
      state: { events: this.format(ctx, state) },
      account_data: { events: accountData },
      ephemeral: { events: ephemeral },
      ...unreadFields(ctx.unread.get(roomId), ctx.filter.room?.timeline?.unread_thread_notifications === true),
    };
  }

  private async leftRoom(ctx: Context, m: MembershipRow): Promise<LeftRoom> {
    const roomId = m.room_id;
    const incremental = ctx.since !== undefined && !ctx.fullState;
    let after = incremental && ctx.since && ctx.since.events < m.position ? ctx.since.events : undefined;
    if (after !== undefined) {
      // A room the user joined after the token and has left since (within one window): the
      // client never had its state, so it comes as for a newly joined room, from the start.
      // (A user never joined in the window, e.g. a rejected invite, gets only what changed.)
      const visibility = ctx.visibility.get(roomId) ?? (await this.queries.visibility(ctx.conn, roomId, ctx.userId));
      ctx.visibility.set(roomId, visibility);
      if (visibility.membershipAt(after) !== 'join' && visibility.joinedBetween(after, m.position)) after = undefined;
    }
    // Nothing after the leave is shown.
    const { rows, limited, start } = await this.timeline(ctx, roomId, after, m.position, false);
    const state = await this.stateBlock(ctx, roomId, after === undefined, after, start, rows);
    let shown = rows;
    if (rows.length === 0 && m.event_id) {
      // A room known only through an invite from another server, declined here without it: the
      // leave is held outside any timeline, and it is all the user has to see of the room.
      const own = await this.queries.eventRow(ctx.conn, m.event_id);
      if (own && !own.in_timeline && own.room_id === roomId && (after === undefined || own.position > after)) shown = [own];
    }
    return {
      timeline: { events: this.format(ctx, shown, true), limited, prev_batch: encodePaginationToken(start) },
      state: { events: this.format(ctx, state) },
      account_data: { events: this.roomAccountData(ctx, roomId) },
    };
  }

  /** Stripped state of an invite or knock, with the member event itself (undefined: sent by a user the user ignores). */
  private async strippedWith(ctx: Context, m: MembershipRow): Promise<StrippedStateEvent[] | undefined> {
    const events = [...(m.stripped_state ?? [])];
    if (m.event_id) {
      const row = await this.queries.eventRow(ctx.conn, m.event_id);
      if (row && row.sender !== ctx.userId && ctx.ignored.has(row.sender)) return undefined;
      if (row) events.push(strippedStateOf(row.event));
    }
    return events;
  }
}
