/**
 * Canonical JSON (appendices.md "Signing JSON > Canonical JSON"): the shortest UTF-8 JSON
 * encoding with object keys sorted by Unicode code point, no insignificant whitespace,
 * integers without exponent or fraction, and no negative zero.
 *
 * Room versions 6+ enforce the number rules strictly (floats and integers outside
 * [-(2^53)+1, 2^53-1] are refused); earlier versions must tolerate them, so the
 * non-strict mode encodes such numbers in their shortest plain form instead of failing.
 */

export const MAX_SAFE_CANONICAL_INTEGER = Number.MAX_SAFE_INTEGER; // 2^53 - 1
export const MIN_SAFE_CANONICAL_INTEGER = -Number.MAX_SAFE_INTEGER; // -(2^53) + 1

/**
 * The deepest nesting of arrays and objects the encoder takes (a top-level object or array is
 * depth 1). The spec's canonical JSON has no limit, but nothing legitimate nests anywhere near
 * this deep, and the limit keeps the recursive encoder far from the end of the call stack.
 */
export const MAX_CANONICAL_JSON_DEPTH = 512;

export type CanonicalJsonErrorCode = 'float' | 'integer_out_of_range' | 'not_finite' | 'unsupported_type' | 'too_deep';

export class CanonicalJsonError extends Error {
  constructor(
    readonly code: CanonicalJsonErrorCode,
    readonly path: string,
    detail: string,
  ) {
    super(`Not canonical JSON at ${path || '<root>'}: ${detail}`);
    this.name = 'CanonicalJsonError';
  }
}

export interface CanonicalJsonOptions {
  /** Refuse floats and integers outside the interoperable range (room versions 6 and later). */
  readonly strict?: boolean;
}

const SURROGATE_OR_PRIVATE = /[\uD800-\uFFFF]/;

/**
 * Orders two strings by Unicode code point. JavaScript's default order compares UTF-16 code
 * units, which differs from code-point order only when a surrogate pair (U+10000 and above)
 * meets a code unit in U+E000-U+FFFF.
 */
export function compareByCodePoint(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return codePointRank(x) - codePointRank(y);
  }
  return a.length - b.length;
}

function codePointRank(unit: number): number {
  if (unit >= 0xd800 && unit <= 0xdfff) return unit + 0x2000; // surrogates sort after the BMP
  if (unit >= 0xe000) return unit - 0x800;
  return unit;
}

function sortedKeys(obj: object): string[] {
  const keys = Object.keys(obj).sort();
  for (const k of keys) {
    if (SURROGATE_OR_PRIVATE.test(k)) return keys.sort(compareByCodePoint);
  }
  return keys;
}

function encodeNumber(n: number, strict: boolean, path: string): string {
  if (!Number.isFinite(n)) throw new CanonicalJsonError('not_finite', path, `${n} is not a JSON number`);
  if (Number.isInteger(n)) {
    if (n > MAX_SAFE_CANONICAL_INTEGER || n < MIN_SAFE_CANONICAL_INTEGER) {
      if (strict) throw new CanonicalJsonError('integer_out_of_range', path, `${n} is outside [-(2^53)+1, 2^53-1]`);
      // Written out in full: JSON.stringify would use an exponent from 1e21 upward.
      return BigInt(n).toString();
    }
    return n === 0 ? '0' : String(n);
  }
  if (strict) throw new CanonicalJsonError('float', path, `${n} is not an integer`);
  return JSON.stringify(n);
}

function tooDeep(path: string): CanonicalJsonError {
  return new CanonicalJsonError('too_deep', path, `arrays and objects nest more than ${MAX_CANONICAL_JSON_DEPTH} levels deep`);
}

/** `depth` is the number of arrays and objects around `value`. */
function encode(value: unknown, strict: boolean, path: string, out: string[], depth: number): void {
  switch (typeof value) {
    case 'string':
      out.push(JSON.stringify(value));
      return;
    case 'number':
      out.push(encodeNumber(value, strict, path));
      return;
    case 'boolean':
      out.push(value ? 'true' : 'false');
      return;
    case 'object': {
      if (value === null) {
        out.push('null');
        return;
      }
      if (depth >= MAX_CANONICAL_JSON_DEPTH) throw tooDeep(path);
      if (Array.isArray(value)) {
        out.push('[');
        for (let i = 0; i < value.length; i++) {
          if (i > 0) out.push(',');
          const item: unknown = value[i];
          if (item === undefined) throw new CanonicalJsonError('unsupported_type', `${path}[${i}]`, 'undefined in an array');
          encode(item, strict, `${path}[${i}]`, out, depth + 1);
        }
        out.push(']');
        return;
      }
      if (ArrayBuffer.isView(value) || value instanceof Map || value instanceof Set || value instanceof Date) {
        throw new CanonicalJsonError('unsupported_type', path, `${value.constructor.name} is not a JSON value`);
      }
      const record = value as Record<string, unknown>;
      out.push('{');
      let first = true;
      for (const key of sortedKeys(record)) {
        const v = record[key];
        if (v === undefined) continue; // an absent optional field, as JSON.stringify treats it
        if (!first) out.push(',');
        first = false;
        out.push(JSON.stringify(key), ':');
        encode(v, strict, path ? `${path}.${key}` : key, out, depth + 1);
      }
      out.push('}');
      return;
    }
    default:
      throw new CanonicalJsonError('unsupported_type', path, `${typeof value} is not a JSON value`);
  }
}

/**
 * The canonical JSON text of `value`. Throws CanonicalJsonError for values JSON cannot carry,
 * values nested deeper than {@link MAX_CANONICAL_JSON_DEPTH} or (when strict) non-canonical
 * numbers.
 */
export function canonicalJson(value: unknown, options: CanonicalJsonOptions = {}): string {
  const out: string[] = [];
  encode(value, options.strict === true, '', out, 0);
  return out.join('');
}

/** The canonical JSON of `value` as UTF-8 bytes (what gets hashed and signed). */
export function canonicalJsonBytes(value: unknown, options: CanonicalJsonOptions = {}): Buffer {
  return Buffer.from(canonicalJson(value, options), 'utf8');
}

/** Byte length of the canonical JSON of `value`. */
export function canonicalJsonByteLength(value: unknown, options: CanonicalJsonOptions = {}): number {
  return Buffer.byteLength(canonicalJson(value, options), 'utf8');
}

/**
 * Checks that every number in `value` satisfies the strict rules (room versions 6+) without
 * encoding it. Returns the first violation (or a `too_deep` error for a value nested deeper
 * than {@link MAX_CANONICAL_JSON_DEPTH}), or undefined when the value is acceptable.
 */
export function findNonCanonicalNumber(value: unknown, path = '', depth = 0): CanonicalJsonError | undefined {
  if (typeof value === 'number') {
    try {
      encodeNumber(value, true, path);
      return undefined;
    } catch (e) {
      return e as CanonicalJsonError;
    }
  }
  if (value === null || typeof value !== 'object') return undefined;
  if (depth >= MAX_CANONICAL_JSON_DEPTH) return tooDeep(path);
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = findNonCanonicalNumber(value[i], `${path}[${i}]`, depth + 1);
      if (found) return found;
    }
    return undefined;
  }
  for (const [k, v] of Object.entries(value)) {
    const found = findNonCanonicalNumber(v, path ? `${path}.${k}` : k, depth + 1);
    if (found) return found;
  }
  return undefined;
}
