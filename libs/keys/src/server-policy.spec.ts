import { FederationServerPolicy } from './server-policy';

describe('the federation allow and deny lists', () => {
  it('allows every server when both lists are empty', () => {
    for (const name of ['example.org', '127.0.0.1:8448', '[::1]', 'localhost:1']) expect(FederationServerPolicy.OPEN.allows(name)).toBe(true);
  });

  it('a denied entry matches the whole name or the host without port, with globs, case-insensitively', () => {
    const policy = new FederationServerPolicy({ allowed: [], denied: ['evil.org', '*.evil.org', 'localhost:8449', '10.0.0.?', '[::1]'] });
    for (const name of ['evil.org', 'evil.org:8448', 'EVIL.org', 'a.b.evil.org:1', 'localhost:8449', '10.0.0.7:8448', '[::1]:8448']) {
      expect(policy.allows(name)).toBe(false);
    }
    for (const name of ['notevil.org', 'evil.org.example', 'localhost', 'localhost:8448', '10.0.0.17', '[::2]']) expect(policy.allows(name)).toBe(true);
  });

  it('a non-empty allowed list admits only the servers it matches', () => {
    const policy = new FederationServerPolicy({ allowed: ['example.org', '127.0.0.1:*'], denied: [] });
    expect(policy.allows('example.org')).toBe(true);
    expect(policy.allows('example.org:8448')).toBe(true);
    expect(policy.allows('127.0.0.1:8448')).toBe(true);
    expect(policy.allows('127.0.0.1')).toBe(false);
    expect(policy.allows('other.org')).toBe(false);
    expect(policy.allows('sub.example.org')).toBe(false);
  });

  it('denied entries take precedence over allowed ones', () => {
    const policy = new FederationServerPolicy({ allowed: ['*'], denied: ['localhost:*'] });
    expect(policy.allows('localhost:8448')).toBe(false);
    expect(policy.allows('localhost')).toBe(true);
    expect(policy.allows('127.0.0.1:8448')).toBe(true);
  });
});
