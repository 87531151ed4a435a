/**
 * User-interactive authentication (client-server API, "User-Interactive Authentication API").
 * Sessions live in the database so any API process can continue one. A session is bound to
 * one operation (and user); it remembers completed stages and the operation's parameters
 * given so far until it expires or the operation finishes. An operation may finish a session
 * with its result (`finishSession`): a retry of the request is then authorised again and gets
 * that result, so that a client which lost the answer can ask again.
 *
 * Stages verified here: `m.login.dummy`, `m.login.password` (for operations on an existing
 * account) and `m.login.registration_token`.
 */
import { z } from 'zod';
import { DatabasePool, isStorableText, jsonText, sql } from './db';
import { AccountsError, UiaFlow, UiaResponseBody, UserInteractiveAuthRequired } from './errors';
import { randomString } from './identifiers';
import { ResolvedAccountsOptions } from './options';
import { RegistrationTokenService } from './registration-tokens.service';
import { UserService } from './users.service';

export const LOGIN_DUMMY = 'm.login.dummy';
export const LOGIN_PASSWORD = 'm.login.password';
export const LOGIN_REGISTRATION_TOKEN = 'm.login.registration_token';

export type UiaParams = Record<string, Record<string, unknown>>;

export interface UiaRequest {
  /** What is being authorised, e.g. `POST /register`; a session cannot be reused for another one. */
  operation: string;
  /** The account the operation acts on; required by `m.login.password`, null for registration. */
  userId?: string | null;
  flows: UiaFlow[];
  params?: UiaParams;
  /** The `auth` object of the request body, as received (undefined when absent). */
  auth: unknown;
  /**
   * Parameters of the operation to keep with the session (JSON values; undefined ones are
   * skipped). A later request of the session that omits one gets the kept value in
   * `UiaSuccess.data`; a value it gives replaces the kept one.
   */
  data?: Record<string, unknown>;
}

export interface UiaSuccess {
  sessionId: string;
  completed: string[];
  /** The registration token the session holds a pending use of, when that stage was completed. */
  registrationToken: string | null;
  /** The parameters kept with the session (`UiaRequest.data`, `keep`), this request's over them. */
  data: Record<string, unknown>;
  /** The result `finishSession` kept: the operation already succeeded in this session. Null before. */
  result: Record<string, unknown> | null;
}

const SessionRow = z.object({
  session_id: z.string(),
  operation: z.string(),
  user_id: z.string().nullable(),
  flows: jsonText,
  params: jsonText,
  completed: jsonText,
  registration_token: z.string().nullable(),
  data: jsonText,
  result: jsonText.nullable(),
  expires_ts: z.union([z.number(), z.bigint(), z.string()]).transform(Number),
});

const JsonObject = z.record(z.unknown());

interface Session {
  sessionId: string;
  operation: string;
  userId: string | null;
  flows: UiaFlow[];
  params: UiaParams;
  completed: string[];
  registrationToken: string | null;
  data: Record<string, unknown>;
  result: Record<string, unknown> | null;
}

function parseSession(row: unknown): Session {
  const parsed = SessionRow.parse(row);
  return {
    sessionId: parsed.session_id,
    operation: parsed.operation,
    userId: parsed.user_id,
    flows: parsed.flows as UiaFlow[],
    params: parsed.params as UiaParams,
    completed: parsed.completed as string[],
    registrationToken: parsed.registration_token,
    data: JsonObject.parse(parsed.data),
    result: parsed.result === null ? null : JsonObject.parse(parsed.result),
  };
}

/**
 * The defined entries of `data`, refused with M_INVALID_PARAM when a string in them holds
 * U+0000 (which jsonb cannot store).
 */
function storableData(data: Record<string, unknown>): Record<string, unknown> {
  const defined: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(data)) {
    if (value === undefined) continue;
    if (JSON.stringify(value).includes('\\u0000')) throw new AccountsError('M_INVALID_PARAM', `${key} must not contain U+0000`);
    defined[key] = value;
  }
  return defined;
}

function success(session: Session): UiaSuccess {
  return {
    sessionId: session.sessionId,
    completed: [...session.completed],
    registrationToken: session.registrationToken,
    data: { ...session.data },
    result: session.result,
  };
}

/** The flows of /register: a registration token when one is required, otherwise the dummy stage. */
export function registrationFlows(options: { requireRegistrationToken: boolean }): UiaFlow[] {
  return options.requireRegistrationToken ? [{ stages: [LOGIN_REGISTRATION_TOKEN] }] : [{ stages: [LOGIN_DUMMY] }];
}

/** The flows of operations on an existing account (device deletion, password change, deactivation). */
export function accountFlows(): UiaFlow[] {
  return [{ stages: [LOGIN_PASSWORD] }];
}

function isFlowComplete(flows: UiaFlow[], completed: readonly string[]): boolean {
  return flows.some((flow) => flow.stages.every((stage) => completed.includes(stage)));
}

export class UserInteractiveAuthService {
  constructor(
    private readonly pool: DatabasePool,
    private readonly options: ResolvedAccountsOptions,
    private readonly users: UserService,
    private readonly registrationTokens: RegistrationTokenService,
  ) {}

  /**
   * Runs one step of user-interactive authentication. Resolves when a flow is complete;
   * otherwise throws `UserInteractiveAuthRequired` (HTTP 401 with `{ flows, params, session,
   * completed }`, plus `errcode`/`error` when the submitted stage failed), or an
   * `AccountsError` for a malformed `auth`, an unknown session or a changed operation.
   */
  async authenticate(request: UiaRequest): Promise<UiaSuccess> {
    if (request.flows.length === 0 || request.flows.some((flow) => flow.stages.length === 0)) {
      throw new Error('UIA flows must not be empty');
    }
    const params = request.params ?? {};
    const userId = request.userId ?? null;
    const given = storableData(request.data ?? {});
    if (request.auth === undefined || request.auth === null) {
      const session = await this.createSession(request.operation, userId, request.flows, params, given);
      throw new UserInteractiveAuthRequired(this.body(session));
    }
    if (typeof request.auth !== 'object' || Array.isArray(request.auth)) {
      throw new AccountsError('M_BAD_JSON', 'auth must be an object');
    }
    const auth = request.auth as Record<string, unknown>;
    if (auth.session !== undefined && !isStorableText(auth.session)) {
      throw new AccountsError('M_BAD_JSON', 'auth.session must be a string');
    }
    if (auth.type !== undefined && typeof auth.type !== 'string') {
      throw new AccountsError('M_BAD_JSON', 'auth.type must be a string');
    }
    const sessionId = typeof auth.session === 'string'
      ? auth.session
      : (await this.createSession(request.operation, userId, request.flows, params, given)).sessionId;
    const type = auth.type as string | undefined;

    // Stages that call out (password hashing) run before the session lock is taken.
    let stageError: { errcode: string; error: string } | null = null;
    let passwordVerified = false;
    if (type === LOGIN_PASSWORD) {
      const verdict = await this.checkPasswordStage(auth, userId);
      if (verdict) stageError = verdict;
      else passwordVerified = true;
    }

    const outcome = await this.pool.transaction(async (tx) => {
      const row = await tx.maybeOne(sql.type(SessionRow)`
        SELECT session_id, operation, user_id, flows::text AS flows, params::text AS params,
               completed::text AS completed, registration_token, data::text AS data, result::text AS result,
               expires_ts::text AS expires_ts
        FROM accounts.uia_sessions WHERE session_id = ${sessionId} FOR UPDATE`);
      if (!row || SessionRow.parse(row).expires_ts <= this.options.clock()) {
        throw new AccountsError('M_UNKNOWN', 'Unknown or expired session', { httpStatus: 400 });
      }
      const session = parseSession(row);
      if (session.operation !== request.operation || session.userId !== userId) {
        throw new AccountsError('M_FORBIDDEN', 'Requested operation has changed during the UI authentication session.');
      }
      // A finished session authorises retries of its request as they are: no stage runs again.
      if (session.result !== null) return session;
      const data = { ...session.data, ...given };
      let changed = JSON.stringify(data) !== JSON.stringify(session.data);
      session.data = data;
      if (type !== undefined && !stageError) {
        if (!session.flows.some((flow) => flow.stages.includes(type))) {
          throw new AccountsError('M_UNRECOGNIZED', `Unrecognised login type: ${type}`);
        }
        let done = false;
        switch (type) {
          case LOGIN_DUMMY:
            done = true;
            break;
          case LOGIN_PASSWORD:
            done = passwordVerified;
            break;
          case LOGIN_REGISTRATION_TOKEN: {
            const token = auth.token;
            if (typeof token !== 'string') {
              stageError = { errcode: 'M_MISSING_PARAM', error: 'Missing registration token' };
            } else if (session.registrationToken === token) {
              done = true;
            } else if (session.registrationToken === null && (await this.registrationTokens.reservePendingUse(tx, token))) {
              session.registrationToken = token;
              done = true;
            } else {
              stageError = { errcode: 'M_UNAUTHORIZED', error: 'Invalid registration token' };
            }
            break;
          }
          default:
            throw new AccountsError('M_UNRECOGNIZED', `Unrecognised login type: ${type}`);
        }
        if (done && !session.completed.includes(type)) {
          session.completed.push(type);
          changed = true;
        }
      } else if (type !== undefined && !session.flows.some((flow) => flow.stages.includes(type))) {
        throw new AccountsError('M_UNRECOGNIZED', `Unrecognised login type: ${type}`);
      }
      if (changed) {
        await tx.query(sql.unsafe`
          UPDATE accounts.uia_sessions
          SET completed = ${JSON.stringify(session.completed)}::jsonb, registration_token = ${session.registrationToken},
              data = ${JSON.stringify(session.data)}::jsonb
          WHERE session_id = ${session.sessionId}`);
      }
      return session;
    });

    if (outcome.result !== null || (!stageError && isFlowComplete(outcome.flows, outcome.completed))) return success(outcome);
    throw new UserInteractiveAuthRequired({ ...this.body(outcome), ...(stageError ?? {}) });
  }

  /**
   * Ends a session after the operation it authorised succeeded: its registration token use
   * (if any) becomes a completed use, and the session cannot be used again.
   */
  async completeSession(sessionId: string): Promise<void> {
    await this.pool.transaction(async (tx) => {
      const token = await tx.maybeOneFirst(sql.type(z.object({ registration_token: z.string().nullable() }))`
        DELETE FROM accounts.uia_sessions WHERE session_id = ${sessionId} RETURNING registration_token`);
      if (typeof token === 'string') await this.registrationTokens.completePendingUse(tx, token);
    });
  }

  /**
   * Ends a session after the operation it authorised succeeded, keeping `result` with it until
   * the session expires: its registration token use (if any) becomes a completed use, and a
   * retry of the request is authorised again (no stage runs) with `result` in
   * `UiaSuccess.result`, for the operation to answer it again instead of repeating itself.
   */
  async finishSession(sessionId: string, result: Record<string, unknown>): Promise<void> {
    const kept = JSON.stringify(storableData(result));
    await this.pool.transaction(async (tx) => {
      const token = await tx.maybeOneFirst(sql.type(z.object({ registration_token: z.string().nullable() }))`
        SELECT registration_token FROM accounts.uia_sessions WHERE session_id = ${sessionId} FOR UPDATE`);
      await tx.query(sql.unsafe`
        UPDATE accounts.uia_sessions SET result = ${kept}::jsonb, registration_token = NULL WHERE session_id = ${sessionId}`);
      if (typeof token === 'string') await this.registrationTokens.completePendingUse(tx, token);
    });
  }

  /** Keeps more parameters with a session (see `UiaRequest.data`); nothing for an unknown session. */
  async keep(sessionId: string, data: Record<string, unknown>): Promise<void> {
    await this.pool.query(sql.unsafe`
      UPDATE accounts.uia_sessions SET data = data || ${JSON.stringify(storableData(data))}::jsonb WHERE session_id = ${sessionId}`);
  }

  /** The parameters kept with a session; empty for an unknown one. */
  async kept(sessionId: string): Promise<Record<string, unknown>> {
    const text = await this.pool.maybeOneFirst(sql.type(z.object({ data: z.string() }))`
      SELECT data::text AS data FROM accounts.uia_sessions WHERE session_id = ${sessionId}`);
    return text === null ? {} : JsonObject.parse(JSON.parse(text));
  }

  /** Deletes expired sessions and gives back the registration token uses they held. Returns how many. */
  async pruneExpiredSessions(): Promise<number> {
    return this.pool.transaction(async (tx) => {
      const rows = await tx.any(sql.type(z.object({ registration_token: z.string().nullable() }))`
        DELETE FROM accounts.uia_sessions WHERE expires_ts <= ${this.options.clock()} RETURNING registration_token`);
      for (const row of rows) {
        const token = z.object({ registration_token: z.string().nullable() }).parse(row).registration_token;
        if (token !== null) await this.registrationTokens.releasePendingUse(tx, token);
      }
      return rows.length;
    });
  }

  private async checkPasswordStage(auth: Record<string, unknown>, userId: string | null): Promise<{ errcode: string; error: string } | null> {
    if (userId === null) return { errcode: 'M_FORBIDDEN', error: 'Password authentication needs an existing account' };
    const identifier = auth.identifier;
    let user: unknown = auth.user;
    if (identifier !== undefined) {
      if (identifier === null || typeof identifier !== 'object' || (identifier as Record<string, unknown>).type !== 'm.id.user') {
        return { errcode: 'M_UNKNOWN', error: 'Only m.id.user identifiers are supported' };
      }
      user = (identifier as Record<string, unknown>).user;
    }
    if (typeof auth.password !== 'string') return { errcode: 'M_MISSING_PARAM', error: 'Missing password' };
    const claimed = user === undefined ? userId : this.users.resolveLoginUser(user);
    // Someone else's credentials do not authorise this user's operation, even if they are
    // right: a refusal (403), not a stage to retry (Synapse and Dendrite answer the same).
    if (claimed !== userId) throw new AccountsError('M_FORBIDDEN', 'The user in the password stage is not the user of the access token');
    const ok = await this.users.checkPassword(userId, auth.password);
    return ok ? null : { errcode: 'M_FORBIDDEN', error: 'Invalid username or password' };
  }

  private async createSession(
    operation: string,
    userId: string | null,
    flows: UiaFlow[],
    params: UiaParams,
    data: Record<string, unknown>,
  ): Promise<Session> {
    await this.pruneExpiredSessions();
    const sessionId = randomString(24);
    const now = this.options.clock();
    await this.pool.query(sql.unsafe`
      INSERT INTO accounts.uia_sessions (session_id, operation, user_id, flows, params, completed, data, created_ts, expires_ts)
      VALUES (${sessionId}, ${operation}, ${userId}, ${JSON.stringify(flows)}::jsonb, ${JSON.stringify(params)}::jsonb,
              '[]'::jsonb, ${JSON.stringify(data)}::jsonb, ${now}, ${now + this.options.uiaSessionLifetimeMs})`);
    return { sessionId, operation, userId, flows, params, completed: [], registrationToken: null, data, result: null };
  }

  private body(session: Session): UiaResponseBody {
    return {
      flows: session.flows,
      params: session.params,
      session: session.sessionId,
      completed: [...session.completed],
    };
  }
}
