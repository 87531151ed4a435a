import { CqrsModule, QueryBus, type Query } from '@nestjs/cqrs';
import { Test, type TestingModule } from '@nestjs/testing';
import { caught, SERVER_NAME, useTestAccounts, type ManualClock } from './harness';
import {
  type Accounts,
  AccountsFederationQueriesModule,
  type DatabasePool,
  ExchangeOpenIdToken,
  GetFederationProfile,
  OPENID_TOKEN_LIFETIME_MS,
} from './imports';

describe('federation queries of the accounts tables', () => {
  let accounts: Accounts;
  let clock: ManualClock;
  let module: TestingModule;
  let alice: string;
  const ask = <T>(query: Query<T>): Promise<T> => module.get(QueryBus).execute(query);

  let pool: DatabasePool;

  useTestAccounts({}, (opened) => ({ accounts, clock, db: { pool } } = opened));
  beforeAll(async () => {
    module = await Test.createTestingModule({
      imports: [CqrsModule.forRoot(), AccountsFederationQueriesModule.forRoot({ pool, serverName: SERVER_NAME, clock: clock.read })],
    }).compile();
    await module.init();
    ({ userId: alice } = await accounts.users.register({ localpart: 'alice', password: 'pw' }));
    await accounts.profiles.setDisplayName(alice, 'Alice');
    await accounts.profiles.setProfileField(alice, 'm.tz', 'Europe/Paris');
    await accounts.devices.issueAccessToken(alice, { deviceId: 'PHONE', initialDisplayName: 'Phone' });
  });
  afterAll(async () => {
    await module?.close();
  });

  it('answers the profile of a local user, whole or one field', async () => {
    expect(await ask(new GetFederationProfile(alice))).toEqual({ displayname: 'Alice', 'm.tz': 'Europe/Paris' });
    expect(await ask(new GetFederationProfile(alice, 'displayname'))).toEqual({ displayname: 'Alice' });
    // A field the user has not set is left out, as Synapse and Dendrite answer it (200).
    expect(await ask(new GetFederationProfile(alice, 'avatar_url'))).toEqual({});
    expect(await caught(() => ask(new GetFederationProfile(`@nobody:${SERVER_NAME}`)))).toMatchObject({ errcode: 'M_NOT_FOUND' });
    expect(await caught(() => ask(new GetFederationProfile(`@nobody:${SERVER_NAME}`, 'displayname')))).toMatchObject({ errcode: 'M_NOT_FOUND' });
    expect(await caught(() => ask(new GetFederationProfile('@alice:elsewhere.example.org')))).toMatchObject({ errcode: 'M_INVALID_PARAM', httpStatus: 400 });
  });

  it('exchanges an OpenID token for its user until it expires', async () => {
    const issued = await accounts.openIdTokens.issue(alice);
    expect(issued.expiresIn).toBe(3600);
    expect(await ask(new ExchangeOpenIdToken(issued.accessToken))).toEqual({ sub: alice });
    for (const token of ['', 'unknown', 'nul\u0000']) {
      expect(await caught(() => ask(new ExchangeOpenIdToken(token)))).toMatchObject({ errcode: 'M_UNKNOWN_TOKEN', httpStatus: 401 });
    }
    clock.advance(OPENID_TOKEN_LIFETIME_MS);
    expect(await caught(() => ask(new ExchangeOpenIdToken(issued.accessToken)))).toMatchObject({ errcode: 'M_UNKNOWN_TOKEN' });
    const fresh = await accounts.openIdTokens.issue(alice);
    await accounts.users.deactivate(alice);
    expect(await caught(() => ask(new ExchangeOpenIdToken(fresh.accessToken)))).toMatchObject({ errcode: 'M_UNKNOWN_TOKEN' });
  });
});
