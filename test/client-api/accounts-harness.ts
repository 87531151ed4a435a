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

/**
 * Starts a test server before the tests of the enclosing `describe` and closes it after them.
 * The returned server reads through to the running one, so use it inside hooks and tests.
 */
export function useTestServer(env: Record<string, string> = {}, clock?: () => number): TestServer {
  let started: TestServer | undefined;
  beforeAll(async () => {
    started = await startTestServer(env, clock);
  });
  afterAll(async () => {
    await started?.close();
  });
  const running = (): TestServer => {
    if (started === undefined) throw new Error('the test server runs only during the tests of its describe block');
    return started;
  };
  return {
    get url() {
      return running().url;
    },
    get serverName() {
      return running().serverName;
    },
    get config() {
      return running().config;
    },
    get server() {
      return running().server;
    },
    close: () => running().close(),
  };
}
