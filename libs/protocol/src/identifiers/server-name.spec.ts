import fc from 'fast-check';
import { InvalidIdentifierError } from './errors';
import { isIpv6Literal, isValidServerName, parseServerName } from './server-name';

describe('server names', () => {
  it.each([
    ['matrix.org', 'matrix.org', 'dns', undefined],
    ['matrix.org:8888', 'matrix.org', 'dns', 8888],
    ['1.2.3.4', '1.2.3.4', 'ipv4', undefined],
    ['1.2.3.4:1234', '1.2.3.4', 'ipv4', 1234],
    ['[1234:5678::abcd]', '[1234:5678::abcd]', 'ipv6', undefined],
    ['[1234:5678::abcd]:5678', '[1234:5678::abcd]', 'ipv6', 5678],
    ['[::1]:65535', '[::1]', 'ipv6', 65535],
    ['[::ffff:1.2.3.4]', '[::ffff:1.2.3.4]', 'ipv6', undefined],
    ['localhost', 'localhost', 'dns', undefined],
    ['MATRIX.ORG', 'MATRIX.ORG', 'dns', undefined],
  ])('accepts %s', (value, host, kind, port) => {
    const parsed = parseServerName(value);
    expect(parsed.host).toBe(host);
    expect(parsed.hostKind).toBe(kind);
    expect(parsed.port).toBe(port);
  });

  it.each([
    ['', 'empty host'],
    [':80', 'empty host'],
    ['matrix.org:', 'port'],
    ['matrix.org:0', '1-65535'],
    ['matrix.org:65536', '1-65535'],
    ['matrix.org:123456', 'port'],
    ['matrix.org:8a', 'port'],
    ['matrix.org:80:80', 'port'],
    ['ex_ample.org', 'characters'],
    ['exämple.org', 'characters'],
    ['1.2.3.256', 'above 255'],
    ['[1234:5678::abcd', 'closing'],
    ['[12345::]', 'IPv6'],
    ['[1::2::3]', 'IPv6'],
    ['[1:2:3:4:5:6:7]', 'IPv6'],
    ['[1:2:3:4:5:6:7:8:9]', 'IPv6'],
    ['[g::1]', 'IPv6'],
    ['[::1]x', 'port'],
    ['a'.repeat(256), 'characters'],
  ])('refuses %j (%s)', (value, reason) => {
    expect(() => parseServerName(value)).toThrow(InvalidIdentifierError);
    expect(() => parseServerName(value)).toThrow(expect.objectContaining({ kind: 'server_name', reason: expect.stringContaining(reason) }));
    expect(isValidServerName(value)).toBe(false);
  });

  it('accepts the full IPv6 forms', () => {
    expect(isIpv6Literal('1:2:3:4:5:6:7:8')).toBe(true);
    expect(isIpv6Literal('1:2:3:4:5:6:1.2.3.4')).toBe(true);
    expect(isIpv6Literal('::')).toBe(true);
    expect(isIpv6Literal('1:2:3:4:5:6:7::')).toBe(true);
    expect(isIpv6Literal('1:2:3:4:5:6:7:1.2.3.4')).toBe(false);
  });

  it('accepts every DNS name and port of the grammar (property)', () => {
    const dns = fc.stringMatching(/^[A-Za-z0-9.-]{1,255}$/).filter((s) => !/^\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(s));
    fc.assert(
      fc.property(dns, fc.option(fc.integer({ min: 1, max: 65535 }), { nil: undefined }), (host, port) => {
        const value = port === undefined ? host : `${host}:${port}`;
        const parsed = parseServerName(value);
        expect(parsed).toEqual(port === undefined ? { value, host, hostKind: 'dns' } : { value, host, hostKind: 'dns', port });
      }),
    );
  });

  it('accepts every IPv4 and IPv6 address node formats (property)', () => {
    fc.assert(
      fc.property(fc.ipV4(), fc.ipV6(), (v4, v6) => {
        expect(parseServerName(v4).hostKind).toBe('ipv4');
        expect(parseServerName(`[${v6}]:8448`)).toMatchObject({ hostKind: 'ipv6', port: 8448 });
      }),
    );
  });
});
