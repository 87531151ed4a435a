/** GET /sync (client-server API, "Syncing"). */
import { FilterService } from '@hs/accounts';
import { MatrixError } from '@hs/http';
import { SyncService, type PresenceState, type SyncFilter, type SyncResponse } from '@hs/sync';
import { Controller, Get, Query, Res } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { AuthUser, RequireAuth, type AuthenticatedUser, GuestAllowed } from '../auth';
import { clientPaths } from '../prefixes';
import { answering, intQuery, stringQuery } from '../rooms/params';

/** Longest long-poll honoured, in milliseconds. */
export const MAX_SYNC_TIMEOUT_MS = 60_000;

const PRESENCE_VALUES = new Set(['offline', 'online', 'unavailable']);

function booleanQuery(value: unknown, name: string): boolean {
  const text = stringQuery(value, name);
  if (text === undefined || text === 'false') return false;
  if (text === 'true') return true;
  throw MatrixError.invalidParam(`${name} must be true or false`);
}

/**
 * Runs a long-poll with a signal that aborts when the client goes away (the connection closes
 * before the answer), so that it stops waiting.
 */
export async function untilClientLeaves<T>(reply: FastifyReply, work: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const aborter = new AbortController();
  const onClose = () => {
    if (!reply.raw.writableFinished) aborter.abort();
  };
  reply.raw.once('close', onClose);
  try {
    return await work(aborter.signal);
  } finally {
    reply.raw.off('close', onClose);
  }
}

@Controller()
@RequireAuth()
export class SyncController {
  constructor(
    private readonly syncService: SyncService,
    private readonly filters: FilterService,
  ) {}

  /** GET /_matrix/client/v3/sync */
  @GuestAllowed()
  @Get(clientPaths('sync'))
  async sync(@AuthUser() user: AuthenticatedUser, @Query() query: Record<string, unknown>, @Res({ passthrough: true }) reply: FastifyReply): Promise<SyncResponse> {
    const since = stringQuery(query.since, 'since');
    const timeoutMs = intQuery(query.timeout, 'timeout', 0, MAX_SYNC_TIMEOUT_MS) ?? 0;
    const fullState = booleanQuery(query.full_state, 'full_state');
    const setPresence = stringQuery(query.set_presence, 'set_presence');
    if (setPresence !== undefined && !PRESENCE_VALUES.has(setPresence)) throw MatrixError.invalidParam('set_presence must be offline, online or unavailable');
    const filterParam = stringQuery(query.filter, 'filter');
    const filter = (await answering(() => this.filters.resolveFilter(user.userId, filterParam))) as SyncFilter;
    return untilClientLeaves(reply, (signal) =>
      answering(() =>
        this.syncService.sync({
          userId: user.userId,
          deviceId: user.deviceId,
          since: since === '' ? undefined : since,
          timeoutMs,
          fullState,
          filter,
          signal,
          ...(setPresence !== undefined ? { setPresence: setPresence as PresenceState } : {}),
        }),
      ),
    );
  }
}
