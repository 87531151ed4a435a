/**
 * Queries of the read side, for the HTTP layer's QueryBus. Each names the endpoint it serves.
 * Results are the response bodies (or the parts the controller wraps).
 */
import { Query } from '@nestjs/cqrs';
import type {
  ClientEvent,
  ContextResponse,
  JoinedMember,
  MessagesResponse,
  RelationsRequest,
  RelationsResponse,
  RoomEventFilter,
  ThreadsRequest,
  ThreadsResponse,
  Viewer,
} from '@hs/projections/sync';
import type { RoomEventsCriteria, SearchResponse } from './search';
import type { PresenceStatus } from './sources';
import type { UserDirectoryResponse } from './user-directory';

/** GET /_matrix/client/v3/rooms/{roomId}/messages */
export class GetMessages extends Query<MessagesResponse> {
  constructor(
    readonly roomId: string,
    readonly viewer: Viewer,
    readonly dir: 'b' | 'f',
    readonly from?: string,
    readonly to?: string,
    readonly limit?: number,
    readonly filter?: RoomEventFilter,
  ) {
    super();
  }
}

/** GET /_matrix/client/v3/rooms/{roomId}/context/{eventId} */
export class GetContext extends Query<ContextResponse> {
  constructor(
    readonly roomId: string,
    readonly eventId: string,
    readonly viewer: Viewer,
    readonly limit?: number,
    readonly filter?: RoomEventFilter,
  ) {
    super();
  }
}

/**
 * GET /_matrix/client/v3/rooms/{roomId}/state (no type) and
 * GET /_matrix/client/v3/rooms/{roomId}/state/{eventType}/{stateKey} (the one event).
 */
export class GetRoomStateForUser extends Query<ClientEvent[]> {
  constructor(
    readonly roomId: string,
    readonly viewer: Viewer,
    readonly eventType?: string,
    readonly stateKey?: string,
  ) {
    super();
  }
}

/** GET /_matrix/client/v3/rooms/{roomId}/members */
export class GetMembers extends Query<ClientEvent[]> {
  constructor(
    readonly roomId: string,
    readonly viewer: Viewer,
    readonly at?: string,
    readonly membership?: string,
    readonly notMembership?: string,
  ) {
    super();
  }
}

/** GET /_matrix/client/v3/rooms/{roomId}/joined_members */
export class GetJoinedMembers extends Query<Record<string, JoinedMember>> {
  constructor(
    readonly roomId: string,
    readonly viewer: Viewer,
  ) {
    super();
  }
}

/** GET /_matrix/client/v3/joined_rooms */
export class GetJoinedRooms extends Query<string[]> {
  constructor(readonly userId: string) {
    super();
  }
}

/** GET /_matrix/client/v1/rooms/{roomId}/timestamp_to_event */
export class GetEventNearTimestamp extends Query<{ event_id: string; origin_server_ts: number }> {
  constructor(
    readonly roomId: string,
    readonly ts: number,
    readonly dir: 'f' | 'b',
    readonly viewer: Viewer,
  ) {
    super();
  }
}

/** GET /_matrix/client/v3/rooms/{roomId}/event/{eventId} */
export class GetEventForUser extends Query<ClientEvent> {
  constructor(
    readonly roomId: string,
    readonly eventId: string,
    readonly viewer: Viewer,
  ) {
    super();
  }
}

/**
 * GET /_matrix/client/v3/presence/{userId}/status: the user's presence, for the user themself
 * or a user who shares a joined room with them (others: M_FORBIDDEN).
 */
export class GetPresence extends Query<PresenceStatus> {
  constructor(
    readonly requester: string,
    readonly userId: string,
  ) {
    super();
  }
}

/** POST /_matrix/client/v3/user_directory/search */
export class SearchUserDirectory extends Query<UserDirectoryResponse> {
  constructor(
    readonly searcher: string,
    readonly searchTerm: string,
    readonly limit: number,
  ) {
    super();
  }
}

/** GET /_matrix/client/v1/rooms/{roomId}/relations/{eventId}[/{relType}[/{eventType}]] */
export class GetRelations extends Query<RelationsResponse> {
  constructor(readonly request: RelationsRequest) {
    super();
  }
}

/** POST /_matrix/client/v3/search (the room events category) */
export class SearchRoomEvents extends Query<SearchResponse> {
  constructor(
    readonly viewer: Viewer,
    readonly criteria: RoomEventsCriteria,
    readonly nextBatch?: string,
  ) {
    super();
  }
}

/** GET /_matrix/client/v1/rooms/{roomId}/threads */
export class GetThreads extends Query<ThreadsResponse> {
  constructor(readonly request: ThreadsRequest) {
    super();
  }
}
