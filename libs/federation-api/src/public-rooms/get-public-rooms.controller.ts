/** GET /_matrix/federation/v1/publicRooms: this server's published room directory, a page at a time (public_rooms.yaml). */
import { Controller, Get, Query } from '@nestjs/common';
import { QueryBus } from '@nestjs/cqrs';
import { GetFederationPublicRooms, publicRoomsRequest, type PublicRoomsPage } from '@hs/room';
import { booleanQueryParam, integerQueryParam, queryOf, singleQueryParam } from '../params';

@Controller('_matrix/federation/v1/publicRooms')
export class GetPublicRoomsController {
  constructor(private readonly queries: QueryBus) {}

  /** GET /_matrix/federation/v1/publicRooms */
  @Get()
  getPublicRooms(@Query() rawQuery: unknown): Promise<PublicRoomsPage> {
    const query = queryOf(rawQuery);
    const request = publicRoomsRequest({
      limit: integerQueryParam(query, 'limit', { min: 0, max: Number.MAX_SAFE_INTEGER }),
      since: singleQueryParam(query, 'since'),
      includeAllNetworks: booleanQueryParam(query, 'include_all_networks'),
      thirdPartyInstanceId: singleQueryParam(query, 'third_party_instance_id'),
    });
    return this.queries.execute(new GetFederationPublicRooms(request));
  }
}
