/** What the two published room directory endpoints (public_rooms.yaml) ask, as the room query takes it. */
import type { PublicRoomsRequest } from '@hs/room';

/**
 * `include_all_networks` asks for every network, so a `third_party_instance_id` counts only
 * without it; this server bridges no network, so naming one finds no rooms.
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
  if (asked.thirdPartyInstanceId !== undefined && asked.includeAllNetworks !== true) request.thirdPartyInstanceId = asked.thirdPartyInstanceId;
  return request;
}
