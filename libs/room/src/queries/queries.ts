/**
 * Queries the protocol answers need from the write model: exact, never eventually consistent.
 * Unknown rooms and events give RoomCommandError M_NOT_FOUND.
 */
import { Query } from '@nestjs/cqrs';
import type { RoomEvent } from '@hs/protocol';
import type { PublicRoomsPage, PublicRoomsRequest } from '../federation-queries/queries';
import type { StoredEvent } from '../write-model/repository';
import type { HierarchyPage, HierarchyRequest } from './hierarchy';

/** The state events of a room: its current state, or the state after `atEventId`. */
export class GetRoomState extends Query<RoomEvent[]> {
  constructor(
    readonly roomId: string,
    readonly atEventId?: string,
  ) {
    super();
  }
}

/** One state event of the room's current state (GET /rooms/{roomId}/state/{eventType}/{stateKey}). */
export class GetStateEvent extends Query<RoomEvent> {
  constructor(
    readonly roomId: string,
    readonly type: string,
    readonly stateKey = '',
  ) {
    super();
  }
}

/** An event by id, with its stream position and flags. */
export class GetEvent extends Query<StoredEvent> {
  constructor(readonly eventId: string) {
    super();
  }
}

/** The version of a room. */
export class GetRoomVersion extends Query<string> {
  constructor(readonly roomId: string) {
    super();
  }
}

/** GET /_matrix/client/v3/directory/list/room/{roomId}: whether the room is published in the room directory. */
export class GetRoomDirectoryVisibility extends Query<'public' | 'private'> {
  constructor(readonly roomId: string) {
    super();
  }
}

/** Whether the user's current membership of the room is join (false for unknown rooms). */
export class IsJoined extends Query<boolean> {
  constructor(
    readonly roomId: string,
    readonly userId: string,
  ) {
    super();
  }
}

/** The user's current membership of the room, or null when they have none. */
export class GetMembership extends Query<string | null> {
  constructor(
    readonly roomId: string,
    readonly userId: string,
  ) {
    super();
  }
}

/** The rooms of a user with their membership, optionally only these memberships. */
export class GetRoomsOfUser extends Query<{ roomId: string; membership: string }[]> {
  constructor(
    readonly userId: string,
    readonly memberships: readonly string[] = [],
  ) {
    super();
  }
}

/** GET /_matrix/client/v3/directory/room/{roomAlias} (local aliases). */
export class ResolveRoomAlias extends Query<{ roomId: string; servers: string[] }> {
  constructor(readonly alias: string) {
    super();
  }
}

/**
 * GET and POST /_matrix/client/v3/publicRooms: this server's published room directory, or
 * (`server` another server's name) that server's, asked over federation.
 */
export class GetPublicRooms extends Query<PublicRoomsPage> {
  constructor(
    readonly request: PublicRoomsRequest,
    readonly server?: string,
  ) {
    super();
  }
}

/** GET /_matrix/client/v1/rooms/{roomId}/hierarchy: the space tree below a room, a page at a time. */
export class GetRoomHierarchy extends Query<HierarchyPage> {
  constructor(
    readonly userId: string,
    readonly roomId: string,
    readonly request: HierarchyRequest,
  ) {
    super();
  }
}

/** GET /_matrix/client/v3/rooms/{roomId}/aliases */
export class GetRoomAliases extends Query<string[]> {
  constructor(readonly roomId: string) {
    super();
  }
}

/** Whether the user has forgotten the room. */
export class IsRoomForgotten extends Query<boolean> {
  constructor(
    readonly userId: string,
    readonly roomId: string,
  ) {
    super();
  }
}

/** The auth chain of events (ids), e.g. for /event_auth and /state_ids. */
export class GetAuthChain extends Query<string[]> {
  constructor(readonly eventIds: readonly string[]) {
    super();
  }
}
