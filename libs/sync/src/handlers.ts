/**
 * Query handlers of the read side: each delegates to the sync projection's queries once the
 * projection has applied every write acknowledged before the query (see `ReadBarrier`).
 */
import { Inject, Injectable, Optional } from '@nestjs/common';
import { Query, QueryHandler } from '@nestjs/cqrs';
import type { ReadBarrier } from '@hs/eventstore';
import {
  SyncQueries,
  SyncQueryError,
  bundleAggregations,
  relations,
  threads,
  type ClientEvent,
  type ContextResponse,
  type JoinedMember,
  type MessagesResponse,
  type RelationsResponse,
  type ThreadsResponse,
  type Viewer,
} from '@hs/projections/sync';
import { IgnoredUsers } from './ignored-users';
import { PresenceStore } from './presence';
import {
  GetContext,
  GetEventForUser,
  GetEventNearTimestamp,
  GetJoinedMembers,
  GetJoinedRooms,
  GetMembers,
  GetMessages,
  GetPresence,
  GetRelations,
  GetRoomStateForUser,
  GetThreads,
  SearchRoomEvents,
  SearchUserDirectory,
} from './queries';
import { RoomEventSearch, type SearchResponse } from './search';
import { searchDirectory, type UserDirectoryOptions, type UserDirectoryResponse } from './user-directory';
import type { PresenceStatus } from './sources';
import { ROOM_QUERY_READ_MODELS, SEARCH_READ_MODELS, USER_DIRECTORY_READ_MODELS } from './read-models';

/** Injection token of the read side's `ReadBarrier` (none: queries answer at once). */
export const READ_BARRIER = Symbol('READ_BARRIER');

/** Injection token of the user directory's `UserDirectoryOptions`. */
export const USER_DIRECTORY_OPTIONS = Symbol('USER_DIRECTORY_OPTIONS');

/**
 * A handler of a query served from read models (projections): `execute` waits until they
 * reflect every write acknowledged before the query, then `answer`s. Every handler of a
 * read model's query extends it, so no query of the read side can skip the wait.
 */
@Injectable()
export abstract class ReadModelQueryHandler<Q extends Query<R>, R> {
  /** The read models (barrier names) the answer reads. */
  protected abstract readonly readModels: readonly string[];

  /** Injected as a property, so that subclasses' constructors take only their own dependencies. */
  @Optional()
  @Inject(READ_BARRIER)
  private readonly barrier: ReadBarrier | null = null;

  async execute(query: Q): Promise<R> {
    await this.barrier?.ready(this.readModels);
    return this.answer(query);
  }

  protected abstract answer(query: Q): Promise<R>;
}

/** A query served from the sync projection's tables. */
@Injectable()
abstract class SyncProjectionQueryHandler<Q extends Query<R>, R> extends ReadModelQueryHandler<Q, R> {
  protected readonly readModels = ROOM_QUERY_READ_MODELS;

  constructor(protected readonly queries: SyncQueries) {
    super();
  }

  /**
   * Adds the bundled aggregations of events the query answers (read after the query, from a
   * position at least as recent, so they reflect every write the events do).
   */
  protected bundle(events: readonly ClientEvent[], viewer: Viewer): Promise<void> {
    return bundleAggregations(this.queries, this.queries.pool, events, viewer);
  }
}

/** A query whose answer leaves out what the viewer's ignored users sent. */
@Injectable()
abstract class IgnoringQueryHandler<Q extends Query<R>, R> extends SyncProjectionQueryHandler<Q, R> {
  constructor(queries: SyncQueries, @Inject(IgnoredUsers) private readonly ignoredUsers: IgnoredUsers) {
    super(queries);
  }

  /** The viewer with the users they ignore. */
  protected async withIgnored(viewer: Viewer): Promise<Viewer> {
    return { ...viewer, ignored: await this.ignoredUsers.of(viewer.userId) };
  }
}

@QueryHandler(GetMessages)
export class GetMessagesHandler extends IgnoringQueryHandler<GetMessages, MessagesResponse> {
  protected async answer(q: GetMessages): Promise<MessagesResponse> {
    const viewer = await this.withIgnored(q.viewer);
    const response = await this.queries.messages({ roomId: q.roomId, viewer, dir: q.dir, from: q.from, to: q.to, limit: q.limit, filter: q.filter });
    await this.bundle(response.chunk, viewer);
    return response;
  }
}

@QueryHandler(GetContext)
export class GetContextHandler extends IgnoringQueryHandler<GetContext, ContextResponse> {
  protected async answer(q: GetContext): Promise<ContextResponse> {
    const viewer = await this.withIgnored(q.viewer);
    const response = await this.queries.context(q.roomId, q.eventId, viewer, q.limit, q.filter);
    await this.bundle([...response.events_before, response.event, ...response.events_after], viewer);
    return response;
  }
}

@QueryHandler(GetRoomStateForUser)
export class GetRoomStateForUserHandler extends SyncProjectionQueryHandler<GetRoomStateForUser, ClientEvent[]> {
  protected async answer(q: GetRoomStateForUser): Promise<ClientEvent[]> {
    if (q.eventType === undefined) return this.queries.roomStateForUser(q.roomId, q.viewer);
    return [await this.queries.stateEventForUser(q.roomId, q.eventType, q.stateKey ?? '', q.viewer)];
  }
}

@QueryHandler(GetMembers)
export class GetMembersHandler extends SyncProjectionQueryHandler<GetMembers, ClientEvent[]> {
  protected answer(q: GetMembers): Promise<ClientEvent[]> {
    return this.queries.membersForUser(q.roomId, q.viewer, { at: q.at, membership: q.membership, notMembership: q.notMembership });
  }
}

@QueryHandler(GetJoinedMembers)
export class GetJoinedMembersHandler extends SyncProjectionQueryHandler<GetJoinedMembers, Record<string, JoinedMember>> {
  protected answer(q: GetJoinedMembers): Promise<Record<string, JoinedMember>> {
    return this.queries.joinedMembersForUser(q.roomId, q.viewer);
  }
}

@QueryHandler(GetJoinedRooms)
export class GetJoinedRoomsHandler extends SyncProjectionQueryHandler<GetJoinedRooms, string[]> {
  protected answer(q: GetJoinedRooms): Promise<string[]> {
    return this.queries.joinedRooms(this.queries.pool, q.userId);
  }
}

@QueryHandler(GetEventForUser)
export class GetEventForUserHandler extends SyncProjectionQueryHandler<GetEventForUser, ClientEvent> {
  protected async answer(q: GetEventForUser): Promise<ClientEvent> {
    const event = await this.queries.eventForUser(q.roomId, q.eventId, q.viewer);
    await this.bundle([event], q.viewer);
    return event;
  }
}

@QueryHandler(GetEventNearTimestamp)
export class GetEventNearTimestampHandler extends SyncProjectionQueryHandler<GetEventNearTimestamp, { event_id: string; origin_server_ts: number }> {
  protected answer(q: GetEventNearTimestamp): Promise<{ event_id: string; origin_server_ts: number }> {
    return this.queries.eventNearTimestamp(q.roomId, q.ts, q.dir, q.viewer);
  }
}

/**
 * Presence is read from the in-memory store after the wait (so a PUT acknowledged before is
 * seen); who may see it, from the sync projection's memberships. With presence turned off,
 * everyone is offline (as Synapse answers).
 */
@QueryHandler(GetPresence)
export class GetPresenceHandler extends SyncProjectionQueryHandler<GetPresence, PresenceStatus> {
  constructor(queries: SyncQueries, @Inject(PresenceStore) private readonly presence: PresenceStore) {
    super(queries);
  }

  protected async answer(q: GetPresence): Promise<PresenceStatus> {
    if (!this.presence.enabled) return { presence: 'offline' };
    if (q.userId !== q.requester) {
      const sharing = await this.queries.usersSharingRoomWith(this.queries.pool, q.requester, [q.userId]);
      if (!sharing.has(q.userId)) throw new SyncQueryError('M_FORBIDDEN', 'You are not allowed to see their presence');
    }
    return this.presence.status(q.userId) ?? { presence: 'offline' };
  }
}

/** POST /search: the search index and the sync projection, in one snapshot. */
@QueryHandler(SearchRoomEvents)
export class SearchRoomEventsHandler extends ReadModelQueryHandler<SearchRoomEvents, SearchResponse> {
  protected readonly readModels = SEARCH_READ_MODELS;
  private readonly search: RoomEventSearch;

  constructor(queries: SyncQueries, @Inject(IgnoredUsers) private readonly ignoredUsers: IgnoredUsers) {
    super();
    this.search = new RoomEventSearch(queries);
  }

  protected async answer(q: SearchRoomEvents): Promise<SearchResponse> {
    const viewer = { ...q.viewer, ignored: await this.ignoredUsers.of(q.viewer.userId) };
    return { search_categories: { room_events: await this.search.search(viewer, q.criteria, q.nextBatch) } };
  }
}

/** POST /user_directory/search: the user directory projection (and the accounts' local users when configured). */
@QueryHandler(SearchUserDirectory)
export class SearchUserDirectoryHandler extends ReadModelQueryHandler<SearchUserDirectory, UserDirectoryResponse> {
  protected readonly readModels = USER_DIRECTORY_READ_MODELS;

  constructor(
    private readonly queries: SyncQueries,
    @Inject(USER_DIRECTORY_OPTIONS) private readonly options: UserDirectoryOptions,
  ) {
    super();
  }

  protected answer(q: SearchUserDirectory): Promise<UserDirectoryResponse> {
    return searchDirectory(this.queries.pool, this.options, q.searcher, q.searchTerm, q.limit);
  }
}

@QueryHandler(GetRelations)
export class GetRelationsHandler extends IgnoringQueryHandler<GetRelations, RelationsResponse> {
  protected async answer(q: GetRelations): Promise<RelationsResponse> {
    return relations(this.queries, { ...q.request, viewer: await this.withIgnored(q.request.viewer) });
  }
}

@QueryHandler(GetThreads)
export class GetThreadsHandler extends IgnoringQueryHandler<GetThreads, ThreadsResponse> {
  protected async answer(q: GetThreads): Promise<ThreadsResponse> {
    return threads(this.queries, { ...q.request, viewer: await this.withIgnored(q.request.viewer) });
  }
}

export const SYNC_QUERY_HANDLERS = [
  SearchRoomEventsHandler,
  SearchUserDirectoryHandler,
  GetRelationsHandler,
  GetThreadsHandler,
  GetMessagesHandler,
  GetContextHandler,
  GetRoomStateForUserHandler,
  GetMembersHandler,
  GetJoinedMembersHandler,
  GetJoinedRoomsHandler,
  GetEventForUserHandler,
  GetEventNearTimestampHandler,
  GetPresenceHandler,
];
