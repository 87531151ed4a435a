/** POST /_matrix/federation/v1/publicRooms: the published room directory, filtered (public_rooms.yaml). */
import { Body, Controller, HttpCode, Post } from '@nestjs/common';
import { QueryBus } from '@nestjs/cqrs';
import { GetFederationPublicRooms, type PublicRoomsPage } from '@hs/room';
import { z } from 'zod';
import { parseBody, text } from '../params';
import { publicRoomsRequest } from './public-rooms-request';

const request = z.object({
  limit: z.number().int().min(0).safe().optional(),
  since: text.optional(),
  filter: z
    .object({
      generic_search_term: text.optional(),
      room_types: z.array(text.nullable()).optional(),
    })
    .optional(),
  include_all_networks: z.boolean().optional(),
  third_party_instance_id: text.optional(),
});

@Controller('_matrix/federation/v1/publicRooms')
export class QueryPublicRoomsController {
  constructor(private readonly queries: QueryBus) {}

  /** POST /_matrix/federation/v1/publicRooms */
  @Post()
  @HttpCode(200)
  queryPublicRooms(@Body() body: unknown): Promise<PublicRoomsPage> {
    const asked = parseBody(request, body);
    const query = publicRoomsRequest({
      limit: asked.limit,
      since: asked.since,
      includeAllNetworks: asked.include_all_networks,
      thirdPartyInstanceId: asked.third_party_instance_id,
      genericSearchTerm: asked.filter?.generic_search_term,
      roomTypes: asked.filter?.room_types,
    });
    return this.queries.execute(new GetFederationPublicRooms(query));
  }
}
