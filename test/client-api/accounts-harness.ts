/**
 * The homeserver in this process for the accounts suites (embedded database, registration
 * open, cheap password hashing, rate limits off unless `env` turns them on, logging silent)
 * and the JSON client of `@hs/testing`.
 */
import { type TestUser } from '@hs/testing';
import { startInProcess, type InProcessServer } from '../support/in-process-server';

export { call, registerUser, uniqueName, type CallOptions, type Reply, type TestUser } from '@hs/testing';

export type TestServer = InProcessServer;

export function startTestServer(env: Record<string, string> = {}, clock?: () => number): Promise<TestServer> {
  return startInProcess({ env: { HS_LOGGING__LEVEL: 'silent', ...env }, clock });
}

/** The `auth` object of the m.login.password stage for `user`. */
export function passwordAuth(user: TestUser, session: string, password = user.password): Record<string, unknown> {
  return { type: 'm.login.password', identifier: { type: 'm.id.user', user: user.userId }, password, session };
}
