import {
  accountFlows,
  Accounts,
  AccountsError,
  LOGIN_DUMMY,
  LOGIN_PASSWORD,
  LOGIN_REGISTRATION_TOKEN,
  registrationFlows,
  UiaRequest,
  UserInteractiveAuthRequired,
} from './imports';
import { caught, ManualClock, useTestAccounts } from './harness';

async function challenge(accounts: Accounts, request: UiaRequest): Promise<UserInteractiveAuthRequired> {
  const error = await caught(() => accounts.uia.authenticate(request));
  expect(error).toBeInstanceOf(UserInteractiveAuthRequired);
  return error as UserInteractiveAuthRequired;
}

describe('RegistrationTokenService', () => {
  let clock: ManualClock;
  let accounts: Accounts;

  useTestAccounts({}, (opened) => ({ clock, accounts } = opened));

  it('creates tokens and reports their validity', async () => {
    const created = await accounts.registrationTokens.create({ token: 'abc-123', usesAllowed: 2 });
    expect(created).toEqual({ token: 'abc-123', usesAllowed: 2, pending: 0, completed: 0, expiryTs: null });
    expect(await accounts.registrationTokens.isValid('abc-123')).toBe(true);
    expect(await accounts.registrationTokens.isValid('unknown')).toBe(false);
    expect(await accounts.registrationTokens.isValid('bad token!')).toBe(false);
    expect(await accounts.registrationTokens.isValid(17)).toBe(false);
    const random = await accounts.registrationTokens.create();
    expect(random.token).toMatch(/^[A-Za-z0-9]{16}$/);
    expect((await accounts.registrationTokens.list()).map((t) => t.token)).toEqual(expect.arrayContaining(['abc-123', random.token]));
  });

  it('expires tokens at their expiry time', async () => {
    await accounts.registrationTokens.create({ token: 'soon', expiryTs: clock.now + 1000 });
    expect(await accounts.registrationTokens.isValid('soon')).toBe(true);
    clock.advance(1000);
    expect(await accounts.registrationTokens.isValid('soon')).toBe(false);
  });

  it('a token with zero uses allowed is never valid', async () => {
    await accounts.registrationTokens.create({ token: 'zero', usesAllowed: 0 });
    expect(await accounts.registrationTokens.isValid('zero')).toBe(false);
  });

  it('rejects malformed, duplicate and already-expired tokens with M_INVALID_PARAM', async () => {
    await accounts.registrationTokens.create({ token: 'dup' });
    for (const input of [{ token: 'dup' }, { token: 'has space' }, { token: 'x'.repeat(65) }, { usesAllowed: -1 }, { usesAllowed: 1.5 }, { expiryTs: clock.now - 1 }]) {
      expect(await caught(() => accounts.registrationTokens.create(input))).toMatchObject({ errcode: 'M_INVALID_PARAM' });
    }
  });

  it('ensure() creates a missing token once, and delete() removes it', async () => {
    await accounts.registrationTokens.ensure('configured');
    await accounts.registrationTokens.ensure('configured');
    expect(await accounts.registrationTokens.get('configured')).toMatchObject({ usesAllowed: null, pending: 0, completed: 0 });
    await accounts.registrationTokens.delete('configured');
    expect(await accounts.registrationTokens.get('configured')).toBeNull();
    expect(await caught(() => accounts.registrationTokens.delete('configured'))).toMatchObject({ errcode: 'M_NOT_FOUND' });
  });
});

describe('UserInteractiveAuthService', () => {
  let clock: ManualClock;
  let accounts: Accounts;
  let userId: string;

  useTestAccounts({ uiaSessionLifetimeMs: 60_000 }, (opened) => ({ clock, accounts } = opened));
  beforeAll(async () => {
    ({ userId } = await accounts.users.register({ localpart: 'uiauser', password: 'hunter2' }));
  });

  const register = (auth: unknown, flows = registrationFlows({ requireRegistrationToken: false })): UiaRequest => ({
    operation: 'POST /register',
    flows,
    auth,
  });

  it('answers a request without auth with the 401 body: flows, params, a new session, nothing completed', async () => {
    const error = await challenge(accounts, { ...register(undefined), params: { 'm.login.terms': { policies: {} } } });
    expect(error.httpStatus).toBe(401);
    expect(error.toJSON()).toEqual({
      flows: [{ stages: [LOGIN_DUMMY] }],
      params: { 'm.login.terms': { policies: {} } },
      session: expect.stringMatching(/^[A-Za-z0-9]{24}$/),
      completed: [],
    });
    expect(error.body.errcode).toBeUndefined();
  });

  it('completes the dummy stage, then the session can be completed once', async () => {
    const { session } = (await challenge(accounts, register(undefined))).body;
    const result = await accounts.uia.authenticate(register({ type: LOGIN_DUMMY, session }));
    expect(result).toEqual({ sessionId: session, completed: [LOGIN_DUMMY], registrationToken: null, data: {}, result: null });
    // Until completed, the session stays valid for retries of the same operation.
    await expect(accounts.uia.authenticate(register({ session }))).resolves.toMatchObject({ sessionId: session });
    await accounts.uia.completeSession(session);
    expect(await caught(() => accounts.uia.authenticate(register({ type: LOGIN_DUMMY, session })))).toMatchObject({
      errcode: 'M_UNKNOWN',
      httpStatus: 400,
    });
  });

  it('accepts a stage submitted without a session (one is created)', async () => {
    const result = await accounts.uia.authenticate(register({ type: LOGIN_DUMMY }));
    expect(result.completed).toEqual([LOGIN_DUMMY]);
    expect(result.sessionId).toMatch(/^[A-Za-z0-9]{24}$/);
  });

  it('checks the password stage against the account the operation acts on', async () => {
    const request = (auth: unknown): UiaRequest => ({ operation: 'POST /delete_devices', userId, flows: accountFlows(), auth });
    const { session } = (await challenge(accounts, request(undefined))).body;

    const wrong = await challenge(accounts, request({ type: LOGIN_PASSWORD, session, identifier: { type: 'm.id.user', user: 'uiauser' }, password: 'nope' }));
    expect(wrong.body).toMatchObject({ session, completed: [], errcode: 'M_FORBIDDEN', flows: [{ stages: [LOGIN_PASSWORD] }] });

    // Another user's (correct) credentials do not authorise this user's operation: a refusal
    // (403), not a stage to retry.
    await accounts.users.register({ localpart: 'mallory', password: 'malpw' });
    const other = await caught(() =>
      accounts.uia.authenticate(request({ type: LOGIN_PASSWORD, session, identifier: { type: 'm.id.user', user: 'mallory' }, password: 'malpw' })),
    );
    expect(other).toBeInstanceOf(AccountsError);
    expect(other).toMatchObject({ errcode: 'M_FORBIDDEN', httpStatus: 403 });

    const missing = await challenge(accounts, request({ type: LOGIN_PASSWORD, session, identifier: { type: 'm.id.user', user: 'uiauser' } }));
    expect(missing.body.errcode).toBe('M_MISSING_PARAM');

    const ok = await accounts.uia.authenticate(request({ type: LOGIN_PASSWORD, session, identifier: { type: 'm.id.user', user: userId }, password: 'hunter2' }));
    expect(ok.completed).toEqual([LOGIN_PASSWORD]);
  });

  it('accepts the legacy `user` field and a password without identifier', async () => {
    const flows = accountFlows();
    await expect(
      accounts.uia.authenticate({ operation: 'POST /account/password', userId, flows, auth: { type: LOGIN_PASSWORD, user: 'uiauser', password: 'hunter2' } }),
    ).resolves.toMatchObject({ completed: [LOGIN_PASSWORD] });
    await expect(
      accounts.uia.authenticate({ operation: 'POST /account/password', userId, flows, auth: { type: LOGIN_PASSWORD, password: 'hunter2' } }),
    ).resolves.toMatchObject({ completed: [LOGIN_PASSWORD] });
  });

  it('refuses the password stage when there is no account (registration)', async () => {
    const flows = [{ stages: [LOGIN_PASSWORD] }];
    const error = await challenge(accounts, { operation: 'POST /register', flows, auth: { type: LOGIN_PASSWORD, user: 'uiauser', password: 'hunter2' } });
    expect(error.body.errcode).toBe('M_FORBIDDEN');
  });

  it('needs every stage of a flow, reporting completed stages in between', async () => {
    await accounts.registrationTokens.create({ token: 'two-stage' });
    const flows = [{ stages: [LOGIN_REGISTRATION_TOKEN, LOGIN_DUMMY] }];
    const first = await challenge(accounts, register({ type: LOGIN_REGISTRATION_TOKEN, token: 'two-stage' }, flows));
    expect(first.body).toMatchObject({ completed: [LOGIN_REGISTRATION_TOKEN], flows });
    expect(first.body.errcode).toBeUndefined();
    const done = await accounts.uia.authenticate(register({ type: LOGIN_DUMMY, session: first.body.session }, flows));
    expect(done).toEqual({
      sessionId: first.body.session,
      completed: [LOGIN_REGISTRATION_TOKEN, LOGIN_DUMMY],
      registrationToken: 'two-stage',
      data: {},
      result: null,
    });
  });

  it('keeps the parameters of the operation with the session; later requests may omit or replace them', async () => {
    const { session } = (await challenge(accounts, { ...register(undefined), data: { username: 'kept', device_id: 'DEV', inhibit_login: undefined } })).body;
    await accounts.uia.keep(session, { password_hash: 'hash' });
    expect(await accounts.uia.kept(session)).toEqual({ username: 'kept', device_id: 'DEV', password_hash: 'hash' });
    const done = await accounts.uia.authenticate({ ...register({ type: LOGIN_DUMMY, session }), data: { device_id: 'OTHER', username: undefined } });
    expect(done.data).toEqual({ username: 'kept', device_id: 'OTHER', password_hash: 'hash' });
    expect(await accounts.uia.kept(session)).toEqual(done.data);
    expect(await accounts.uia.kept('no-such-session')).toEqual({});
    expect(await caught(() => accounts.uia.authenticate({ ...register(undefined), data: { username: 'nul\u0000' } }))).toMatchObject({
      errcode: 'M_INVALID_PARAM',
    });
  });

  it('authorises a retry of a finished session again, with its result, until the session expires', async () => {
    await accounts.registrationTokens.create({ token: 'finish-once', usesAllowed: 1 });
    const flows = registrationFlows({ requireRegistrationToken: true });
    const done = await accounts.uia.authenticate(register({ type: LOGIN_REGISTRATION_TOKEN, token: 'finish-once' }, flows));
    await accounts.uia.finishSession(done.sessionId, { user_id: '@new:example.org', device_id: undefined });
    expect(await accounts.registrationTokens.get('finish-once')).toMatchObject({ pending: 0, completed: 1 });
    for (const auth of [{ type: LOGIN_REGISTRATION_TOKEN, token: 'finish-once', session: done.sessionId }, { session: done.sessionId }]) {
      const retry = await accounts.uia.authenticate(register(auth, flows));
      expect(retry).toMatchObject({ sessionId: done.sessionId, result: { user_id: '@new:example.org' } });
    }
    // The retry took no second use of the token, and expiry gives nothing back.
    expect(await accounts.registrationTokens.get('finish-once')).toMatchObject({ pending: 0, completed: 1 });
    clock.advance(60_000);
    await accounts.uia.pruneExpiredSessions();
    expect(await accounts.registrationTokens.get('finish-once')).toMatchObject({ pending: 0, completed: 1 });
    expect(await caught(() => accounts.uia.authenticate(register({ session: done.sessionId }, flows)))).toMatchObject({ errcode: 'M_UNKNOWN' });
  });

  it('refuses to carry a session over to another operation or user', async () => {
    const { session } = (await challenge(accounts, register(undefined))).body;
    const error = await caught(() =>
      accounts.uia.authenticate({ operation: 'POST /account/deactivate', userId, flows: accountFlows(), auth: { type: LOGIN_DUMMY, session } }),
    );
    expect(error).toMatchObject({ errcode: 'M_FORBIDDEN', httpStatus: 403 });
  });

  it('rejects stage types the session does not offer, and malformed auth', async () => {
    const { session } = (await challenge(accounts, register(undefined))).body;
    expect(await caught(() => accounts.uia.authenticate(register({ type: 'm.login.email.identity', session })))).toMatchObject({
      errcode: 'M_UNRECOGNIZED',
    });
    expect(await caught(() => accounts.uia.authenticate(register({ type: LOGIN_PASSWORD, session })))).toMatchObject({ errcode: 'M_UNRECOGNIZED' });
    expect(await caught(() => accounts.uia.authenticate(register('dummy')))).toMatchObject({ errcode: 'M_BAD_JSON' });
    expect(await caught(() => accounts.uia.authenticate(register({ type: 5 })))).toMatchObject({ errcode: 'M_BAD_JSON' });
    expect(await caught(() => accounts.uia.authenticate(register({ session: ['x'] })))).toMatchObject({ errcode: 'M_BAD_JSON' });
    expect(await caught(() => accounts.uia.authenticate(register({ type: LOGIN_DUMMY, session: 'no-such-session' })))).toMatchObject({
      errcode: 'M_UNKNOWN',
    });
  });

  it('expires sessions', async () => {
    const { session } = (await challenge(accounts, register(undefined))).body;
    clock.advance(60_000);
    const error = await caught(() => accounts.uia.authenticate(register({ type: LOGIN_DUMMY, session })));
    expect(error).toBeInstanceOf(AccountsError);
    expect(error).toMatchObject({ errcode: 'M_UNKNOWN' });
  });

  describe('m.login.registration_token', () => {
    const flows = registrationFlows({ requireRegistrationToken: true });

    it('rejects unknown tokens with a 401 carrying M_UNAUTHORIZED and a missing token with M_MISSING_PARAM', async () => {
      const bad = await challenge(accounts, register({ type: LOGIN_REGISTRATION_TOKEN, token: 'never-made' }, flows));
      expect(bad.body).toMatchObject({ errcode: 'M_UNAUTHORIZED', completed: [], flows });
      const missing = await challenge(accounts, register({ type: LOGIN_REGISTRATION_TOKEN, session: bad.body.session }, flows));
      expect(missing.body.errcode).toBe('M_MISSING_PARAM');
    });

    it('counts a pending use per session, a completed use per finished registration', async () => {
      await accounts.registrationTokens.create({ token: 'single-use', usesAllowed: 1 });
      const result = await accounts.uia.authenticate(register({ type: LOGIN_REGISTRATION_TOKEN, token: 'single-use' }, flows));
      expect(result.registrationToken).toBe('single-use');
      expect(await accounts.registrationTokens.get('single-use')).toMatchObject({ pending: 1, completed: 0 });
      expect(await accounts.registrationTokens.isValid('single-use')).toBe(false);

      // Re-submitting the same token in the same session does not take a second use.
      await accounts.uia.authenticate(register({ type: LOGIN_REGISTRATION_TOKEN, token: 'single-use', session: result.sessionId }, flows));
      expect(await accounts.registrationTokens.get('single-use')).toMatchObject({ pending: 1 });

      // Another session cannot use it while the first holds the only use.
      const other = await challenge(accounts, register({ type: LOGIN_REGISTRATION_TOKEN, token: 'single-use' }, flows));
      expect(other.body.errcode).toBe('M_UNAUTHORIZED');

      await accounts.uia.completeSession(result.sessionId);
      expect(await accounts.registrationTokens.get('single-use')).toMatchObject({ pending: 0, completed: 1 });
      expect(await accounts.registrationTokens.isValid('single-use')).toBe(false);
    });

    it('gives the pending use back when the session expires', async () => {
      await accounts.registrationTokens.create({ token: 'abandoned', usesAllowed: 1 });
      await accounts.uia.authenticate(register({ type: LOGIN_REGISTRATION_TOKEN, token: 'abandoned' }, flows));
      expect(await accounts.registrationTokens.isValid('abandoned')).toBe(false);
      clock.advance(60_000);
      expect(await accounts.uia.pruneExpiredSessions()).toBeGreaterThanOrEqual(1);
      expect(await accounts.registrationTokens.get('abandoned')).toMatchObject({ pending: 0, completed: 0 });
      expect(await accounts.registrationTokens.isValid('abandoned')).toBe(true);
    });

    it('lets only one of two concurrent sessions take the last use', async () => {
      await accounts.registrationTokens.create({ token: 'contended', usesAllowed: 1 });
      const results = await Promise.allSettled([
        accounts.uia.authenticate(register({ type: LOGIN_REGISTRATION_TOKEN, token: 'contended' }, flows)),
        accounts.uia.authenticate(register({ type: LOGIN_REGISTRATION_TOKEN, token: 'contended' }, flows)),
      ]);
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      const rejected = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      expect(rejected?.reason).toBeInstanceOf(UserInteractiveAuthRequired);
      expect(await accounts.registrationTokens.get('contended')).toMatchObject({ pending: 1 });
    });
  });
});
