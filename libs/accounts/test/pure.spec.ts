import { AccountsError, isAccountsError, resolveAccountsOptions, UserInteractiveAuthRequired } from './imports';
import { LruCache } from '../src/token-cache';
import { generateDeviceId, parseUserId, randomString } from '../src/identifiers';
import { isJsonValue } from '../src/profile-rules';

describe('AccountsError', () => {
  it('carries the errcode, the default status and extra body fields', () => {
    const error = new AccountsError('M_UNKNOWN_TOKEN', 'Unknown access token', { extra: { soft_logout: true } });
    expect(error.httpStatus).toBe(401);
    expect(error.toJSON()).toEqual({ errcode: 'M_UNKNOWN_TOKEN', error: 'Unknown access token', soft_logout: true });
    expect(isAccountsError(error)).toBe(true);
    expect(isAccountsError(new Error('x'))).toBe(false);
    expect(new AccountsError('M_BAD_JSON', 'x', { httpStatus: 405 }).httpStatus).toBe(405);
    expect(new AccountsError('M_USER_IN_USE', 'x').httpStatus).toBe(400);
    expect(new AccountsError('M_FORBIDDEN', 'x').httpStatus).toBe(403);
    expect(new AccountsError('M_NOT_FOUND', 'x').httpStatus).toBe(404);
  });

  it('UIA challenges serialise to the spec body', () => {
    const error = new UserInteractiveAuthRequired({ flows: [{ stages: ['m.login.dummy'] }], params: {}, session: 's', completed: [] });
    expect(error.httpStatus).toBe(401);
    expect(JSON.parse(JSON.stringify(error))).toEqual({ flows: [{ stages: ['m.login.dummy'] }], params: {}, session: 's', completed: [] });
  });
});

describe('LruCache', () => {
  it('evicts the least recently used entry beyond its size', () => {
    let now = 0;
    const cache = new LruCache<string, number>(2, 1000, () => now);
    cache.set('a', 1);
    cache.set('b', 2);
    expect(cache.get('a')).toBe(1);
    cache.set('c', 3);
    expect(cache.get('b')).toBeUndefined();
    expect(cache.get('a')).toBe(1);
    expect(cache.get('c')).toBe(3);
    now = 1000;
    expect(cache.get('a')).toBeUndefined();
    expect(cache.size).toBe(1);
  });

  it('deletes by predicate and can be disabled', () => {
    const cache = new LruCache<string, { user: string }>(10, 1000, () => 0);
    cache.set('t1', { user: 'a' });
    cache.set('t2', { user: 'b' });
    cache.deleteWhere((v) => v.user === 'a');
    expect(cache.get('t1')).toBeUndefined();
    expect(cache.get('t2')).toEqual({ user: 'b' });
    const off = new LruCache<string, number>(0, 1000, () => 0);
    off.set('x', 1);
    expect(off.get('x')).toBeUndefined();
  });
});

describe('identifiers', () => {
  it('parses user ids at the first colon', () => {
    expect(parseUserId('@alice:example.org:8448')).toEqual({ localpart: 'alice', serverName: 'example.org:8448' });
    expect(parseUserId('alice:example.org')).toBeNull();
    expect(parseUserId('@:example.org')).toBeNull();
    expect(parseUserId('@alice:')).toBeNull();
  });

  it('generates random strings over the alphabet', () => {
    expect(randomString(50, 'ab')).toMatch(/^[ab]{50}$/);
    expect(generateDeviceId()).toMatch(/^[A-Z]{10}$/);
    expect(new Set(Array.from({ length: 50 }, () => randomString(16))).size).toBe(50);
  });
});

describe('isJsonValue', () => {
  it('accepts plain JSON and rejects what JSON or jsonb cannot hold', () => {
    expect(isJsonValue({ a: [1, 'x', null, true, { b: 2.5 }] })).toBe(true);
    expect(isJsonValue(undefined)).toBe(false);
    expect(isJsonValue({ a: undefined })).toBe(false);
    expect(isJsonValue(Number.POSITIVE_INFINITY)).toBe(false);
    expect(isJsonValue(new Date())).toBe(false);
    expect(isJsonValue({ 'k\u0000': 1 })).toBe(false);
    let deep: unknown = 1;
    for (let i = 0; i < 200; i++) deep = [deep];
    expect(isJsonValue(deep)).toBe(false);
  });
});

describe('resolveAccountsOptions', () => {
  it('fills defaults and requires a server name', () => {
    const options = resolveAccountsOptions({ serverName: 'example.org' });
    expect(options.passwordHashing).toEqual({ memoryCost: 19456, timeCost: 2, parallelism: 1 });
    expect(options.registrationSharedSecret).toBeNull();
    expect(() => resolveAccountsOptions({ serverName: '' })).toThrow();
  });
});
