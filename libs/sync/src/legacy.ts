/**
 * The deprecated pre-/sync endpoints some clients and bridges still call, answered from
 * /sync's computation (and so from the same read models, behind the same read barrier):
 * GET /events (the event stream), GET /initialSync and GET /rooms/{roomId}/initialSync
 * (client-server API r0.6.1, "Deprecated: events" and "Deprecated: initial sync").
 */
import type { ClientEvent } from '@hs/projections/sync';
import type { AccountDataEntry } from './sources';
import { MAX_TIMELINE_LIMIT } from './filter';
import type { SyncFilter } from './filter';
import type { JoinedRoom, LeftRoom, SyncResponse, SyncService } from './sync.service';

/** An event of the event stream or of an initial sync: room events carry their room id. */
export type LegacyEvent = Partial<Omit<ClientEvent, 'content'>> & { type: string; content?: Record<string, unknown> };

export interface EventStreamResponse {
  chunk: LegacyEvent[];
  start: string;
  end: string;
}

export interface PaginationChunk {
  chunk: LegacyEvent[];
  start: string;
  end: string;
}

export interface RoomInitialSync {
  room_id: string;
  /** The user's membership; absent for a world_readable room the user never joined (a preview). */
  membership?: string;
  messages?: PaginationChunk;
  state?: LegacyEvent[];
  visibility: 'private' | 'public';
  account_data?: AccountDataEntry[];
  invite?: LegacyEvent;
  presence?: LegacyEvent[];
  /** The room's m.receipt event (what /sync's ephemeral section holds); empty for a room left. */
  receipts?: LegacyEvent[];
}

export interface InitialSyncResponse {
  end: string;
  rooms: RoomInitialSync[];
  presence: LegacyEvent[];
  /** Every joined room's m.receipt event, each with its room id. */
  receipts: LegacyEvent[];
  account_data: AccountDataEntry[];
}

/** Default number of messages per room of an initial sync (Synapse's). */
export const LEGACY_DEFAULT_LIMIT = 10;

/** Room events, ephemeral events, presence and account data changes: what the event stream shows. */
const EVENT_STREAM_FILTER: SyncFilter = {
  room: { state: { types: [] }, timeline: { limit: MAX_TIMELINE_LIMIT } },
};

/**
 * The events with their room id and, as the events of these endpoints always had, `user_id`
 * (the sender) for clients written against them.
 */
function withRoom(roomId: string, events: readonly Partial<ClientEvent>[]): LegacyEvent[] {
  return events.map((e) => ({ ...e, type: e.type ?? '', room_id: roomId, ...(typeof e.sender === 'string' ? { user_id: e.sender } : {}) }));
}

/** Which of these rooms are published in the room directory (for `visibility`). */
export interface RoomDirectorySource {
  publishedRooms(roomIds: readonly string[]): Promise<ReadonlySet<string>>;
}

/** A joined room's m.receipt event from /sync's ephemeral section, with the room id. */
function receiptsOf(roomId: string, room: JoinedRoom): LegacyEvent[] {
  return room.ephemeral.events.filter((e) => e.type === 'm.receipt').map((e) => ({ ...e, room_id: roomId }));
}

/**
 * The answer's m.presence events in these endpoints' form: the content names the user
 * (`user_id`), as it did before presence events had a `sender`.
 */
function presenceOf(body: SyncResponse): LegacyEvent[] {
  return (body.presence?.events ?? []).map((e) => ({ ...e, content: { ...e.content, user_id: e.sender } }));
}

/** The m.presence events of a room's joined members, from the answer's presence section. */
function presenceIn(body: SyncResponse, state: readonly LegacyEvent[]): LegacyEvent[] {
  const joined = new Set(state.filter((e) => e.type === 'm.room.member' && e.content?.membership === 'join').map((e) => e.state_key));
  return presenceOf(body).filter((e) => joined.has(e.sender));
}

/** The state after the timeline: the state block with the timeline's state events applied in order. */
function stateAfter(roomId: string, room: JoinedRoom | LeftRoom): LegacyEvent[] {
  const byKey = new Map<string, LegacyEvent>();
  for (const e of withRoom(roomId, [...room.state.events, ...room.timeline.events])) {
    if (typeof e.state_key === 'string') byKey.set(`${e.type}\u0000${e.state_key}`, e);
  }
  return [...byKey.values()];
}

export class LegacySyncService {
  constructor(
    private readonly sync: SyncService,
    private readonly directory?: RoomDirectorySource,
  ) {}

  /** The published ones of these rooms (none without a directory source). */
  private async published(roomIds: readonly string[]): Promise<ReadonlySet<string>> {
    return this.directory && roomIds.length > 0 ? this.directory.publishedRooms(roomIds) : new Set();
  }

  /**
   * GET /_matrix/client/v3/events: what happened after `from` (default: now), waiting up to
   * `timeoutMs`. With `roomId`, the events of that room only: of a room the user is joined to,
   * as the stream has them; of a world_readable room the user is not joined to, the room's
   * events after `from` as a preview (403 M_FORBIDDEN for any other room).
   */
  async events(request: { userId: string; deviceId: string; from?: string; roomId?: string; timeoutMs: number; signal?: AbortSignal }): Promise<EventStreamResponse> {
    if (request.roomId !== undefined) {
      // A join acknowledged just before must be seen here, and the preview's events too.
      await this.sync.ready();
      const member = await this.sync.queries.membership(this.sync.queries.pool, request.roomId, request.userId);
      if (member?.membership !== 'join') return this.previewEvents(request.userId, request.roomId, request.from);
    }
    const start = request.from ?? (await this.sync.currentToken());
    const body = await this.sync.sync({
      userId: request.userId,
      deviceId: request.deviceId,
      since: start,
      timeoutMs: request.timeoutMs,
      filter: request.roomId === undefined ? EVENT_STREAM_FILTER : { room: { ...EVENT_STREAM_FILTER.room, rooms: [request.roomId] } },
      ...(request.signal ? { signal: request.signal } : {}),
    });
    const chunk: LegacyEvent[] = [];
    for (const [roomId, room] of Object.entries(body.rooms?.join ?? {})) {
      chunk.push(...withRoom(roomId, room.timeline.events));
      for (const e of room.ephemeral.events) chunk.push({ ...e, room_id: roomId });
      for (const e of room.account_data.events) chunk.push({ ...e, room_id: roomId });
    }
    for (const [roomId, room] of Object.entries(body.rooms?.leave ?? {})) chunk.push(...withRoom(roomId, room.timeline.events));
    for (const [roomId, room] of Object.entries(body.rooms?.invite ?? {})) {
      const invite = room.invite_state.events.find((e) => e.type === 'm.room.member' && e.state_key === request.userId);
      if (invite) chunk.push({ ...invite, room_id: roomId });
    }
    for (const e of body.account_data?.events ?? []) chunk.push({ ...e });
    chunk.push(...presenceOf(body));
    return { chunk, start, end: body.next_batch };
  }

  /** The events of a room the user previews (world_readable), after `from` (default: now), without waiting. */
  private async previewEvents(userId: string, roomId: string, from: string | undefined): Promise<EventStreamResponse> {
    const start = from ?? (await this.sync.currentToken());
    const page = await this.sync.queries.messages({ roomId, viewer: { userId }, dir: 'f', from: start, limit: MAX_TIMELINE_LIMIT });
    return { chunk: withRoom(roomId, page.chunk), start, end: page.end ?? start };
  }

  /**
   * GET /_matrix/client/v3/initialSync: every room of the user with its latest messages and
   * state, and the presence of the user and of those who share a room with them. An initial
   * sync does not mark the user's presence (the event stream and /sync do).
   */
  async initialSync(request: { userId: string; deviceId: string; limit?: number; archived?: boolean }): Promise<InitialSyncResponse> {
    const body = await this.sync.sync({
      userId: request.userId,
      deviceId: request.deviceId,
      setPresence: 'offline',
      filter: { room: { timeline: { limit: request.limit ?? LEGACY_DEFAULT_LIMIT }, include_leave: request.archived === true } },
    });
    const rooms: RoomInitialSync[] = [];
    const receipts: LegacyEvent[] = [];
    const published = await this.published([
      ...Object.keys(body.rooms?.join ?? {}),
      ...Object.keys(body.rooms?.leave ?? {}),
      ...Object.keys(body.rooms?.invite ?? {}),
    ]);
    for (const [roomId, room] of Object.entries(body.rooms?.join ?? {})) {
      rooms.push(this.room(body, roomId, 'join', room, published));
      receipts.push(...receiptsOf(roomId, room));
    }
    for (const [roomId, room] of Object.entries(body.rooms?.leave ?? {})) rooms.push(this.room(body, roomId, 'leave', room, published));
    for (const [roomId, room] of Object.entries(body.rooms?.invite ?? {})) {
      const invite = room.invite_state.events.find((e) => e.type === 'm.room.member' && e.state_key === request.userId);
      rooms.push({
        room_id: roomId,
        membership: 'invite',
        visibility: published.has(roomId) ? 'public' : 'private',
        ...(invite ? { invite: { ...invite, room_id: roomId } } : {}),
      });
    }
    return { end: body.next_batch, rooms, presence: presenceOf(body), receipts, account_data: body.account_data?.events ?? [] };
  }

  /** GET /_matrix/client/v3/rooms/{roomId}/initialSync: one room the user is or was in, with its joined members' presence. */
  async roomInitialSync(request: { userId: string; deviceId: string; roomId: string; limit?: number }): Promise<RoomInitialSync> {
    const body = await this.sync.sync({
      userId: request.userId,
      deviceId: request.deviceId,
      setPresence: 'offline',
      filter: {
        account_data: { types: [] },
        room: { rooms: [request.roomId], include_leave: true, timeline: { limit: request.limit ?? LEGACY_DEFAULT_LIMIT } },
      },
    });
    const joined = body.rooms?.join?.[request.roomId];
    const published = await this.published([request.roomId]);
    if (joined) {
      const room = this.room(body, request.roomId, 'join', joined, published);
      return { ...room, presence: presenceIn(body, room.state ?? []), receipts: receiptsOf(request.roomId, joined) };
    }
    const left = body.rooms?.leave?.[request.roomId];
    // Nothing after the leave: no receipts (they are not kept per position).
    if (left) return { ...this.room(body, request.roomId, 'leave', left, published), presence: [], receipts: [] };
    // Never a member: a room whose history is world_readable reads as a preview; others answer
    // 403 M_FORBIDDEN (the read models' access check).
    const viewer = { userId: request.userId };
    const [state, page] = await Promise.all([
      this.sync.queries.roomStateForUser(request.roomId, viewer),
      this.sync.queries.messages({ roomId: request.roomId, viewer, dir: 'b', limit: request.limit ?? LEGACY_DEFAULT_LIMIT }),
    ]);
    return {
      room_id: request.roomId,
      messages: { chunk: withRoom(request.roomId, [...page.chunk].reverse()), start: page.end ?? page.start, end: body.next_batch },
      state: withRoom(request.roomId, state),
      visibility: published.has(request.roomId) ? 'public' : 'private',
      account_data: [],
      presence: [],
      receipts: [],
    };
  }

  private room(body: SyncResponse, roomId: string, membership: string, room: JoinedRoom | LeftRoom, published: ReadonlySet<string>): RoomInitialSync {
    return {
      room_id: roomId,
      membership,
      messages: { chunk: withRoom(roomId, room.timeline.events), start: room.timeline.prev_batch, end: body.next_batch },
      state: stateAfter(roomId, room),
      visibility: published.has(roomId) ? 'public' : 'private',
      account_data: room.account_data.events,
    };
  }
}
