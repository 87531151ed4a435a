import fc from 'fast-check';
import { specVectors } from '../../test-fixtures';
import {
  canonicalJson,
  canonicalJsonBytes,
  CanonicalJsonError,
  compareByCodePoint,
  findNonCanonicalNumber,
  MAX_CANONICAL_JSON_DEPTH,
} from './canonical-json';

describe('canonical JSON', () => {
  const cases = specVectors('canonical_json');

  it('has the spec vectors', () => {
    expect(cases.length).toBe(10);
  });

  it.each(cases.map((c) => [c.name, c.input as string, c.expected as string]))('%s', (_name, input, expected) => {
    const value: unknown = JSON.parse(input);
    expect(canonicalJsonBytes(value)).toEqual(Buffer.from(expected, 'utf8'));
    expect(canonicalJson(value, { strict: true })).toBe(expected);
  });

  it('escapes only what the grammar requires', () => {
    expect(canonicalJson({ a: '\u0000\u0001\u001f\b\t\n\f\r"\\/\u007f\u2028é' })).toBe(
      '{"a":"\\u0000\\u0001\\u001f\\b\\t\\n\\f\\r\\"\\\\/\u007f\u2028é"}',
    );
  });

  it('sorts keys by code point, not by UTF-16 code unit', () => {
    // U+FF61 is one UTF-16 unit (0xFF61); U+1F600 is a surrogate pair starting 0xD83D.
    // By code unit the emoji sorts first; by code point it sorts last.
    const value = { '\u{1F600}': 1, '\uFF61': 2, a: 3 };
    expect(canonicalJson(value)).toBe('{"a":3,"\uFF61":2,"\u{1F600}":1}');
    expect(compareByCodePoint('\u{1F600}', '\uFF61')).toBeGreaterThan(0);
    expect(compareByCodePoint('ab', 'a')).toBeGreaterThan(0);
  });

  it('skips undefined object members and refuses values JSON cannot carry', () => {
    expect(canonicalJson({ a: undefined, b: 1 })).toBe('{"b":1}');
    expect(() => canonicalJson([undefined])).toThrow(CanonicalJsonError);
    expect(() => canonicalJson({ f: () => 1 })).toThrow(CanonicalJsonError);
    expect(() => canonicalJson({ n: NaN })).toThrow(expect.objectContaining({ code: 'not_finite', path: 'n' }));
    expect(() => canonicalJson({ n: Infinity })).toThrow(CanonicalJsonError);
    expect(() => canonicalJson(new Uint8Array(2))).toThrow(CanonicalJsonError);
  });

  describe('nesting depth', () => {
    /** `depth` arrays inside each other, the innermost holding `inner`. */
    function nested(depth: number, inner: unknown = 1): unknown {
      let value: unknown = inner;
      for (let i = 0; i < depth; i++) value = i % 2 === 0 ? [value] : { k: value };
      return value;
    }

    it('encodes values nested up to the limit', () => {
      const text = canonicalJson(nested(MAX_CANONICAL_JSON_DEPTH));
      expect(JSON.parse(text)).toEqual(nested(MAX_CANONICAL_JSON_DEPTH));
      expect(findNonCanonicalNumber(nested(MAX_CANONICAL_JSON_DEPTH))).toBeUndefined();
    });

    it('refuses one level more with a typed error, not a stack overflow', () => {
      expect(() => canonicalJson(nested(MAX_CANONICAL_JSON_DEPTH + 1))).toThrow(expect.objectContaining({ name: 'CanonicalJsonError', code: 'too_deep' }));
      expect(findNonCanonicalNumber(nested(MAX_CANONICAL_JSON_DEPTH + 1))?.code).toBe('too_deep');
      // Scalars at the deepest level do not count as a level.
      expect(() => canonicalJson(nested(MAX_CANONICAL_JSON_DEPTH, 'leaf'))).not.toThrow();
    });

    it('refuses nesting far beyond the call stack (100,000 levels) with the same typed error', () => {
      const deep = JSON.parse(`${'['.repeat(100_000)}${']'.repeat(100_000)}`) as unknown;
      expect(() => canonicalJson(deep)).toThrow(CanonicalJsonError);
      expect(() => canonicalJsonBytes({ content: deep }, { strict: true })).toThrow(expect.objectContaining({ code: 'too_deep' }));
      expect(findNonCanonicalNumber(deep)?.code).toBe('too_deep');
    });
  });

  describe('number rules', () => {
    it('strict mode refuses floats and integers outside the safe range', () => {
      expect(() => canonicalJson({ a: 1.5 }, { strict: true })).toThrow(expect.objectContaining({ code: 'float', path: 'a' }));
      expect(() => canonicalJson({ a: [2 ** 53] }, { strict: true })).toThrow(
        expect.objectContaining({ code: 'integer_out_of_range', path: 'a[0]' }),
      );
      expect(() => canonicalJson(-(2 ** 53), { strict: true })).toThrow(CanonicalJsonError);
      expect(canonicalJson(2 ** 53 - 1, { strict: true })).toBe('9007199254740991');
      expect(canonicalJson(-(2 ** 53) + 1, { strict: true })).toBe('-9007199254740991');
    });

    it('lenient mode (room versions 1-5) encodes them without exponents', () => {
      expect(canonicalJson({ a: 1.5 })).toBe('{"a":1.5}');
      expect(canonicalJson(1e21)).toBe('1000000000000000000000');
      expect(canonicalJson(2 ** 53)).toBe('9007199254740992');
      expect(canonicalJson(-0)).toBe('0');
    });

    it('findNonCanonicalNumber points at the first offending number', () => {
      expect(findNonCanonicalNumber({ a: [1, { b: 0.5 }] })?.path).toBe('a[1].b');
      expect(findNonCanonicalNumber({ a: [1, 2, { b: 'x' }] })).toBeUndefined();
    });
  });

  it('round-trips through JSON.parse and is idempotent (property)', () => {
    const json = fc.letrec((tie) => ({
      value: fc.oneof(
        { depthSize: 'small' },
        fc.constant(null),
        fc.boolean(),
        fc.integer({ min: Number.MIN_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER }),
        fc.string({ unit: 'grapheme' }),
        fc.string({ unit: 'binary' }),
        fc.array(tie('value'), { maxLength: 4 }),
        fc.dictionary(fc.string({ unit: 'binary' }), tie('value'), { maxKeys: 4 }),
      ),
    })).value;
    fc.assert(
      fc.property(json, (value) => {
        const text = canonicalJson(value, { strict: true });
        const reparsed: unknown = JSON.parse(text);
        expect(reparsed).toEqual(value);
        expect(canonicalJson(reparsed, { strict: true })).toBe(text);
        expect(text).not.toMatch(/^\s|\s$/);
      }),
    );
  });

  it('orders keys the same way as sorting code point arrays (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.string({ unit: 'binary' }), { maxLength: 8 }), (keys) => {
        const sorted = [...new Set(keys)].sort(compareByCodePoint);
        const byCodePoints = [...new Set(keys)].sort((a, b) => {
          const x = [...a].map((c) => c.codePointAt(0) ?? 0);
          const y = [...b].map((c) => c.codePointAt(0) ?? 0);
          for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i] - y[i];
          return x.length - y.length;
        });
        expect(sorted).toEqual(byCodePoints);
      }),
    );
  });
});
