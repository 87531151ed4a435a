import { Accounts, ProfileChange } from './imports';
import { caught, SERVER_NAME, useTestAccounts } from './harness';

describe('ProfileService', () => {
  let accounts: Accounts;
  let userId: string;

  useTestAccounts({}, (opened) => ({ accounts } = opened));
  beforeAll(async () => {
    ({ userId } = await accounts.users.register({ localpart: 'prof', password: 'pw' }));
  });

  it('sets, reads and deletes display name, avatar, time zone and custom fields', async () => {
    await accounts.profiles.setDisplayName(userId, 'Professor');
    await accounts.profiles.setAvatarUrl(userId, 'mxc://example.org/SEsfnsuifSDFSSEF');
    await accounts.profiles.setProfileField(userId, 'm.tz', 'Europe/London');
    await accounts.profiles.setProfileField(userId, 'org.example.info', { nested: [1, true, null, 'x'] });
    expect(await accounts.profiles.getProfile(userId)).toEqual({
      avatar_url: 'mxc://example.org/SEsfnsuifSDFSSEF',
      displayname: 'Professor',
      'm.tz': 'Europe/London',
      'org.example.info': { nested: [1, true, null, 'x'] },
    });
    expect(await accounts.profiles.getProfileField(userId, 'displayname')).toBe('Professor');
    expect(await accounts.profiles.getProfileField(userId, 'org.example.info')).toEqual({ nested: [1, true, null, 'x'] });
    await accounts.profiles.deleteProfileField(userId, 'org.example.info');
    await accounts.profiles.deleteProfileField(userId, 'org.example.never_set');
    expect(await caught(() => accounts.profiles.getProfileField(userId, 'org.example.info'))).toMatchObject({ errcode: 'M_NOT_FOUND', httpStatus: 404 });
  });

  it('stores a custom string value as a string', async () => {
    await accounts.profiles.setProfileField(userId, 'org.example.text', '{"not":"an object"}');
    expect(await accounts.profiles.getProfileField(userId, 'org.example.text')).toBe('{"not":"an object"}');
  });

  it('answers M_NOT_FOUND for unknown users', async () => {
    for (const who of [`@nobody:${SERVER_NAME}`, 'garbage\u0000']) {
      expect(await caught(() => accounts.profiles.getProfile(who))).toMatchObject({ errcode: 'M_NOT_FOUND' });
      expect(await caught(() => accounts.profiles.setDisplayName(who, 'x'))).toMatchObject({ errcode: 'M_NOT_FOUND' });
    }
  });

  it.each([
    ['a key outside the grammar', 'Display Name', 'x', 'M_INVALID_PARAM'],
    ['a key without a namespace', 'custom', 'x', 'M_INVALID_PARAM'],
    ['a key over 255 bytes', `org.${'a'.repeat(260)}`, 'x', 'M_KEY_TOO_LARGE'],
    ['a non-string display name', 'displayname', 42, 'M_INVALID_PARAM'],
    ['a display name over 256 characters', 'displayname', 'n'.repeat(257), 'M_INVALID_PARAM'],
    ['an avatar that is not an mxc URI', 'avatar_url', 'https://example.org/a.png', 'M_INVALID_PARAM'],
    ['a non-string time zone', 'm.tz', { zone: 'UTC' }, 'M_INVALID_PARAM'],
    ['a value JSON cannot carry', 'org.example.bad', Number.NaN, 'M_BAD_JSON'],
    ['a string with U+0000', 'org.example.bad', 'a\u0000b', 'M_BAD_JSON'],
  ])('rejects %s', async (_label, key, value, errcode) => {
    expect(await caught(() => accounts.profiles.setProfileField(userId, key, value))).toMatchObject({ errcode });
  });

  it('keeps the whole profile under 64 KiB', async () => {
    const { userId: big } = await accounts.users.register({ localpart: 'bigprofile', password: 'pw' });
    await accounts.profiles.setProfileField(big, 'org.example.a', 'a'.repeat(40_000));
    expect(await caught(() => accounts.profiles.setProfileField(big, 'org.example.b', 'b'.repeat(30_000)))).toMatchObject({
      errcode: 'M_PROFILE_TOO_LARGE',
    });
    // Replacing a field counts its new size, not both.
    await accounts.profiles.setProfileField(big, 'org.example.a', 'c'.repeat(60_000));
    expect(await accounts.profiles.getProfileField(big, 'org.example.a')).toHaveLength(60_000);
  });

  it('announces changes', async () => {
    const changes: ProfileChange[] = [];
    const subscription = accounts.profiles.changes.subscribe((change) => changes.push(change));
    await accounts.profiles.setDisplayName(userId, 'New name');
    await accounts.profiles.deleteProfileField(userId, 'displayname');
    subscription.unsubscribe();
    expect(changes).toEqual([
      { userId, field: 'displayname', value: 'New name' },
      { userId, field: 'displayname', value: undefined },
    ]);
  });

  it('refuses changes to deactivated accounts', async () => {
    const { userId: gone } = await accounts.users.register({ localpart: 'goneprof', password: 'pw' });
    await accounts.users.deactivate(gone);
    expect(await caught(() => accounts.profiles.setDisplayName(gone, 'back'))).toMatchObject({ errcode: 'M_NOT_FOUND' });
  });
  it("asks another server for its users' profiles once connected, and keeps only what a profile may hold", async () => {
    const asked: string[] = [];
    const answers: Record<string, unknown> = {
      '@remote:other.example': { displayname: 'Remote', avatar_url: 42, 'org.example.x': [1] },
      '@odd:other.example': 'not an object',
    };
    accounts.profiles.setRemote(SERVER_NAME, {
      query: async (server, user, field) => {
        asked.push(`${server} ${user} ${field ?? '*'}`);
        if (user === '@gone:other.example') throw Object.assign(new Error('refused'), { status: 404 });
        if (user === '@secret:other.example') throw Object.assign(new Error('refused'), { status: 403 });
        if (user === '@down:other.example') throw new Error('unreachable');
        return answers[user];
      },
    });
    try {
      expect(await accounts.profiles.getProfile('@remote:other.example')).toEqual({ displayname: 'Remote', 'org.example.x': [1] });
      expect(await accounts.profiles.getProfileField('@remote:other.example', 'displayname')).toBe('Remote');
      expect(await caught(() => accounts.profiles.getProfileField('@remote:other.example', 'avatar_url'))).toMatchObject({ errcode: 'M_NOT_FOUND', httpStatus: 404 });
      expect(await accounts.profiles.getProfile('@odd:other.example')).toEqual({});
      expect(await caught(() => accounts.profiles.getProfile('@gone:other.example'))).toMatchObject({ errcode: 'M_NOT_FOUND', httpStatus: 404 });
      expect(await caught(() => accounts.profiles.getProfile('@secret:other.example'))).toMatchObject({ errcode: 'M_FORBIDDEN', httpStatus: 403 });
      expect(await caught(() => accounts.profiles.getProfile('@down:other.example'))).toMatchObject({ errcode: 'M_UNKNOWN', httpStatus: 502 });
      // Our own users are read here, never asked of anyone.
      expect(await accounts.profiles.getProfile(userId)).toEqual(expect.any(Object));
      expect(asked).toEqual([
        'other.example @remote:other.example *',
        'other.example @remote:other.example displayname',
        'other.example @remote:other.example avatar_url',
        'other.example @odd:other.example *',
        'other.example @gone:other.example *',
        'other.example @secret:other.example *',
        'other.example @down:other.example *',
      ]);
    } finally {
      accounts.profiles.setRemote(SERVER_NAME, undefined);
    }
    expect(await caught(() => accounts.profiles.getProfile('@remote:other.example'))).toMatchObject({ errcode: 'M_NOT_FOUND' });
  });
});
