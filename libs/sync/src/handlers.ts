/** Query handlers of the read side: each delegates to the sync projection's queries. */
import { QueryHandler, type IQueryHandler } from '@nestjs/cqrs';
import { SyncQueries, type ClientEvent, type ContextResponse, type JoinedMember, type MessagesResponse } from '@hs/projections/sync';
import { GetContext, GetEventForUser, GetJoinedMembers, GetJoinedRooms, GetMembers, GetMessages, GetRoomStateForUser } from './queries';

@QueryHandler(GetMessages)
export class GetMessagesHandler implements IQueryHandler<GetMessages, MessagesResponse> {
  constructor(private readonly queries: SyncQueries) {}

  execute(q: GetMessages): Promise<MessagesResponse> {
    return this.queries.messages({ roomId: q.roomId, viewer: q.viewer, dir: q.dir, from: q.from, to: q.to, limit: q.limit, filter: q.filter });
  }
}

@QueryHandler(GetContext)
export class GetContextHandler implements IQueryHandler<GetContext, ContextResponse> {
  constructor(private readonly queries: SyncQueries) {}

  execute(q: GetContext): Promise<ContextResponse> {
    return this.queries.context(q.roomId, q.eventId, q.viewer, q.limit, q.filter);
  }
}

@QueryHandler(GetRoomStateForUser)
export class GetRoomStateForUserHandler implements IQueryHandler<GetRoomStateForUser, ClientEvent[]> {
  constructor(private readonly queries: SyncQueries) {}

  async execute(q: GetRoomStateForUser): Promise<ClientEvent[]> {
    if (q.eventType === undefined) return this.queries.roomStateForUser(q.roomId, q.viewer);
    return [await this.queries.stateEventForUser(q.roomId, q.eventType, q.stateKey ?? '', q.viewer)];
  }
}

@QueryHandler(GetMembers)
export class GetMembersHandler implements IQueryHandler<GetMembers, ClientEvent[]> {
  constructor(private readonly queries: SyncQueries) {}

  execute(q: GetMembers): Promise<ClientEvent[]> {
    return this.queries.membersForUser(q.roomId, q.viewer, { at: q.at, membership: q.membership, notMembership: q.notMembership });
  }
}

@QueryHandler(GetJoinedMembers)
export class GetJoinedMembersHandler implements IQueryHandler<GetJoinedMembers, Record<string, JoinedMember>> {
  constructor(private readonly queries: SyncQueries) {}

  execute(q: GetJoinedMembers): Promise<Record<string, JoinedMember>> {
    return this.queries.joinedMembersForUser(q.roomId, q.viewer);
  }
}

@QueryHandler(GetJoinedRooms)
export class GetJoinedRoomsHandler implements IQueryHandler<GetJoinedRooms, string[]> {
  constructor(private readonly queries: SyncQueries) {}

  execute(q: GetJoinedRooms): Promise<string[]> {
    return this.queries.joinedRooms(this.queries.pool, q.userId);
  }
}

@QueryHandler(GetEventForUser)
export class GetEventForUserHandler implements IQueryHandler<GetEventForUser, ClientEvent> {
  constructor(private readonly queries: SyncQueries) {}

  execute(q: GetEventForUser): Promise<ClientEvent> {
    return this.queries.eventForUser(q.roomId, q.eventId, q.viewer);
  }
}

export const SYNC_QUERY_HANDLERS = [
  GetMessagesHandler,
  GetContextHandler,
  GetRoomStateForUserHandler,
  GetMembersHandler,
  GetJoinedMembersHandler,
  GetJoinedRoomsHandler,
  GetEventForUserHandler,
];
