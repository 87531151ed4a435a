/**
 * Searching (client-server API, "Server Side Search" and "User Directory"): POST /search over
 * room events and POST /user_directory/search, answered by the read side through the query
 * bus (history visibility and who may be found are applied there).
 */
import { MatrixError } from '@hs/http';
import { SearchRoomEvents, SearchUserDirectory, type SearchResponse, type UserDirectoryResponse } from '@hs/sync';
import { Body, Controller, HttpCode, Post, Query } from '@nestjs/common';
import { QueryBus } from '@nestjs/cqrs';
import { z } from 'zod';
import { AuthUser, RequireAuth, type AuthenticatedUser } from '../auth';
import { clientPaths } from '../prefixes';
import { answering, containsNul, stringQuery } from '../rooms/params';
import { roomEventFilter } from '../sync/room-read.controller';
import { parseBody } from '../validation';

/** Longest search term accepted, in characters. */
const MAX_TERM_LENGTH = 1000;

const term = z.string().max(MAX_TERM_LENGTH, `must be at most ${MAX_TERM_LENGTH} characters`);

const searchBody = z.object({
  search_categories: z
    .object({
      room_events: z
        .object({
          search_term: term,
          keys: z.array(z.enum(['content.body', 'content.name', 'content.topic'])).optional(),
          filter: roomEventFilter.optional(),
          order_by: z.enum(['recent', 'rank']).optional(),
          event_context: z
            .object({
              before_limit: z.number().int().nonnegative().optional(),
              after_limit: z.number().int().nonnegative().optional(),
              include_profile: z.boolean().optional(),
            })
            .passthrough()
            .optional(),
          include_state: z.boolean().optional(),
          groupings: z
            .object({ group_by: z.array(z.object({ key: z.enum(['room_id', 'sender']).optional() }).passthrough()).optional() })
            .passthrough()
            .optional(),
        })
        .passthrough()
        .optional(),
    })
    .passthrough(),
});

const directoryBody = z.object({
  search_term: term,
  limit: z.number().int().nonnegative().optional(),
});

@Controller()
@RequireAuth()
export class SearchController {
  constructor(private readonly queryBus: QueryBus) {}

  /** POST /_matrix/client/v3/search */
  @Post(clientPaths('search'))
  @HttpCode(200)
  search(@AuthUser() user: AuthenticatedUser, @Query() query: Record<string, unknown>, @Body() body: unknown): Promise<SearchResponse> {
    const request = parseBody(searchBody, body);
    if (containsNul(request)) throw MatrixError.badJson('Strings may not contain U+0000');
    const roomEvents = request.search_categories.room_events;
    if (!roomEvents) return Promise.resolve({ search_categories: {} });
    const nextBatch = stringQuery(query.next_batch, 'next_batch');
    return answering(() =>
      this.queryBus.execute(new SearchRoomEvents({ userId: user.userId, deviceId: user.deviceId }, roomEvents, nextBatch === '' ? undefined : nextBatch)),
    );
  }

  /** POST /_matrix/client/v3/user_directory/search */
  @Post(clientPaths('user_directory/search'))
  @HttpCode(200)
  searchUserDirectory(@AuthUser() user: AuthenticatedUser, @Body() body: unknown): Promise<UserDirectoryResponse> {
    const request = parseBody(directoryBody, body);
    if (containsNul(request)) throw MatrixError.badJson('Strings may not contain U+0000');
    return answering(() => this.queryBus.execute(new SearchUserDirectory(user.userId, request.search_term, request.limit ?? 10)));
  }
}
