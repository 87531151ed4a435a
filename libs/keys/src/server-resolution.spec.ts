import { orderSrvRecords, resolveWithoutLookup, ServerNameResolver, ServerResolutionError, SRV_CACHE_MS, type SrvRecord } from './server-resolution';
import { parseWellKnownBody, wellKnownCacheMs, type WellKnownFetchResult } from './well-known';

const MINUTE = 60 * 1000;
const HOUR = 60 * MINUTE;

/** A DNS without network: SRV records by name; the names asked are recorded. */
class FakeDns {
  readonly asked: string[] = [];
  records = new Map<string, SrvRecord[]>();
  failing = new Set<string>();

  resolveSrv = async (name: string): Promise<SrvRecord[]> => {
    this.asked.push(name);
    if (this.failing.has(name)) throw Object.assign(new Error(`querySrv ESERVFAIL ${name}`), { code: 'ESERVFAIL' });
    const records = this.records.get(name);
    if (!records) throw Object.assign(new Error(`querySrv ENOTFOUND ${name}`), { code: 'ENOTFOUND' });
    return records;
  };
}

/** Well-known answers by hostname; the hostnames fetched are recorded. */
class FakeWellKnown {
  readonly fetched: string[] = [];
  answers = new Map<string, WellKnownFetchResult>();

  fetchWellKnown = async (hostname: string): Promise<WellKnownFetchResult> => {
    this.fetched.push(hostname);
    return this.answers.get(hostname) ?? { outcome: 'answered', status: 404, body: '{"errcode":"M_UNRECOGNIZED"}' };
  };
}

const delegation = (server: string, headers: { cacheControl?: string; expires?: string; date?: string } = {}): WellKnownFetchResult => ({
  outcome: 'answered',
  status: 200,
  body: JSON.stringify({ 'm.server': server }),
  ...headers,
});

const srv = (name: string, port: number, priority = 10, weight = 5): SrvRecord => ({ name, port, priority, weight });

function setUp() {
  const dns = new FakeDns();
  const wellKnown = new FakeWellKnown();
  let now = 1_000_000_000;
  const resolver = new ServerNameResolver({ srv: dns, wellKnown, clock: () => now, random: () => 0 });
  return {
    dns,
    wellKnown,
    resolver,
    advance(ms: number) {
      now += ms;
    },
  };
}

describe('resolving server names (server-server-api.md "Resolving server names")', () => {
  describe('names that need no lookup', () => {
    it.each([
      ['1.2.3.4', { addresses: [{ host: '1.2.3.4', port: 8448 }], hostHeader: '1.2.3.4', tlsIp: '1.2.3.4' }],
      ['1.2.3.4:1234', { addresses: [{ host: '1.2.3.4', port: 1234 }], hostHeader: '1.2.3.4:1234', tlsIp: '1.2.3.4' }],
      ['[::1]', { addresses: [{ host: '::1', port: 8448 }], hostHeader: '[::1]', tlsIp: '::1' }],
      ['[2001:db8::1]:8449', { addresses: [{ host: '2001:db8::1', port: 8449 }], hostHeader: '[2001:db8::1]:8449', tlsIp: '2001:db8::1' }],
      ['example.org:8449', { addresses: [{ host: 'example.org', port: 8449 }], hostHeader: 'example.org:8449', tlsServerName: 'example.org' }],
      ['localhost:41000', { addresses: [{ host: 'localhost', port: 41000 }], hostHeader: 'localhost:41000', tlsServerName: 'localhost' }],
    ])('%s is used as it is, without asking DNS or .well-known', async (name, expected) => {
      const { dns, wellKnown, resolver } = setUp();
      expect(await resolver.resolve(name)).toEqual({ ...expected, via: expect.any(String) });
      expect(resolveWithoutLookup(name)).toEqual({ ...expected, via: expect.any(String) });
      expect(dns.asked).toEqual([]);
      expect(wellKnown.fetched).toEqual([]);
    });

    it('a DNS name without port needs a lookup; what is not a server name is refused', async () => {
      expect(resolveWithoutLookup('example.org')).toBeUndefined();
      const { resolver } = setUp();
      for (const bad of ['bad name', 'example.org:0', 'example.org:99999', '[::1', '']) {
        await expect(resolver.resolve(bad)).rejects.toBeInstanceOf(ServerResolutionError);
      }
    });
  });

  describe('with a .well-known delegation', () => {
    it('to an IP literal: that address, Host the delegated name, certificate for the IP', async () => {
      const { dns, wellKnown, resolver } = setUp();
      wellKnown.answers.set('example.org', delegation('10.0.0.1'));
      wellKnown.answers.set('example.net', delegation('[2001:db8::2]:8000'));
      expect(await resolver.resolve('example.org')).toMatchObject({ addresses: [{ host: '10.0.0.1', port: 8448 }], hostHeader: '10.0.0.1', tlsIp: '10.0.0.1' });
      expect(await resolver.resolve('example.net')).toMatchObject({ addresses: [{ host: '2001:db8::2', port: 8000 }], hostHeader: '[2001:db8::2]:8000', tlsIp: '2001:db8::2' });
      expect(dns.asked).toEqual([]);
    });

    it('to a hostname with a port: that host and port, Host "<delegated>:<port>", certificate for the delegated host, no SRV', async () => {
      const { dns, wellKnown, resolver } = setUp();
      wellKnown.answers.set('example.org', delegation('matrix.example.org:443'));
      const resolved = await resolver.resolve('example.org');
      expect(resolved).toEqual({
        addresses: [{ host: 'matrix.example.org', port: 443 }],
        hostHeader: 'matrix.example.org:443',
        tlsServerName: 'matrix.example.org',
        via: '.well-known delegation to matrix.example.org:443',
      });
      expect(dns.asked).toEqual([]);
    });

    it('to a hostname without port: SRV _matrix-fed._tcp of the delegated host, Host and certificate the delegated host', async () => {
      const { dns, wellKnown, resolver } = setUp();
      wellKnown.answers.set('example.org', delegation('matrix.example.org'));
      dns.records.set('_matrix-fed._tcp.matrix.example.org', [srv('node1.example.org', 8450)]);
      dns.records.set('_matrix._tcp.matrix.example.org', [srv('old.example.org', 1)]);
      expect(await resolver.resolve('example.org')).toEqual({
        addresses: [{ host: 'node1.example.org', port: 8450 }],
        hostHeader: 'matrix.example.org',
        tlsServerName: 'matrix.example.org',
        via: '.well-known delegation to matrix.example.org, SRV _matrix-fed._tcp.matrix.example.org',
      });
      expect(dns.asked).toEqual(['_matrix-fed._tcp.matrix.example.org']);
    });

    it('then the deprecated _matrix._tcp, then port 8448 of the delegated host', async () => {
      const { dns, wellKnown, resolver } = setUp();
      wellKnown.answers.set('a.org', delegation('m.a.org'));
      wellKnown.answers.set('b.org', delegation('m.b.org'));
      dns.records.set('_matrix._tcp.m.a.org', [srv('legacy.a.org', 8999)]);
      expect(await resolver.resolve('a.org')).toMatchObject({ addresses: [{ host: 'legacy.a.org', port: 8999 }], hostHeader: 'm.a.org', tlsServerName: 'm.a.org' });
      expect(await resolver.resolve('b.org')).toMatchObject({ addresses: [{ host: 'm.b.org', port: 8448 }], hostHeader: 'm.b.org', tlsServerName: 'm.b.org' });
      expect(dns.asked).toEqual(['_matrix-fed._tcp.m.a.org', '_matrix._tcp.m.a.org', '_matrix-fed._tcp.m.b.org', '_matrix._tcp.m.b.org']);
    });
  });

  describe('without a delegation', () => {
    it('SRV _matrix-fed._tcp of the hostname, Host and certificate the hostname', async () => {
      const { dns, resolver } = setUp();
      dns.records.set('_matrix-fed._tcp.example.org', [srv('fed.example.org', 8443)]);
      expect(await resolver.resolve('example.org')).toEqual({
        addresses: [{ host: 'fed.example.org', port: 8443 }],
        hostHeader: 'example.org',
        tlsServerName: 'example.org',
        via: 'SRV _matrix-fed._tcp.example.org',
      });
    });

    it('then the deprecated _matrix._tcp, then port 8448 of the hostname', async () => {
      const { dns, resolver } = setUp();
      dns.records.set('_matrix._tcp.old.org', [srv('srv.old.org', 8000)]);
      expect(await resolver.resolve('old.org')).toMatchObject({ addresses: [{ host: 'srv.old.org', port: 8000 }], hostHeader: 'old.org', tlsServerName: 'old.org' });
      expect(await resolver.resolve('plain.org')).toEqual({
        addresses: [{ host: 'plain.org', port: 8448 }],
        hostHeader: 'plain.org',
        tlsServerName: 'plain.org',
        via: 'default port 8448',
      });
    });

    it.each<[string, WellKnownFetchResult]>([
      ['a 404', { outcome: 'answered', status: 404, body: '' }],
      ['a 200 that is not JSON', { outcome: 'answered', status: 200, body: '<html>' }],
      ['a JSON array', { outcome: 'answered', status: 200, body: '["x"]' }],
      ['no m.server', { outcome: 'answered', status: 200, body: '{"m.homeserver": "x"}' }],
      ['m.server not a string', { outcome: 'answered', status: 200, body: '{"m.server": 8448}' }],
      ['m.server not a server name', { outcome: 'answered', status: 200, body: '{"m.server": "https://x.org/"}' }],
      ['a refused redirect', { outcome: 'refused', reason: 'a redirect loop' }],
      ['no answer', { outcome: 'unreachable', reason: 'ECONNREFUSED' }],
    ])('a well-known with %s delegates nothing', async (_name, answer) => {
      const { wellKnown, resolver } = setUp();
      wellKnown.answers.set('example.org', answer);
      expect(await resolver.resolve('example.org')).toMatchObject({ addresses: [{ host: 'example.org', port: 8448 }], hostHeader: 'example.org' });
    });
  });

  describe('SRV records', () => {
    it('several targets are all given, by priority then weight; a trailing dot is dropped', async () => {
      const { dns, resolver } = setUp();
      dns.records.set('_matrix-fed._tcp.example.org', [srv('c.example.org.', 3, 20), srv('a.example.org', 1, 10, 0), srv('b.example.org', 2, 10, 10)]);
      const resolved = await resolver.resolve('example.org');
      expect(resolved.addresses).toEqual([
        { host: 'a.example.org', port: 1 },
        { host: 'b.example.org', port: 2 },
        { host: 'c.example.org', port: 3 },
      ]);
    });

    it('a target "." says the service is not available', async () => {
      const { dns, resolver } = setUp();
      dns.records.set('_matrix-fed._tcp.example.org', [srv('.', 0)]);
      const error = await resolver.resolve('example.org').catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ServerResolutionError);
      expect((error as ServerResolutionError).reason).toMatch(/not available/);
    });

    it('RFC 2782 order: lower priority first; within one, weighted random choice', () => {
      const records = [srv('low1', 1, 20, 1), srv('high', 2, 10, 0), srv('low2', 3, 20, 3)];
      expect(orderSrvRecords(records, () => 0).map((r) => r.name)).toEqual(['high', 'low1', 'low2']);
      // A draw past the first weight picks the second record of the priority.
      expect(orderSrvRecords(records, () => 0.5).map((r) => r.name)).toEqual(['high', 'low2', 'low1']);
      // Over many draws, a record of weight 3 comes first about three times as often as one of weight 1.
      let seed = 7;
      const random = () => ((seed = (seed * 16807) % 2147483647) - 1) / 2147483646;
      let firsts = 0;
      for (let i = 0; i < 4000; i++) if (orderSrvRecords(records, random)[1].name === 'low2') firsts++;
      expect(firsts / 4000).toBeGreaterThan(0.7);
      expect(firsts / 4000).toBeLessThan(0.8);
    });

    it('answers, found or not, are cached for 5 minutes; a failing DNS server gives the last answer', async () => {
      const { dns, resolver, advance } = setUp();
      dns.records.set('_matrix-fed._tcp.example.org', [srv('one.example.org', 1)]);
      await resolver.resolve('example.org');
      await resolver.resolve('plain.org');
      const asked = dns.asked.length;
      advance(SRV_CACHE_MS - 1);
      await resolver.resolve('example.org');
      await resolver.resolve('plain.org');
      expect(dns.asked.length).toBe(asked);
      advance(2);
      dns.failing.add('_matrix-fed._tcp.example.org');
      expect((await resolver.resolve('example.org')).addresses).toEqual([{ host: 'one.example.org', port: 1 }]);
      expect(dns.asked.length).toBeGreaterThan(asked);
    });
  });

  describe('caching the well-known answer', () => {
    it('a delegation is kept 24 h when the answer says nothing, then fetched again', async () => {
      const { wellKnown, resolver, advance } = setUp();
      wellKnown.answers.set('example.org', delegation('m.example.org:8448'));
      await resolver.resolve('example.org');
      advance(24 * HOUR - 1);
      await resolver.resolve('example.org');
      expect(wellKnown.fetched).toEqual(['example.org']);
      advance(1);
      wellKnown.answers.set('example.org', delegation('new.example.org:8448'));
      expect((await resolver.resolve('example.org')).hostHeader).toBe('new.example.org:8448');
      expect(wellKnown.fetched).toEqual(['example.org', 'example.org']);
    });

    it('Cache-Control max-age counts, within 5 minutes and 48 hours', async () => {
      const { wellKnown, resolver, advance } = setUp();
      wellKnown.answers.set('example.org', delegation('m.example.org:1', { cacheControl: 'public, max-age=600' }));
      await resolver.resolve('example.org');
      advance(10 * MINUTE);
      await resolver.resolve('example.org');
      expect(wellKnown.fetched).toHaveLength(2);
    });

    it('an answer without a delegation is kept an hour', async () => {
      const { wellKnown, resolver, advance } = setUp();
      await resolver.resolve('example.org');
      advance(HOUR - 1);
      await resolver.resolve('example.org');
      expect(wellKnown.fetched).toHaveLength(1);
      advance(1);
      await resolver.resolve('example.org');
      expect(wellKnown.fetched).toHaveLength(2);
    });

    it('no answer (or a 5xx) is retried after 2 minutes, doubling each time up to an hour', async () => {
      const { wellKnown, resolver, advance } = setUp();
      wellKnown.answers.set('example.org', { outcome: 'unreachable', reason: 'ETIMEDOUT' });
      await resolver.resolve('example.org');
      const retries = [2, 4, 8, 16, 32, 60, 60].map((minutes) => minutes * MINUTE);
      for (const [i, retry] of retries.entries()) {
        advance(retry - 1);
        await resolver.resolve('example.org');
        expect(wellKnown.fetched).toHaveLength(i + 1);
        advance(1);
        if (i === 2) wellKnown.answers.set('example.org', { outcome: 'answered', status: 502, body: 'Bad gateway' });
        await resolver.resolve('example.org');
        expect(wellKnown.fetched).toHaveLength(i + 2);
      }
    });

    it('a delegation that expired less than 24 h before is still used while the well-known cannot be fetched', async () => {
      const { wellKnown, resolver, advance } = setUp();
      wellKnown.answers.set('example.org', delegation('m.example.org:8448', { cacheControl: 'max-age=3600' }));
      await resolver.resolve('example.org');
      wellKnown.answers.set('example.org', { outcome: 'unreachable', reason: 'ECONNREFUSED' });
      advance(HOUR);
      expect((await resolver.resolve('example.org')).hostHeader).toBe('m.example.org:8448');
      advance(23 * HOUR);
      expect((await resolver.resolve('example.org')).hostHeader).toBe('m.example.org:8448');
      advance(HOUR);
      // 24 h past its expiry: the server's own name.
      expect((await resolver.resolve('example.org')).hostHeader).toBe('example.org');
      // An answer that says there is no delegation ends it at once.
      const other = setUp();
      other.wellKnown.answers.set('example.org', delegation('m.example.org:8448', { cacheControl: 'max-age=3600' }));
      await other.resolver.resolve('example.org');
      other.wellKnown.answers.set('example.org', { outcome: 'answered', status: 404, body: '' });
      other.advance(HOUR);
      expect((await other.resolver.resolve('example.org')).hostHeader).toBe('example.org');
    });

    it('concurrent resolutions of one name share one fetch', async () => {
      const { wellKnown, resolver } = setUp();
      wellKnown.answers.set('example.org', delegation('m.example.org:8448'));
      const all = await Promise.all([resolver.resolve('example.org'), resolver.resolve('example.org'), resolver.resolve('example.org')]);
      expect(new Set(all.map((resolved) => resolved.hostHeader))).toEqual(new Set(['m.example.org:8448']));
      expect(wellKnown.fetched).toEqual(['example.org']);
    });
  });

  describe('reading the answer', () => {
    it('parses the body, whatever its type', () => {
      expect(parseWellKnownBody('{"m.server": "delegated.example.com:1234"}')).toEqual({ server: 'delegated.example.com:1234' });
      expect(parseWellKnownBody('{"m.server": "[::1]:8448", "other": 1}')).toEqual({ server: '[::1]:8448' });
      expect(parseWellKnownBody('null')).toEqual({ invalid: expect.any(String) });
      expect(parseWellKnownBody('{"m.server": "a b"}')).toEqual({ invalid: expect.stringMatching(/not a valid server name/) });
    });

    it.each<[string, { cacheControl?: string; expires?: string; date?: string }, number]>([
      ['nothing', {}, 24 * HOUR],
      ['max-age', { cacheControl: 'max-age=7200' }, 2 * HOUR],
      ['max-age among other directives, any case', { cacheControl: 'public, Max-Age=7200, must-revalidate' }, 2 * HOUR],
      ['a max-age below 5 minutes', { cacheControl: 'max-age=10' }, 5 * MINUTE],
      ['a max-age above 48 hours', { cacheControl: 'max-age=999999999' }, 48 * HOUR],
      ['no-store', { cacheControl: 'no-store' }, 5 * MINUTE],
      ['no-cache with a max-age', { cacheControl: 'max-age=7200, no-cache' }, 5 * MINUTE],
      ['Expires and Date', { expires: 'Thu, 01 Jan 2026 03:00:00 GMT', date: 'Thu, 01 Jan 2026 00:00:00 GMT' }, 3 * HOUR],
      ['an invalid Expires', { expires: '0' }, 5 * MINUTE],
      ['max-age over Expires', { cacheControl: 'max-age=3600', expires: 'Thu, 01 Jan 2026 03:00:00 GMT', date: 'Thu, 01 Jan 2026 00:00:00 GMT' }, HOUR],
    ])('keeps a delegation for: %s', (_name, headers, expected) => {
      expect(wellKnownCacheMs(headers, Date.parse('Thu, 01 Jan 2026 00:00:00 GMT'))).toBe(expected);
    });
  });
});
