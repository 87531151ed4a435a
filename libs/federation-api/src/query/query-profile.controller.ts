/** GET /_matrix/federation/v1/query/profile?user_id=&field=: a local user's profile, or one field of it (query.yaml). */
import { Controller, Get, Query } from '@nestjs/common';
import { QueryBus } from '@nestjs/cqrs';
import { GetFederationProfile, type JsonValue } from '@hs/accounts';
import { queryOf, requiredQueryParam, singleQueryParam, userIdParam } from '../params';

@Controller('_matrix/federation/v1/query/profile')
export class QueryProfileController {
  constructor(private readonly queries: QueryBus) {}

  /** GET /_matrix/federation/v1/query/profile */
  @Get()
  queryProfile(@Query() rawQuery: unknown): Promise<Record<string, JsonValue>> {
    const query = queryOf(rawQuery);
    const userId = userIdParam(requiredQueryParam(query, 'user_id'));
    return this.queries.execute(new GetFederationProfile(userId, singleQueryParam(query, 'field')));
  }
}
