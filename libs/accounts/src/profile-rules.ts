/** Validation of profile fields (profile.yaml): key names, value shapes and sizes. */
import { AccountsError } from './errors';

/** Longest display name accepted, in characters. */
export const MAX_DISPLAYNAME_LENGTH = 256;
/** Longest avatar URL accepted, in characters. */
export const MAX_AVATAR_URL_LENGTH = 1000;
/** Longest profile key, in bytes. */
export const MAX_PROFILE_KEY_BYTES = 255;
/** A whole profile must stay under 64 KiB of JSON. */
export const MAX_PROFILE_BYTES = 64 * 1024;

const PROFILE_KEY = /^(avatar_url|displayname|m\.tz|[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+)$/;
const MXC_URI = /^mxc:\/\/[A-Za-z0-9.:[\]-]+\/[A-Za-z0-9_-]+$/;

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

export function assertProfileKey(key: unknown): asserts key is string {
  if (typeof key !== 'string' || key.length === 0) throw new AccountsError('M_INVALID_PARAM', 'Invalid profile key.');
  if (Buffer.byteLength(key, 'utf8') > MAX_PROFILE_KEY_BYTES) {
    throw new AccountsError('M_KEY_TOO_LARGE', `Profile keys may not be longer than ${MAX_PROFILE_KEY_BYTES} bytes`);
  }
  if (!PROFILE_KEY.test(key)) throw new AccountsError('M_INVALID_PARAM', 'Invalid profile key.');
}

export function assertDisplayName(value: unknown): asserts value is string {
  if (typeof value !== 'string' || value.includes('\u0000')) throw new AccountsError('M_INVALID_PARAM', 'displayname must be a string');
  if (value.length > MAX_DISPLAYNAME_LENGTH) {
    throw new AccountsError('M_INVALID_PARAM', `displayname may not be longer than ${MAX_DISPLAYNAME_LENGTH} characters`);
  }
}

export function assertAvatarUrl(value: unknown): asserts value is string {
  if (typeof value !== 'string') throw new AccountsError('M_INVALID_PARAM', 'avatar_url must be a string');
  if (value.length > MAX_AVATAR_URL_LENGTH) {
    throw new AccountsError('M_INVALID_PARAM', `avatar_url may not be longer than ${MAX_AVATAR_URL_LENGTH} characters`);
  }
  if (value !== '' && !MXC_URI.test(value)) throw new AccountsError('M_INVALID_PARAM', 'avatar_url must be an mxc:// URI');
}

/** True for values that survive a JSON round trip unchanged (no undefined, functions, NaN, cycles). */
export function isJsonValue(value: unknown, depth = 0): value is JsonValue {
  if (depth > 100) return false;
  if (value === null || typeof value === 'boolean') return true;
  // PostgreSQL jsonb cannot store U+0000 in strings.
  if (typeof value === 'string') return !value.includes('\u0000');
  if (typeof value === 'number') return Number.isFinite(value);
  if (Array.isArray(value)) return value.every((item) => isJsonValue(item, depth + 1));
  if (typeof value === 'object') {
    const proto = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null) return false;
    return Object.entries(value as Record<string, unknown>).every(
      ([key, item]) => !key.includes('\u0000') && isJsonValue(item, depth + 1),
    );
  }
  return false;
}

/** Checks one profile field's value for its key (throws M_INVALID_PARAM / M_BAD_JSON). */
export function assertProfileValue(key: string, value: unknown): asserts value is JsonValue {
  switch (key) {
    case 'displayname':
      return assertDisplayName(value);
    case 'avatar_url':
      return assertAvatarUrl(value);
    case 'm.tz':
      if (typeof value !== 'string' || value.length > 255 || value.includes('\u0000')) throw new AccountsError('M_INVALID_PARAM', 'm.tz must be a string');
      return;
    default:
      if (!isJsonValue(value)) throw new AccountsError('M_BAD_JSON', 'Profile value is not valid JSON');
  }
}
