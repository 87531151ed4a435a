/** The handlers of the accounts' federation queries (./queries.ts). */
import { Inject, Injectable } from '@nestjs/common';
import { QueryHandler, type IQueryHandler } from '@nestjs/cqrs';
import { z } from 'zod';
import { DatabasePool, isStorableText, sql } from '../db';
import { AccountsError } from '../errors';
import { parseUserId } from '../identifiers';
import { OpenIdTokenService } from '../openid-tokens.service';
import type { JsonValue } from '../profile-rules';
import { ProfileService } from '../profiles.service';
import {
  ExchangeOpenIdToken,
  GetFederationProfile,
} from './queries';

/** Injection token of the accounts' slonik pool in the federation queries module. */
export const ACCOUNTS_FEDERATION_POOL = 'ACCOUNTS_FEDERATION_POOL';
/** Injection token of this server's name in the federation queries module. */
export const ACCOUNTS_FEDERATION_SERVER_NAME = 'ACCOUNTS_FEDERATION_SERVER_NAME';

/** The local users of the accounts tables, for the federation queries. */
@Injectable()
export class FederationUsers {
  constructor(
    @Inject(ACCOUNTS_FEDERATION_POOL) private readonly pool: DatabasePool,
    @Inject(ACCOUNTS_FEDERATION_SERVER_NAME) readonly serverName: string,
  ) {}

  isLocal(userId: string): boolean {
    return parseUserId(userId)?.serverName === this.serverName;
  }

  /** M_INVALID_PARAM unless the user id names a user of this server. */
  requireLocal(userId: string): void {
    if (!this.isLocal(userId)) throw new AccountsError('M_INVALID_PARAM', `${userId} is not a user of this server`);
  }

  /** The ones of these user ids that are accounts of this server. */
  async existing(userIds: Iterable<string>): Promise<Set<string>> {
    const ids = [...new Set(userIds)].filter((id) => isStorableText(id) && this.isLocal(id));
    if (ids.length === 0) return new Set();
    const rows = await this.pool.anyFirst(sql.type(z.object({ user_id: z.string() }))`
      SELECT user_id FROM accounts.users WHERE user_id = ANY(${sql.array(ids, 'text')})`);
    return new Set(rows.map(String));
  }
}

@QueryHandler(GetFederationProfile)
export class GetFederationProfileHandler implements IQueryHandler<GetFederationProfile, Record<string, JsonValue>> {
  constructor(
    private readonly users: FederationUsers,
    private readonly profiles: ProfileService,
  ) {}

  async execute(query: GetFederationProfile): Promise<Record<string, JsonValue>> {
    this.users.requireLocal(query.userId);
    if (query.field === undefined) return this.profiles.getProfile(query.userId);
    if (!(await this.users.existing([query.userId])).has(query.userId)) throw new AccountsError('M_NOT_FOUND', 'User not found');
    // A field the user has not set is left out (the user exists: the profile says so).
    const profile = await this.profiles.getProfile(query.userId);
    const value = profile[query.field];
    return value === undefined ? {} : { [query.field]: value };
  }
}

/**
 * A device is listed with its identity keys, which the spec requires of every entry. This
 * server stores no device keys yet (end-to-end encryption is not built), so no device can be
 * listed and the device list is at version 0: no m.device_list_update is ever sent.
 */
@QueryHandler(ExchangeOpenIdToken)
export class ExchangeOpenIdTokenHandler implements IQueryHandler<ExchangeOpenIdToken, { sub: string }> {
  constructor(private readonly tokens: OpenIdTokenService) {}

  async execute(query: ExchangeOpenIdToken): Promise<{ sub: string }> {
    const userId = await this.tokens.userOf(query.accessToken);
    if (userId === null) throw new AccountsError('M_UNKNOWN_TOKEN', 'Access token unknown or expired');
    return { sub: userId };
  }
}

export const ACCOUNTS_FEDERATION_HANDLERS = [
  GetFederationProfileHandler,
  ExchangeOpenIdTokenHandler,
];
