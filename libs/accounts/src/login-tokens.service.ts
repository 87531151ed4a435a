/**
 * Login tokens (client-server API, "Login", `m.login.token` and `POST /login/get_token`): a
 * device already signed in asks for a short-lived token that a new device exchanges, once,
 * for its own access token. Only the token's SHA-256 is stored.
 */
import { z } from 'zod';
import { DatabasePool, isStorableText, sql } from './db';
import { hashAccessToken } from './devices.service';
import { randomString } from './identifiers';
import type { Clock } from './options';

export class LoginTokenService {
  constructor(
    private readonly pool: DatabasePool,
    private readonly clock: Clock,
  ) {}

  /** A new token for the (local, existing) user, valid for `lifetimeMs`; expired tokens of every user are deleted. */
  async issue(userId: string, lifetimeMs: number): Promise<string> {
    const token = randomString(43);
    const now = this.clock();
    await this.pool.transaction(async (tx) => {
      await tx.query(sql.unsafe`DELETE FROM accounts.login_tokens WHERE expires_ts <= ${now}`);
      await tx.query(sql.unsafe`
        INSERT INTO accounts.login_tokens (token_hash, user_id, expires_ts)
        VALUES (${hashAccessToken(token)}, ${userId}, ${now + lifetimeMs})`);
    });
    return token;
  }

  /**
   * The user of a token, which is used up by this call: null when it is unknown, used, expired,
   * or its user deactivated. Two logins with one token: one gets the user, the other null.
   */
  async consume(token: string): Promise<string | null> {
    if (!isStorableText(token) || token.length === 0) return null;
    const row = await this.pool.maybeOne(sql.type(z.object({ user_id: z.string(), expires_ts: z.coerce.number() }))`
      DELETE FROM accounts.login_tokens WHERE token_hash = ${hashAccessToken(token)}
      RETURNING user_id, expires_ts`);
    if (!row || row.expires_ts <= this.clock()) return null;
    const active = await this.pool.exists(sql.unsafe`SELECT 1 FROM accounts.users WHERE user_id = ${row.user_id} AND NOT deactivated`);
    return active ? row.user_id : null;
  }
}
