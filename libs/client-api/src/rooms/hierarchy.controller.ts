/** GET /_matrix/client/v1/rooms/{roomId}/hierarchy (client-server API, "Spaces"). */
import { DEFAULT_HIERARCHY_DEPTH, DEFAULT_HIERARCHY_LIMIT, GetRoomHierarchy, MAX_HIERARCHY_DEPTH, MAX_HIERARCHY_LIMIT, type HierarchyPage } from '@hs/room';
import { MatrixError } from '@hs/http';
import { Controller, Get, Param, Query } from '@nestjs/common';
import { QueryBus } from '@nestjs/cqrs';
import { AuthUser, RequireAuth, type AuthenticatedUser } from '../auth';
import { clientV1Paths } from '../prefixes';
import { booleanQueryParam } from '../validation';
import { answering, intQuery, roomIdParam, stringQuery } from './params';

@Controller()
@RequireAuth()
export class HierarchyController {
  constructor(private readonly queryBus: QueryBus) {}

  /** GET /_matrix/client/v1/rooms/{roomId}/hierarchy */
  @Get(clientV1Paths('rooms/:roomId/hierarchy'))
  hierarchy(@AuthUser() user: AuthenticatedUser, @Param('roomId') rawRoomId: string, @Query() query: Record<string, unknown>): Promise<HierarchyPage> {
    const roomId = roomIdParam(rawRoomId);
    const limit = intQuery(query.limit, 'limit', 0, MAX_HIERARCHY_LIMIT) ?? DEFAULT_HIERARCHY_LIMIT;
    if (limit < 1) throw MatrixError.invalidParam('limit must be greater than zero');
    const maxDepth = intQuery(query.max_depth, 'max_depth', 0, MAX_HIERARCHY_DEPTH) ?? DEFAULT_HIERARCHY_DEPTH;
    const from = stringQuery(query.from, 'from');
    const suggestedOnly = booleanQueryParam(query, 'suggested_only', false);
    return answering(() => this.queryBus.execute(new GetRoomHierarchy(user.userId, roomId, { suggestedOnly, limit, maxDepth, ...(from !== undefined ? { from } : {}) })));
  }
}
