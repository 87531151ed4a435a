/**
 * OpenID tokens (client-server API "OpenID", server-server API "OpenID"): a user asks for a
 * token that a third-party service gives back to this server to learn who the user is. The
 * token is good for nothing else. Only its SHA-256 is stored; it expires after an hour.
 */
import { z } from 'zod';
import { DatabasePool, isStorableText, sql } from './db';
import { hashAccessToken } from './devices.service';
import { randomString } from './identifiers';
import type { Clock } from './options';

/** How long an OpenID token is valid. */
export const OPENID_TOKEN_LIFETIME_MS = 60 * 60 * 1000;

export interface IssuedOpenIdToken {
  accessToken: string;
  /** Seconds until the token expires. */
  expiresIn: number;
}

export class OpenIdTokenService {
  constructor(
    private readonly pool: DatabasePool,
    private readonly clock: Clock,
  ) {}

  /** A new token for the (local, existing) user; expired tokens of every user are deleted. */
  async issue(userId: string): Promise<IssuedOpenIdToken> {
    const accessToken = randomString(43);
    const now = this.clock();
    await this.pool.transaction(async (tx) => {
      await tx.query(sql.unsafe`DELETE FROM accounts.openid_tokens WHERE expires_ts <= ${now}`);
      await tx.query(sql.unsafe`
        INSERT INTO accounts.openid_tokens (token_hash, user_id, expires_ts)
        VALUES (${hashAccessToken(accessToken)}, ${userId}, ${now + OPENID_TOKEN_LIFETIME_MS})`);
    });
    return { accessToken, expiresIn: OPENID_TOKEN_LIFETIME_MS / 1000 };
  }

  /** The user a token was issued to, or null when it is unknown, expired, or its user deactivated. */
  async userOf(accessToken: string): Promise<string | null> {
    if (!isStorableText(accessToken) || accessToken.length === 0) return null;
    const userId = await this.pool.maybeOneFirst(sql.type(z.object({ user_id: z.string() }))`
      SELECT t.user_id FROM accounts.openid_tokens t JOIN accounts.users u ON u.user_id = t.user_id
       WHERE t.token_hash = ${hashAccessToken(accessToken)} AND t.expires_ts > ${this.clock()} AND NOT u.deactivated`);
    return userId ?? null;
  }
}
