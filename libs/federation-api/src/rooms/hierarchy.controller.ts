/** GET /_matrix/federation/v1/hierarchy/{roomId}: a space room and its children (space_hierarchy.yaml). */
import { GetFederationHierarchy, type FederationHierarchy } from '@hs/room';
import { Controller, Get, Param, Query } from '@nestjs/common';
import { QueryBus } from '@nestjs/cqrs';
import { FederationOrigin } from '../auth/x-matrix.guard';
import { booleanQueryParam, queryOf, roomIdParam } from '../params';

@Controller('_matrix/federation/v1/hierarchy')
export class FederationHierarchyController {
  constructor(private readonly queries: QueryBus) {}

  /** GET /_matrix/federation/v1/hierarchy/{roomId} */
  @Get(':roomId')
  hierarchy(@FederationOrigin() origin: string, @Param('roomId') roomId: string, @Query() rawQuery: unknown): Promise<FederationHierarchy> {
    const suggestedOnly = booleanQueryParam(queryOf(rawQuery), 'suggested_only') ?? false;
    return this.queries.execute(new GetFederationHierarchy(origin, roomIdParam(roomId), suggestedOnly));
  }
}
