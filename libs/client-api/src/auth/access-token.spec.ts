import type { DeviceService } from '@hs/accounts';
import { MatrixError } from '@hs/http';
import { AuthenticatableRequest, authenticateRequest, extractAccessToken } from './access-token';

function request(headers: Record<string, string | string[] | undefined>, query: unknown = {}): AuthenticatableRequest {
  return { headers, query, ip: '192.0.2.7' };
}

function errcodeOf(action: () => unknown): string | undefined {
  try {
    action();
    return undefined;
  } catch (error) {
    return error instanceof MatrixError ? error.errcode : 'not a MatrixError';
  }
}

describe('extractAccessToken', () => {
  it('reads the Bearer header first, then the access_token query parameter', () => {
    expect(extractAccessToken(request({ authorization: 'Bearer abc' }, { access_token: 'def' }))).toBe('abc');
    expect(extractAccessToken(request({ authorization: 'bearer  abc ' }))).toBe('abc');
    expect(extractAccessToken(request({}, { access_token: 'def' }))).toBe('def');
    expect(extractAccessToken(request({}, { access_token: ['first', 'second'] }))).toBe('first');
    expect(extractAccessToken(request({}))).toBeNull();
    expect(extractAccessToken(request({ authorization: '' }, { access_token: '' }))).toBeNull();
  });

  it('refuses a header that is not a bearer token', () => {
    expect(errcodeOf(() => extractAccessToken(request({ authorization: 'Basic dXNlcjpwYXNz' })))).toBe('M_UNKNOWN_TOKEN');
    expect(errcodeOf(() => extractAccessToken(request({ authorization: 'Bearer a b' })))).toBe('M_UNKNOWN_TOKEN');
    expect(errcodeOf(() => extractAccessToken(request({ authorization: 'Bearer' })))).toBe('M_UNKNOWN_TOKEN');
  });
});

describe('authenticateRequest', () => {
  function devices(known: Record<string, { userId: string; deviceId: string; isGuest: boolean }>) {
    const seen: { userId: string; deviceId: string; ip: string; userAgent?: string }[] = [];
    let lookups = 0;
    const service = {
      authenticate: async (token: string) => {
        lookups += 1;
        return known[token] ?? null;
      },
      recordLastSeen: (auth: { userId: string; deviceId: string }, ip: string, userAgent?: string) => {
        seen.push({ userId: auth.userId, deviceId: auth.deviceId, ip, userAgent });
      },
    };
    return { service: service as unknown as DeviceService, seen, lookups: () => lookups };
  }

  it('resolves the user once per request and records the device as seen', async () => {
    const fake = devices({ tok: { userId: '@a:x', deviceId: 'D', isGuest: false } });
    const req = request({ authorization: 'Bearer tok', 'user-agent': 'Test/1.0' });
    const [first, second] = await Promise.all([authenticateRequest(req, fake.service), authenticateRequest(req, fake.service)]);
    expect(first).toEqual({ userId: '@a:x', deviceId: 'D', isGuest: false, accessToken: 'tok' });
    expect(second).toBe(first);
    expect(req.authUser).toBe(first);
    expect(await authenticateRequest(req, fake.service)).toBe(first);
    expect(fake.lookups()).toBe(1);
    expect(fake.seen).toEqual([{ userId: '@a:x', deviceId: 'D', ip: '192.0.2.7', userAgent: 'Test/1.0' }]);
  });

  it('answers M_MISSING_TOKEN and M_UNKNOWN_TOKEN (soft_logout false)', async () => {
    const fake = devices({});
    await expect(authenticateRequest(request({}), fake.service)).rejects.toMatchObject({ status: 401, errcode: 'M_MISSING_TOKEN' });
    const unknown = authenticateRequest(request({ authorization: 'Bearer nope' }), fake.service);
    await expect(unknown).rejects.toMatchObject({ status: 401, errcode: 'M_UNKNOWN_TOKEN' });
    await expect(unknown.catch((error: MatrixError) => error.toJSON())).resolves.toEqual({
      errcode: 'M_UNKNOWN_TOKEN',
      error: 'Unrecognised access token',
      soft_logout: false,
    });
    expect(fake.seen).toEqual([]);
  });
});
