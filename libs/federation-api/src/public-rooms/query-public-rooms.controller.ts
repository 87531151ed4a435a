/** POST /_matrix/federation/v1/publicRooms: the published room directory, filtered (public_rooms.yaml). */
import { Body, Controller, HttpCode, Post } from '@nestjs/common';
import { QueryBus } from '@nestjs/cqrs';
import { GetFederationPublicRooms, publicRoomsFilterRequest, type PublicRoomsPage } from '@hs/room';
import { z } from 'zod';
import { parseBody, text } from '../params';

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
    return this.queries.execute(new GetFederationPublicRooms(publicRoomsFilterRequest(parseBody(request, body))));
  }
}
