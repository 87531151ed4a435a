/**
 * The published room directory (client-server API, "Listing rooms"): GET and POST
 * /_matrix/client/v3/publicRooms, this server's directory or, with `server`, another server's
 * (asked over federation).
 */
import { GetPublicRooms, publicRoomsFilterRequest, publicRoomsRequest, type PublicRoomsPage } from '@hs/room';
import { MatrixError } from '@hs/http';
import { isValidServerName } from '@hs/protocol';
import { Body, Controller, Get, HttpCode, Post, Query } from '@nestjs/common';
import { QueryBus } from '@nestjs/cqrs';
import { z } from 'zod';
import { RequireAuth } from '../auth';
import { clientPaths } from '../prefixes';
import { parseBody } from '../validation';
import { answering, intQuery, stringQuery } from './params';

/** An optional key that clients also send as null (taken as absent, as Synapse does). */
const absentOrNull = <T extends z.ZodTypeAny>(schema: T) => schema.nullish().transform((value) => value ?? undefined);

const filterBody = z.object({
  limit: absentOrNull(z.number().int().safe()),
  since: absentOrNull(z.string()),
  filter: z
    .object({
      generic_search_term: absentOrNull(z.string()),
      room_types: z.array(z.string().nullable()).optional(),
    })
    .passthrough()
    .nullable()
    .optional(),
  include_all_networks: absentOrNull(z.boolean()),
  third_party_instance_id: absentOrNull(z.string()),
});

function serverQuery(query: Record<string, unknown>): string | undefined {
  const server = stringQuery(query.server, 'server');
  if (server !== undefined && !isValidServerName(server)) throw MatrixError.invalidParam(`${JSON.stringify(server)} is not a server name`);
  return server;
}

@Controller()
export class PublicRoomsController {
  constructor(private readonly queryBus: QueryBus) {}

  /** GET /_matrix/client/v3/publicRooms (no access token needed) */
  @Get(clientPaths('publicRooms'))
  getPublicRooms(@Query() query: Record<string, unknown>): Promise<PublicRoomsPage> {
    const request = publicRoomsRequest({
      limit: intQuery(query.limit, 'limit', 0, Number.MAX_SAFE_INTEGER),
      since: stringQuery(query.since, 'since'),
    });
    return answering(() => this.queryBus.execute(new GetPublicRooms(request, serverQuery(query))));
  }

  /** POST /_matrix/client/v3/publicRooms */
  @Post(clientPaths('publicRooms'))
  @RequireAuth()
  @HttpCode(200)
  queryPublicRooms(@Query() query: Record<string, unknown>, @Body() body: unknown): Promise<PublicRoomsPage> {
    const server = serverQuery(query);
    const request = publicRoomsFilterRequest(parseBody(filterBody, body));
    return answering(() => this.queryBus.execute(new GetPublicRooms(request, server)));
  }
}
