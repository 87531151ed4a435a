/**
 * User identifier rules (spec appendices, "User Identifiers") and the random identifiers the
 * accounts layer hands out (device ids, session ids, nonces, access tokens).
 */
import { randomBytes } from 'node:crypto';
import { AccountsError } from './errors';

/** A full user id may be at most 255 bytes long, sigil and domain included. */
export const MAX_USER_ID_BYTES = 255;

/** The characters of a localpart of a new user id: a-z 0-9 . _ = - / + */
const LOCALPART_PATTERN = /^[a-z0-9._=\-/+]+$/;

/**
 * The case folding of user ids: ASCII A-Z to a-z and nothing else, so that a character such
 * as U+212A KELVIN SIGN stays what it is (and is refused) instead of becoming `k`.
 */
export function foldAsciiCase(text: string): string {
  return text.replace(/[A-Z]+/g, (upper) => upper.toLowerCase());
}

export function userIdFor(localpart: string, serverName: string): string {
  return `@${localpart}:${serverName}`;
}

/** Splits `@localpart:server` at the first colon; null when it is not of that shape. */
export function parseUserId(userId: string): { localpart: string; serverName: string } | null {
  if (!userId.startsWith('@')) return null;
  const colon = userId.indexOf(':');
  if (colon < 2 || colon === userId.length - 1) return null;
  return { localpart: userId.slice(1, colon), serverName: userId.slice(colon + 1) };
}

export interface LocalpartRules {
  /** Purely numeric localparts are reserved for server-generated accounts. */
  allowNumeric?: boolean;
  /** Localparts starting with `_` are reserved for application services, which may use them. */
  allowUnderscore?: boolean;
}

/**
 * Throws M_INVALID_USERNAME unless `localpart` is a valid localpart for a new account on
 * `serverName`: only the characters of the spec grammar, the full id within 255 bytes, not
 * starting with `_` (reserved for application services) and not purely numeric (reserved
 * for generated ids) unless allowed.
 */
export function assertValidLocalpart(localpart: string, serverName: string, rules: LocalpartRules = {}): void {
  if (localpart.length === 0) {
    throw new AccountsError('M_INVALID_USERNAME', 'User ID cannot be empty');
  }
  if (!LOCALPART_PATTERN.test(localpart)) {
    throw new AccountsError('M_INVALID_USERNAME', 'User ID can only contain characters a-z, 0-9, or "=_-./+"');
  }
  if (localpart.startsWith('_') && !rules.allowUnderscore) {
    throw new AccountsError('M_INVALID_USERNAME', 'User ID may not begin with _');
  }
  if (!rules.allowNumeric && /^[0-9]+$/.test(localpart)) {
    throw new AccountsError('M_INVALID_USERNAME', 'Numeric user IDs are reserved for server-generated accounts');
  }
  if (Buffer.byteLength(userIdFor(localpart, serverName), 'utf8') > MAX_USER_ID_BYTES) {
    throw new AccountsError('M_INVALID_USERNAME', `User ID may not be longer than ${MAX_USER_ID_BYTES} bytes`);
  }
}

const BASE62 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
const UPPER = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';

/** A uniformly random string over `alphabet` (rejection sampling, no modulo bias). */
export function randomString(length: number, alphabet: string = BASE62): string {
  const limit = 256 - (256 % alphabet.length);
  let out = '';
  while (out.length < length) {
    const bytes = randomBytes(length * 2);
    for (const byte of bytes) {
      if (byte < limit) {
        out += alphabet[byte % alphabet.length];
        if (out.length === length) break;
      }
    }
  }
  return out;
}

/** A new device id: ten upper-case letters. */
export function generateDeviceId(): string {
  return randomString(10, UPPER);
}

/** Device ids are opaque; limit them to printable, reasonably short strings. */
export function assertValidDeviceId(deviceId: string): void {
  if (deviceId.length === 0 || Buffer.byteLength(deviceId, 'utf8') > 255 || hasControlCharacter(deviceId)) {
    throw new AccountsError('M_INVALID_PARAM', 'Invalid device ID');
  }
}

function hasControlCharacter(value: string): boolean {
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i);
    if (code < 0x20 || code === 0x7f) return true;
  }
  return false;
}
