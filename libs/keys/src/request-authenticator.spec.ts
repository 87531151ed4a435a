import { buildServerKeys, generateSigningKey, parseServerKeys, signRequest, formatXMatrixHeader, parseXMatrixHeader } from '@hs/protocol';
import pino from 'pino';
import type { KeyFetcher } from './key-fetcher';
import { KeyRing } from './key-ring';
import { MemoryKeyStore } from './key-store';
import { OurKeys } from './our-keys';
import { RequestAuthenticationError, RequestAuthenticator } from './request-authenticator';

const NOW = 5_000_000;
const remote = generateSigningKey('r');
const fetcher = {
  async fetchDirect(serverName: string) {
    if (serverName !== 'a.org') throw new Error('unreachable');
    return parseServerKeys(buildServerKeys({ serverName, signingKeys: [remote], validUntilTs: NOW + 1000 }), serverName);
  },
};
const ring = new KeyRing({
  ourKeys: new OurKeys({ serverName: 'b.org', signingKey: generateSigningKey('b'), oldKeys: new Map(), validityMs: 3_600_000, clock: () => NOW }),
  store: new MemoryKeyStore(),
  fetcher: fetcher as unknown as KeyFetcher,
  notaries: [],
  clock: () => NOW,
  logger: pino({ level: 'silent' }),
});
const authenticator = new RequestAuthenticator(ring, () => NOW);
const request = { method: 'PUT', uri: '/_matrix/federation/v1/send/t1?a=b', content: { pdus: [] } };
const header = signRequest({ ...request, origin: 'a.org', destination: 'b.org' }, remote);

async function refusal(authorization: string | string[] | undefined, changes: Partial<typeof request> = {}): Promise<string> {
  try {
    await authenticator.authenticate({ ...request, ...changes, authorization });
  } catch (error) {
    expect(error).toBeInstanceOf(RequestAuthenticationError);
    return (error as RequestAuthenticationError).reason;
  }
  throw new Error('expected a refusal');
}

describe('inbound request authentication', () => {
  it('accepts a request signed by its origin for this server, fetching the key once', async () => {
    expect(await authenticator.authenticate({ ...request, authorization: header })).toMatchObject({ origin: 'a.org', destination: 'b.org', key: 'ed25519:r' });
  });

  it('accepts a header without destination (older servers) signed without one', async () => {
    const { sig } = parseXMatrixHeader(signRequest({ ...request, origin: 'a.org', destination: undefined as unknown as string }, remote));
    const old = formatXMatrixHeader({ origin: 'a.org', key: 'ed25519:r', sig });
    expect((await authenticator.authenticate({ ...request, authorization: old })).origin).toBe('a.org');
  });

  it('tells its listeners the origin of each request that authenticates, and of no other', async () => {
    const origins: string[] = [];
    const remove = authenticator.onAuthenticated((origin) => origins.push(origin));
    const failing = authenticator.onAuthenticated(() => {
      throw new Error('a listener that fails');
    });
    await authenticator.authenticate({ ...request, authorization: header });
    await refusal(header.replace(/sig="[^"]+"/, `sig="${'A'.repeat(86)}"`));
    remove();
    failing();
    await authenticator.authenticate({ ...request, authorization: header });
    expect(origins).toEqual(['a.org']);
  });

  it('takes the first X-Matrix header that checks out', async () => {
    const forged = header.replace(/sig="[^"]+"/, `sig="${'A'.repeat(86)}"`);
    expect((await authenticator.authenticate({ ...request, authorization: ['Bearer x', forged, header] })).origin).toBe('a.org');
  });

  it.each<[string, string | string[] | undefined, Partial<typeof request>, RegExp]>([
    ['no header', undefined, {}, /no X-Matrix/],
    ['another scheme', 'Bearer abc', {}, /no X-Matrix/],
    ['a malformed header', 'X-Matrix origin=', {}, /empty value/],
    ['another destination', signRequest({ ...request, origin: 'a.org', destination: 'c.org' }, remote), {}, /for c\.org, not this server/],
    ['an unknown key', header.replace('ed25519:r', 'ed25519:nope'), {}, /no valid key ed25519:nope of a\.org/],
    ['an unreachable origin', header.replace('origin="a.org"', 'origin="z.org"'), {}, /no valid key ed25519:r of z\.org/],
    ['another body', header, { content: { pdus: [1] } } as Partial<typeof request>, /does not verify/],
    ['another uri', header, { uri: '/_matrix/federation/v1/send/t2' }, /does not verify/],
    ['another method', header, { method: 'POST' }, /does not verify/],
    ['a forged signature', header.replace(/sig="[^"]+"/, `sig="${'A'.repeat(86)}"`), {}, /does not verify/],
  ])('refuses %s', async (_name, authorization, changes, expected) => {
    expect(await refusal(authorization, changes)).toMatch(expected);
  });
});
