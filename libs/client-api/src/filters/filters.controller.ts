/** Filtering (client-server API, "Filtering"): POST /user/{userId}/filter and GET /user/{userId}/filter/{filterId}. */
import { Body, Controller, Get, HttpCode, Param, Post } from '@nestjs/common';
import { Filter, FilterService } from '@hs/accounts';
import type { AuthenticatedUser } from '../auth/authenticated-user';
import { AuthUser, RequireAuth, GuestAllowed } from '../auth/decorators';
import { assertSameUser } from '../auth/same-user';
import { clientPaths } from '../prefixes';
import { parseObjectBody } from '../validation';

@Controller()
@RequireAuth()
export class FiltersController {
  constructor(private readonly filters: FilterService) {}

  /** POST /_matrix/client/v3/user/{userId}/filter */
  @GuestAllowed()
  @Post(clientPaths('user/:userId/filter'))
  @HttpCode(200)
  async defineFilter(@AuthUser() user: AuthenticatedUser, @Param('userId') userId: string, @Body() body: unknown): Promise<{ filter_id: string }> {
    assertSameUser(user, userId, 'create filters');
    return { filter_id: await this.filters.createFilter(userId, parseObjectBody(body)) };
  }

  /** GET /_matrix/client/v3/user/{userId}/filter/{filterId} */
  @GuestAllowed()
  @Get(clientPaths('user/:userId/filter/:filterId'))
  getFilter(@AuthUser() user: AuthenticatedUser, @Param('userId') userId: string, @Param('filterId') filterId: string): Promise<Filter> {
    assertSameUser(user, userId, 'read filters');
    return this.filters.getFilter(userId, filterId);
  }
}
