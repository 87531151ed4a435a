import fc from 'fast-check';
import { matchesGlob } from './glob';
import { isServerAllowedByAcl } from './server-acl';

/** The event schema's example content (m.room.server_acl.yaml). */
const SPEC_EXAMPLE = { allow_ip_literals: false, allow: ['*'], deny: ['*.evil.com', 'evil.com'] };

describe('glob-style matching', () => {
  it.each<[string, string, boolean]>([
    ['*', '', true],
    ['*', 'matrix.org', true],
    ['matrix.org', 'matrix.org', true],
    ['matrix.org', 'Matrix.ORG', true],
    ['matrix.org', 'matrix.org.evil', false],
    ['*.evil.com', 'a.evil.com', true],
    ['*.evil.com', 'a.b.evil.com', true],
    ['*.evil.com', 'evil.com', false],
    ['*.evil.com', 'notevil.com', false],
    ['?.org', 'a.org', true],
    ['?.org', 'ab.org', false],
    ['?.org', '.org', false],
    ['a*b*c', 'abc', true],
    ['a*b*c', 'aXbYbZc', true],
    ['a*b*c', 'aXbYcZ', false],
    ['*a', 'aaab', false],
    ['**', 'x', true],
    ['a.org', 'aXorg', false],
  ])('%j against %j: %s', (pattern, text, expected) => {
    expect(matchesGlob(pattern, text)).toBe(expected);
  });

  it('agrees with a regular expression translation on arbitrary patterns and names', () => {
    const chars = fc.constantFrom('a', 'b', '.', '*', '?');
    const reference = (pattern: string, text: string) =>
      new RegExp(`^${[...pattern].map((c) => (c === '*' ? '.*' : c === '?' ? '.' : c.replace('.', '\\.'))).join('')}$`, 'is').test(text);
    fc.assert(
      fc.property(fc.string({ unit: chars, maxLength: 8 }), fc.string({ unit: fc.constantFrom('a', 'b', '.', 'A'), maxLength: 10 }), (pattern, text) => {
        expect(matchesGlob(pattern, text)).toBe(reference(pattern, text));
      }),
    );
  });

  it('does not backtrack exponentially on hostile patterns', () => {
    const pattern = `${'*a'.repeat(40)}*b`;
    expect(matchesGlob(pattern, 'a'.repeat(255))).toBe(false);
  });
});

describe('server ACLs (m.room.server_acl)', () => {
  it('the spec example: everyone but evil.com, its subdomains and IP literals', () => {
    expect(isServerAllowedByAcl(SPEC_EXAMPLE, 'matrix.org')).toBe(true);
    expect(isServerAllowedByAcl(SPEC_EXAMPLE, 'good.example:8448')).toBe(true);
    for (const evil of ['evil.com', 'evil.com:8448', 'evil.com:1234', 'EVIL.com', 'a.evil.com', 'a.b.evil.com:443']) {
      expect(isServerAllowedByAcl(SPEC_EXAMPLE, evil)).toBe(false);
    }
    for (const ip of ['1.2.3.4', '1.2.3.4:8448', '[::1]', '[2001:db8::1]:8448']) expect(isServerAllowedByAcl(SPEC_EXAMPLE, ip)).toBe(false);
  });

  it('no ACL event allows every server; content that is not an object cannot be an ACL', () => {
    for (const content of [undefined, null, 'deny', 42, ['*']]) expect(isServerAllowedByAcl(content, 'evil.com')).toBe(true);
  });

  it('a missing or empty allow list denies every server (the spec warning)', () => {
    expect(isServerAllowedByAcl({}, 'matrix.org')).toBe(false);
    expect(isServerAllowedByAcl({ deny: ['evil.com'] }, 'matrix.org')).toBe(false);
    expect(isServerAllowedByAcl({ allow: [] }, 'matrix.org')).toBe(false);
    expect(isServerAllowedByAcl({ allow: '*' }, 'matrix.org')).toBe(false);
  });

  it('deny takes precedence over allow', () => {
    expect(isServerAllowedByAcl({ allow: ['evil.com'], deny: ['evil.com'] }, 'evil.com')).toBe(false);
    expect(isServerAllowedByAcl({ allow: ['*'], deny: ['*'] }, 'matrix.org')).toBe(false);
  });

  it('matches the host without its port, case-insensitively, with * and ?', () => {
    const acl = { allow: ['matrix.org', 's?.example.*'] };
    expect(isServerAllowedByAcl(acl, 'matrix.org:8448')).toBe(true);
    expect(isServerAllowedByAcl(acl, 'MATRIX.org')).toBe(true);
    expect(isServerAllowedByAcl(acl, 's1.example.net:1')).toBe(true);
    expect(isServerAllowedByAcl(acl, 's12.example.net')).toBe(false);
    expect(isServerAllowedByAcl(acl, 'matrix.org.evil')).toBe(false);
    // An entry naming a port never matches: ports are not considered.
    expect(isServerAllowedByAcl({ allow: ['matrix.org:8448'] }, 'matrix.org:8448')).toBe(false);
  });

  it('allow_ip_literals defaults to true, also when it is not a boolean; IP literals match globs like names', () => {
    expect(isServerAllowedByAcl({ allow: ['*'] }, '1.2.3.4')).toBe(true);
    expect(isServerAllowedByAcl({ allow: ['*'], allow_ip_literals: 'false' }, '1.2.3.4:8448')).toBe(true);
    expect(isServerAllowedByAcl({ allow: ['*'], allow_ip_literals: true }, '[::1]:8448')).toBe(true);
    expect(isServerAllowedByAcl({ allow: ['*'], allow_ip_literals: false }, '[::1]:8448')).toBe(false);
    expect(isServerAllowedByAcl({ allow: ['1.2.3.*'] }, '1.2.3.4:8448')).toBe(true);
    expect(isServerAllowedByAcl({ allow: ['[::1]'] }, '[::1]:8448')).toBe(true);
    // A DNS name that looks numeric is not an IP literal.
    expect(isServerAllowedByAcl({ allow: ['*'], allow_ip_literals: false }, '1.2.3.4.example')).toBe(true);
  });

  it('ignores entries that are not strings, and a deny that is not a list', () => {
    expect(isServerAllowedByAcl({ allow: [42, null, { x: 1 }, 'matrix.org'], deny: [7, ['matrix.org']] }, 'matrix.org')).toBe(true);
    expect(isServerAllowedByAcl({ allow: [42] }, 'matrix.org')).toBe(false);
    expect(isServerAllowedByAcl({ allow: ['*'], deny: 'matrix.org' }, 'matrix.org')).toBe(true);
  });
});
