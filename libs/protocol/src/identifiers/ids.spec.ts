import fc from 'fast-check';
import { InvalidIdentifierError } from './errors';
import {
  isValidDeviceId,
  isValidEventId,
  isValidOpaqueId,
  isValidRoomAlias,
  isValidRoomId,
  isValidStrictUserId,
  isValidUserId,
  parseDeviceId,
  parseEventId,
  parseRoomAlias,
  parseRoomId,
  parseUserId,
  serverNameOf,
} from './ids';

const localpartChar = fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz0123456789._=-/+'.split(''));
const compliantLocalpart = fc.array(localpartChar, { minLength: 1, maxLength: 40 }).map((a) => a.join(''));
const serverName = fc.oneof(
  fc.stringMatching(/^[a-z0-9-]{1,20}(\.[a-z0-9-]{1,20}){0,3}$/),
  fc.tuple(fc.stringMatching(/^[a-z]{1,10}\.[a-z]{2,5}$/), fc.integer({ min: 1, max: 65535 })).map(([h, p]) => `${h}:${p}`),
  fc.ipV4(),
  fc.ipV6().map((v6) => `[${v6}]`),
);
/** Historical localparts: any scalar values except ":" and NUL, possibly empty. */
const historicalLocalpart = fc.string({ unit: 'binary', maxLength: 20 }).map((s) => s.split(':').join('').split(String.fromCharCode(0)).join(''));

describe('user ids', () => {
  it('parses the parts', () => {
    expect(parseUserId('@alice:example.org:8448')).toEqual({ value: '@alice:example.org:8448', localpart: 'alice', serverName: 'example.org:8448', historical: false });
    expect(parseUserId('@a=b/c+d:[::1]').serverName).toBe('[::1]');
    expect(serverNameOf('@alice:example.org:8448')).toBe('example.org:8448');
    expect(serverNameOf('alice')).toBeUndefined();
  });

  it('accepts historical localparts, but not in strict mode', () => {
    for (const id of ['@Alice:example.org', '@:example.org', '@a b\u0001é\u{1F600}:example.org', '@!"#$%:example.org']) {
      expect(parseUserId(id).historical).toBe(true);
      expect(isValidUserId(id)).toBe(true);
      expect(isValidStrictUserId(id)).toBe(false);
      expect(() => parseUserId(id, { strict: true })).toThrow(InvalidIdentifierError);
    }
  });

  it.each([
    ['alice:example.org', 'must start with "@"'],
    ['@alice', 'no ":"'],
    ['@alice:', 'server name'],
    ['@alice:exa_mple.org', 'server name'],
    ['@al\u0000ice:example.org', 'NUL'],
    ['@al\uD800ice:example.org', 'surrogate'],
  ])('refuses %j (%s)', (id, reason) => {
    expect(() => parseUserId(id)).toThrow(expect.objectContaining({ kind: 'user_id', reason: expect.stringContaining(reason) }));
    expect(isValidUserId(id)).toBe(false);
  });

  it('enforces the 255-byte limit in bytes, not characters', () => {
    const server = 'example.org';
    const fits = `@${'a'.repeat(255 - 2 - server.length)}:${server}`;
    expect(fits).toHaveLength(255);
    expect(isValidUserId(fits)).toBe(true);
    expect(isValidUserId(`@a${fits.slice(1)}`)).toBe(false);
    // 'é' is two bytes of UTF-8
    const multibyte = `@${'é'.repeat(122)}:${server}`;
    expect(multibyte.length).toBeLessThan(255);
    expect(() => parseUserId(multibyte)).toThrow(expect.objectContaining({ reason: expect.stringContaining('255 bytes') }));
    expect(isValidUserId(42)).toBe(false);
  });

  it('accepts every id of the current grammar (property)', () => {
    fc.assert(
      fc.property(compliantLocalpart, serverName, (localpart, server) => {
        const id = `@${localpart}:${server}`;
        fc.pre(Buffer.byteLength(id) <= 255);
        expect(parseUserId(id, { strict: true })).toEqual({ value: id, localpart, serverName: server, historical: false });
      }),
    );
  });

  it('accepts every historical id and flags it (property)', () => {
    fc.assert(
      fc.property(historicalLocalpart, serverName, (localpart, server) => {
        const id = `@${localpart}:${server}`;
        fc.pre(Buffer.byteLength(id) <= 255);
        const parsed = parseUserId(id);
        expect(parsed.localpart).toBe(localpart);
        expect(parsed.serverName).toBe(server);
        expect(parsed.historical).toBe(!/^[a-z0-9._=\-/+]+$/.test(localpart));
      }),
    );
  });

  it('refuses localparts with a character outside the grammar in strict mode (property)', () => {
    const bad = fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }).filter((c) => !/^[a-z0-9._=\-/+:]$/.test(c));
    fc.assert(
      fc.property(compliantLocalpart, bad, compliantLocalpart, (a, c, b) => {
        expect(isValidStrictUserId(`@${a}${c}${b}:example.org`)).toBe(false);
      }),
    );
  });
});

describe('room ids', () => {
  const hash = 'a'.repeat(20) + '-_' + 'B'.repeat(21);

  it('parses both forms', () => {
    expect(parseRoomId('!abc:example.org')).toEqual({ value: '!abc:example.org', form: 'server', localpart: 'abc', serverName: 'example.org' });
    expect(parseRoomId(`!${hash}`)).toEqual({ value: `!${hash}`, form: 'create-event-hash', hash });
    expect(parseRoomId(`!${hash}`, { form: 'create-event-hash' }).form).toBe('create-event-hash');
  });

  it.each([
    ['abc:example.org'],
    ['!abc'],
    [`!${hash}x`],
    [`!${hash.replace('-', '+')}`],
    ['!a\u0000b:example.org'],
    ['!abc:bad_server'],
    [`!${'x'.repeat(250)}:example.org`],
  ])('refuses %j', (id) => {
    expect(() => parseRoomId(id)).toThrow(InvalidIdentifierError);
    expect(isValidRoomId(id)).toBe(false);
  });

  it('enforces the form a room version asks for', () => {
    expect(() => parseRoomId('!abc:example.org', { form: 'create-event-hash' })).toThrow(InvalidIdentifierError);
    expect(() => parseRoomId(`!${hash}`, { form: 'server' })).toThrow(InvalidIdentifierError);
  });

  it('accepts every `!opaque:server` id (property)', () => {
    fc.assert(
      fc.property(historicalLocalpart, serverName, (localpart, server) => {
        const id = `!${localpart}:${server}`;
        fc.pre(Buffer.byteLength(id) <= 255);
        expect(parseRoomId(id)).toMatchObject({ form: 'server', localpart, serverName: server });
      }),
    );
  });
});

describe('event ids', () => {
  const std = 'ab+/'.repeat(10) + 'xyz';
  const url = 'ab-_'.repeat(10) + 'xyz';
  const common = 'abcd'.repeat(10) + 'xyz';

  it('recognises each format', () => {
    expect(parseEventId('$123abc:example.org')).toMatchObject({ format: 'server-generated', localpart: '123abc', serverName: 'example.org' });
    expect(parseEventId(`$${std}`)).toMatchObject({ format: 'base64', hash: std });
    expect(parseEventId(`$${url}`)).toMatchObject({ format: 'url-safe-base64', hash: url });
    expect(parseEventId(`$${common}`).format).toBe('url-safe-base64');
    expect(parseEventId(`$${common}`, 'base64').format).toBe('base64');
  });

  it('checks the format of the room version when given', () => {
    expect(isValidEventId(`$${std}`, 'url-safe-base64')).toBe(false);
    expect(isValidEventId(`$${url}`, 'base64')).toBe(false);
    expect(isValidEventId(`$${url}`, 'server-generated')).toBe(false);
    expect(isValidEventId('$a:example.org', 'url-safe-base64')).toBe(false);
    expect(isValidEventId('$a:example.org', 'server-generated')).toBe(true);
  });

  it.each([['abc'], ['$'], ['$short'], [`$${url}=`], ['$a:'], [`$${'x'.repeat(250)}:example.org`]])('refuses %j', (id) => {
    expect(() => parseEventId(id)).toThrow(InvalidIdentifierError);
    expect(isValidEventId(id)).toBe(false);
  });

  it('accepts every URL-safe hash id (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), (bytes) => {
        const id = `$${Buffer.from(bytes).toString('base64url')}`;
        expect(isValidEventId(id, 'url-safe-base64')).toBe(true);
        const v3 = `$${Buffer.from(bytes).toString('base64').replace(/=+$/, '')}`;
        expect(isValidEventId(v3, 'base64')).toBe(true);
      }),
    );
  });
});

describe('room aliases', () => {
  it('parses and refuses', () => {
    expect(parseRoomAlias('#room:example.org')).toEqual({ value: '#room:example.org', localpart: 'room', serverName: 'example.org' });
    expect(parseRoomAlias('#Ünïcode room:example.org').localpart).toBe('Ünïcode room');
    for (const bad of ['room:example.org', '#room', '#ro\u0000om:example.org', '#room:', `#${'a'.repeat(250)}:example.org`]) {
      expect(() => parseRoomAlias(bad)).toThrow(expect.objectContaining({ kind: 'room_alias' }));
      expect(isValidRoomAlias(bad)).toBe(false);
    }
  });

  it('accepts every alias of the grammar (property)', () => {
    fc.assert(
      fc.property(historicalLocalpart, serverName, (localpart, server) => {
        const alias = `#${localpart}:${server}`;
        fc.pre(Buffer.byteLength(alias) <= 255);
        expect(parseRoomAlias(alias)).toEqual({ value: alias, localpart, serverName: server });
      }),
    );
  });
});

describe('device ids and opaque ids', () => {
  it('device ids are 1-255 bytes without control characters', () => {
    expect(parseDeviceId('ABCDEFGHIJ')).toBe('ABCDEFGHIJ');
    expect(isValidDeviceId('a'.repeat(255))).toBe(true);
    expect(isValidDeviceId('a'.repeat(256))).toBe(false);
    expect(isValidDeviceId('')).toBe(false);
    expect(isValidDeviceId('a\nb')).toBe(false);
    expect(() => parseDeviceId('')).toThrow(expect.objectContaining({ kind: 'device_id' }));
  });

  it('opaque ids follow the opaque identifier grammar', () => {
    expect(isValidOpaqueId('abc-DEF_1.2~3')).toBe(true);
    expect(isValidOpaqueId('a b')).toBe(false);
    expect(isValidOpaqueId('')).toBe(false);
    expect(isValidOpaqueId('a'.repeat(256))).toBe(false);
    expect(isValidOpaqueId('abcd', 3)).toBe(false);
  });
});
