/**
 * Queries of the server-server API that the room write model answers exactly. Each names the
 * requesting server (`origin`) when the answer depends on what it may see (see
 * ./visibility.ts). Refusals are RoomCommandError: M_NOT_FOUND (unknown room or event, an event
 * of another room, no state known at the event), M_FORBIDDEN (the server may not see it),
 * M_INVALID_PARAM (a bad alias or pagination token).
 */
import { Query } from '@nestjs/cqrs';
import type { PublicRoomsChunk } from '@hs/contracts';
import type { SpaceRoomState } from './federation-reads';
import type { Pdu } from '@hs/protocol';

/** An event in its signed wire form, with its room version. */
export interface FederationPdu {
  roomVersion: string;
  pdu: Pdu;
}

/** GET /_matrix/federation/v1/event/{eventId} */
export class GetFederationEvent extends Query<FederationPdu> {
  constructor(
    readonly origin: string,
    readonly eventId: string,
  ) {
    super();
  }
}

/** The state of a room before an event, with the auth chain of that state, as event ids. */
export interface RoomStateIdsAtEvent {
  pduIds: string[];
  authChainIds: string[];
}

/** The same with the events. */
export interface RoomStateAtEvent {
  pdus: Pdu[];
  authChain: Pdu[];
}

/** GET /_matrix/federation/v1/state_ids/{roomId}?event_id= */
export class GetFederationRoomStateIds extends Query<RoomStateIdsAtEvent> {
  constructor(
    readonly origin: string,
    readonly roomId: string,
    readonly eventId: string,
  ) {
    super();
  }
}

/** GET /_matrix/federation/v1/state/{roomId}?event_id= */
export class GetFederationRoomState extends Query<RoomStateAtEvent> {
  constructor(
    readonly origin: string,
    readonly roomId: string,
    readonly eventId: string,
  ) {
    super();
  }
}

/** GET /_matrix/federation/v1/event_auth/{roomId}/{eventId}: the events of the event's auth chain. */
export class GetFederationEventAuth extends Query<Pdu[]> {
  constructor(
    readonly origin: string,
    readonly roomId: string,
    readonly eventId: string,
  ) {
    super();
  }
}

/** GET /_matrix/federation/v1/backfill/{roomId}: `from` and the events before them, at most `limit`. */
export class GetFederationBackfill extends Query<Pdu[]> {
  constructor(
    readonly origin: string,
    readonly roomId: string,
    readonly from: readonly string[],
    readonly limit: number,
  ) {
    super();
  }
}

/**
 * POST /_matrix/federation/v1/get_missing_events/{roomId}: the prev events of `latest`,
 * breadth first, not walking past `earliest` nor below `minDepth`, at most `limit`, oldest first.
 */
export class GetFederationMissingEvents extends Query<Pdu[]> {
  constructor(
    readonly origin: string,
    readonly roomId: string,
    readonly earliest: readonly string[],
    readonly latest: readonly string[],
    readonly limit: number,
    readonly minDepth: number,
  ) {
    super();
  }
}

/** GET /_matrix/federation/v1/query/directory: a local alias's room and the servers in it (ours first). */
export class QueryFederationRoomAlias extends Query<{ roomId: string; servers: string[] }> {
  constructor(readonly alias: string) {
    super();
  }
}

/** One room of the published room directory (public_rooms_chunk.yaml); shared with the directory read model. */
export type { PublicRoomsChunk } from '@hs/contracts';

/** A page of the published room directory (public_rooms_response.yaml). */
export interface PublicRoomsPage {
  chunk: PublicRoomsChunk[];
  next_batch?: string;
  prev_batch?: string;
  total_room_count_estimate: number;
}

export interface PublicRoomsRequest {
  /** At most this many rooms; undefined for the server's largest page. */
  limit?: number;
  /** A next_batch or prev_batch token of an earlier page. */
  since?: string;
  /** Case-insensitive text looked for in the name, topic, canonical alias and room id. */
  genericSearchTerm?: string;
  /** Only rooms of these types (null: rooms without a type). */
  roomTypes?: readonly (string | null)[];
  /** A third-party network's directory (`<application service id>|<network id>`) instead of the main one. */
  thirdPartyInstanceId?: string;
  /** The main directory and every network's. */
  allNetworks?: boolean;
}

/**
 * What a published room directory request asks, as the room queries take it.
 * `include_all_networks` asks for every network, so a `third_party_instance_id` counts only
 * without it.
 */
export function publicRoomsRequest(asked: {
  limit?: number;
  since?: string;
  includeAllNetworks?: boolean;
  thirdPartyInstanceId?: string;
  genericSearchTerm?: string;
  roomTypes?: readonly (string | null)[];
}): PublicRoomsRequest {
  const request: PublicRoomsRequest = {};
  if (asked.limit !== undefined && asked.limit > 0) request.limit = asked.limit;
  if (asked.since !== undefined) request.since = asked.since;
  if (asked.genericSearchTerm !== undefined) request.genericSearchTerm = asked.genericSearchTerm;
  if (asked.roomTypes !== undefined) request.roomTypes = asked.roomTypes;
  if (asked.includeAllNetworks === true) request.allNetworks = true;
  else if (asked.thirdPartyInstanceId !== undefined) request.thirdPartyInstanceId = asked.thirdPartyInstanceId;
  return request;
}

/** The body of POST /publicRooms (client and federation APIs), already checked for its types. */
export interface PublicRoomsFilterBody {
  limit?: number;
  since?: string;
  filter?: { generic_search_term?: string; room_types?: (string | null)[] } | null;
  include_all_networks?: boolean;
  third_party_instance_id?: string;
}

/** What a POST /publicRooms body asks. */
export function publicRoomsFilterRequest(body: PublicRoomsFilterBody): PublicRoomsRequest {
  return publicRoomsRequest({
    limit: body.limit,
    since: body.since,
    includeAllNetworks: body.include_all_networks,
    thirdPartyInstanceId: body.third_party_instance_id,
    genericSearchTerm: body.filter?.generic_search_term,
    roomTypes: body.filter?.room_types,
  });
}

/** GET /_matrix/federation/v1/timestamp_to_event/{roomId}: the event closest to `ts` that `origin` may see. */
export class GetFederationEventNearTimestamp extends Query<{ event_id: string; origin_server_ts: number }> {
  constructor(
    readonly origin: string,
    readonly roomId: string,
    readonly ts: number,
    readonly dir: 'f' | 'b',
  ) {
    super();
  }
}

/** A room as GET /_matrix/federation/v1/hierarchy shows it: its summary, and the rooms a restricted join rule allows from. */
export interface FederationHierarchyRoom extends PublicRoomsChunk {
  allowed_room_ids?: string[];
}

/** The answer of GET /_matrix/federation/v1/hierarchy/{roomId}. */
export interface FederationHierarchy {
  room: FederationHierarchyRoom & { children_state: SpaceRoomState['children'] };
  children: FederationHierarchyRoom[];
  inaccessible_children: string[];
}

/** GET /_matrix/federation/v1/hierarchy/{roomId}: the space room and its children `origin` may reach. */
export class GetFederationHierarchy extends Query<FederationHierarchy> {
  constructor(
    readonly origin: string,
    readonly roomId: string,
    readonly suggestedOnly: boolean,
  ) {
    super();
  }
}

/** GET and POST /_matrix/federation/v1/publicRooms */
export class GetFederationPublicRooms extends Query<PublicRoomsPage> {
  constructor(readonly request: PublicRoomsRequest) {
    super();
  }
}
