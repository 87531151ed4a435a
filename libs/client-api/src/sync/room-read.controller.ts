/**
 * Reading rooms (client-server API, "Getting events for a room" and "Room state"): /messages,
 * /context, /state, /members, /joined_members, /joined_rooms and /event, answered by the sync
 * read side through the query bus, with history visibility applied there.
 */
import { MatrixError } from '@hs/http';
import {
  GetContext,
  GetEventForUser,
  GetEventNearTimestamp,
  GetJoinedMembers,
  GetJoinedRooms,
  GetMembers,
  GetMessages,
  GetRoomStateForUser,
  type ClientEvent,
  type RoomEventFilter,
} from '@hs/sync';
import { BackfillRoom } from '@hs/room';
import { Controller, Get, Param, Query } from '@nestjs/common';
import { CommandBus, QueryBus } from '@nestjs/cqrs';
import { z } from 'zod';
import { AuthUser, RequireAuth, type AuthenticatedUser, GuestAllowed } from '../auth';
import { clientPaths, clientV1Paths } from '../prefixes';
import { answering, containsNul, eventIdParam, eventTypeParam, intQuery, roomIdParam, stateKeyParam, stringQuery } from '../rooms/params';

const MEMBERSHIPS = new Set(['join', 'invite', 'knock', 'leave', 'ban']);
const MAX_LIMIT = 1000;
/**
 * Events asked of another server when /messages pages past what the room holds: the most a
 * server answers (100, as Synapse asks), whatever the page's limit, so that one backfill
 * reaches past the events held only as outliers since a join over federation (whose state a
 * server may not answer) and a page needs one round trip.
 */
const BACKFILL_EVENTS = 100;

const stringList = z.array(z.string()).optional();
/** A RoomEventFilter (room_event_filter.yaml) as a request carries it. */
export const roomEventFilter = z
  .object({
    limit: z.number().int().nonnegative().optional(),
    types: stringList,
    not_types: stringList,
    senders: stringList,
    not_senders: stringList,
    rooms: stringList,
    not_rooms: stringList,
    contains_url: z.boolean().optional(),
    lazy_load_members: z.boolean().optional(),
    include_redundant_members: z.boolean().optional(),
    unread_thread_notifications: z.boolean().optional(),
  })
  .passthrough();

/** The `filter` query parameter of /messages and /context: a RoomEventFilter as JSON. */
function roomEventFilterQuery(value: unknown): RoomEventFilter | undefined {
  const text = stringQuery(value, 'filter');
  if (text === undefined || text === '') return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw MatrixError.notJson('filter is not valid JSON');
  }
  if (containsNul(parsed)) throw MatrixError.badJson('filter strings may not contain U+0000');
  const result = roomEventFilter.safeParse(parsed);
  if (!result.success) {
    const issue = result.error.issues[0];
    throw MatrixError.badJson(`filter.${issue.path.join('.')}: ${issue.message}`);
  }
  return result.data;
}

/** A `from`/`to`/`at` token: its form is checked by the read side (M_INVALID_PARAM). */
function tokenQuery(value: unknown, name: string): string | undefined {
  const text = stringQuery(value, name);
  return text === '' ? undefined : text;
}

@Controller()
@RequireAuth()
export class RoomReadController {
  constructor(
    private readonly queryBus: QueryBus,
    private readonly commandBus: CommandBus,
  ) {}

  /** GET /_matrix/client/v3/rooms/{roomId}/messages */
  @GuestAllowed()
  @Get(clientPaths('rooms/:roomId/messages'))
  async getRoomEvents(
    @AuthUser() user: AuthenticatedUser,
    @Param('roomId') rawRoomId: string,
    @Query() query: Record<string, unknown>,
  ): Promise<{ chunk: ClientEvent[]; start: string; end?: string; state?: ClientEvent[] }> {
    const roomId = roomIdParam(rawRoomId);
    const dir = stringQuery(query.dir, 'dir');
    if (dir !== 'b' && dir !== 'f') throw MatrixError.invalidParam('dir must be "b" or "f"');
    const from = tokenQuery(query.from, 'from');
    const to = tokenQuery(query.to, 'to');
    const limit = intQuery(query.limit, 'limit', 0, MAX_LIMIT);
    const filter = roomEventFilterQuery(query.filter);
    const read = () => this.queryBus.execute(new GetMessages(roomId, { userId: user.userId, deviceId: user.deviceId }, dir, from, to, limit, filter));
    const page = await answering(read);
    // Paging back past the start of what we hold: ask another server in the room for older
    // history (/backfill), then answer again (the read waits for what the backfill wrote).
    if (dir !== 'b' || page.end !== undefined || to !== undefined) return page;
    const placed = await this.commandBus.execute(new BackfillRoom(roomId, BACKFILL_EVENTS)).catch(() => 0);
    return placed > 0 ? answering(read) : page;
  }

  /** GET /_matrix/client/v3/rooms/{roomId}/context/{eventId} */
  @GuestAllowed()
  @Get(clientPaths('rooms/:roomId/context/:eventId'))
  async getEventContext(
    @AuthUser() user: AuthenticatedUser,
    @Param('roomId') rawRoomId: string,
    @Param('eventId') rawEventId: string,
    @Query() query: Record<string, unknown>,
  ): Promise<unknown> {
    const roomId = roomIdParam(rawRoomId);
    const eventId = eventIdParam(rawEventId);
    const limit = intQuery(query.limit, 'limit', 0, MAX_LIMIT);
    const filter = roomEventFilterQuery(query.filter);
    return answering(() => this.queryBus.execute(new GetContext(roomId, eventId, { userId: user.userId, deviceId: user.deviceId }, limit, filter)));
  }

  /** GET /_matrix/client/v3/rooms/{roomId}/event/{eventId} */
  @GuestAllowed()
  @Get(clientPaths('rooms/:roomId/event/:eventId'))
  async getOneRoomEvent(@AuthUser() user: AuthenticatedUser, @Param('roomId') rawRoomId: string, @Param('eventId') rawEventId: string): Promise<ClientEvent> {
    const roomId = roomIdParam(rawRoomId);
    const eventId = eventIdParam(rawEventId);
    return answering(() => this.queryBus.execute(new GetEventForUser(roomId, eventId, { userId: user.userId, deviceId: user.deviceId })));
  }

  /** GET /_matrix/client/v1/rooms/{roomId}/timestamp_to_event */
  @Get(clientV1Paths('rooms/:roomId/timestamp_to_event'))
  async timestampToEvent(
    @AuthUser() user: AuthenticatedUser,
    @Param('roomId') rawRoomId: string,
    @Query() query: Record<string, unknown>,
  ): Promise<{ event_id: string; origin_server_ts: number }> {
    const roomId = roomIdParam(rawRoomId);
    const ts = intQuery(query.ts, 'ts', 0, Number.MAX_SAFE_INTEGER);
    if (ts === undefined) throw MatrixError.missingParam('ts is required');
    const dir = stringQuery(query.dir, 'dir');
    if (dir === undefined) throw MatrixError.missingParam('dir is required');
    if (dir !== 'f' && dir !== 'b') throw MatrixError.invalidParam('dir must be f or b');
    return answering(() => this.queryBus.execute(new GetEventNearTimestamp(roomId, ts, dir, { userId: user.userId, deviceId: user.deviceId })));
  }

  /** GET /_matrix/client/v3/rooms/{roomId}/state */
  @GuestAllowed()
  @Get(clientPaths('rooms/:roomId/state'))
  async getRoomState(@AuthUser() user: AuthenticatedUser, @Param('roomId') rawRoomId: string): Promise<ClientEvent[]> {
    const roomId = roomIdParam(rawRoomId);
    return answering(() => this.queryBus.execute(new GetRoomStateForUser(roomId, { userId: user.userId, deviceId: user.deviceId })));
  }

  /** GET /_matrix/client/v3/rooms/{roomId}/state/{eventType}/{stateKey} */
  @GuestAllowed()
  @Get(clientPaths('rooms/:roomId/state/:eventType/:stateKey'))
  async getRoomStateWithKey(
    @AuthUser() user: AuthenticatedUser,
    @Param('roomId') rawRoomId: string,
    @Param('eventType') rawType: string,
    @Param('stateKey') rawStateKey: string,
    @Query() query: Record<string, unknown>,
  ): Promise<unknown> {
    return this.stateEvent(user, rawRoomId, rawType, rawStateKey, query);
  }

  /** GET /_matrix/client/v3/rooms/{roomId}/state/{eventType}/ (the empty state key; the router ignores the last slash) */
  @GuestAllowed()
  @Get(clientPaths('rooms/:roomId/state/:eventType'))
  async getRoomStateWithEmptyKey(
    @AuthUser() user: AuthenticatedUser,
    @Param('roomId') rawRoomId: string,
    @Param('eventType') rawType: string,
    @Query() query: Record<string, unknown>,
  ): Promise<unknown> {
    return this.stateEvent(user, rawRoomId, rawType, '', query);
  }

  private async stateEvent(user: AuthenticatedUser, rawRoomId: string, rawType: string, rawStateKey: string, query: Record<string, unknown>): Promise<unknown> {
    const roomId = roomIdParam(rawRoomId);
    const type = eventTypeParam(rawType);
    const stateKey = stateKeyParam(rawStateKey);
    const format = stringQuery(query.format, 'format') ?? 'content';
    if (format !== 'content' && format !== 'event') throw MatrixError.invalidParam('format must be "content" or "event"');
    const events: ClientEvent[] = await answering(() =>
      this.queryBus.execute(new GetRoomStateForUser(roomId, { userId: user.userId, deviceId: user.deviceId }, type, stateKey)),
    );
    const event = events.find((e) => e.type === type && e.state_key === stateKey);
    if (!event) throw MatrixError.notFound(`No ${type} state event with state key ${JSON.stringify(stateKey)}`);
    return format === 'event' ? event : event.content;
  }

  /** GET /_matrix/client/v3/rooms/{roomId}/members */
  @GuestAllowed()
  @Get(clientPaths('rooms/:roomId/members'))
  async getMembersByRoom(
    @AuthUser() user: AuthenticatedUser,
    @Param('roomId') rawRoomId: string,
    @Query() query: Record<string, unknown>,
  ): Promise<{ chunk: ClientEvent[] }> {
    const roomId = roomIdParam(rawRoomId);
    const membership = stringQuery(query.membership, 'membership');
    const notMembership = stringQuery(query.not_membership, 'not_membership');
    for (const [name, value] of [['membership', membership], ['not_membership', notMembership]] as const) {
      if (value !== undefined && !MEMBERSHIPS.has(value)) throw MatrixError.invalidParam(`${name} must be one of join, invite, knock, leave, ban`);
    }
    const at = tokenQuery(query.at, 'at');
    const chunk: ClientEvent[] = await answering(() =>
      this.queryBus.execute(new GetMembers(roomId, { userId: user.userId, deviceId: user.deviceId }, at, membership, notMembership)),
    );
    return { chunk };
  }

  /** GET /_matrix/client/v3/rooms/{roomId}/joined_members */
  @GuestAllowed()
  @Get(clientPaths('rooms/:roomId/joined_members'))
  async getJoinedMembersByRoom(@AuthUser() user: AuthenticatedUser, @Param('roomId') rawRoomId: string): Promise<{ joined: Record<string, unknown> }> {
    const roomId = roomIdParam(rawRoomId);
    const joined: Record<string, unknown> = await answering(() =>
      this.queryBus.execute(new GetJoinedMembers(roomId, { userId: user.userId, deviceId: user.deviceId })),
    );
    return { joined };
  }

  /** GET /_matrix/client/v3/joined_rooms */
  @GuestAllowed()
  @Get(clientPaths('joined_rooms'))
  async getJoinedRooms(@AuthUser() user: AuthenticatedUser): Promise<{ joined_rooms: string[] }> {
    const rooms: string[] = await answering(() => this.queryBus.execute(new GetJoinedRooms(user.userId)));
    return { joined_rooms: rooms };
  }
}
