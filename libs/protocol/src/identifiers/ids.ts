/**
 * Matrix identifiers (appendices.md "Identifier Grammar"): user ids, room ids, event ids,
 * room aliases and device ids. Every parse function throws InvalidIdentifierError with the
 * rule that failed; every `isValid…` predicate answers the same question without throwing.
 */
import type { EventIdFormat } from '../room-versions';
import { hasLoneSurrogate, InvalidIdentifierError, MAX_IDENTIFIER_BYTES, utf8Length, type IdentifierKind } from './errors';
import { parseServerName } from './server-name';

/** The characters of a user id localpart since spec v1.8. */
const USER_LOCALPART = /^[a-z0-9._=\-/+]+$/;
/** A sha256 in unpadded Base64 is 43 characters. */
const STD_HASH = /^[A-Za-z0-9+/]{43}$/;
const URL_HASH = /^[A-Za-z0-9_-]{43}$/;

function check(kind: IdentifierKind, value: string, ok: boolean, reason: string): void {
  if (!ok) throw new InvalidIdentifierError(kind, value, reason);
}

function checkLength(kind: IdentifierKind, value: string): void {
  check(kind, value, utf8Length(value) <= MAX_IDENTIFIER_BYTES, `longer than ${MAX_IDENTIFIER_BYTES} bytes`);
}

/** A localpart may hold any Unicode scalar value but `:` and NUL. */
function checkOpaqueLocalpart(kind: IdentifierKind, value: string, localpart: string): void {
  check(kind, value, !localpart.includes('\u0000'), 'localpart contains NUL');
  check(kind, value, !hasLoneSurrogate(localpart), 'localpart contains a lone surrogate');
}

/** Splits `&localpart:server`, validating the server name. The localpart ends at the first `:`. */
function splitLocalpartAndServer(kind: IdentifierKind, value: string, sigil: string): { localpart: string; serverName: string } {
  check(kind, value, value.startsWith(sigil), `must start with "${sigil}"`);
  const colon = value.indexOf(':');
  check(kind, value, colon > 0, 'has no ":" before the server name');
  const localpart = value.slice(1, colon);
  const serverName = value.slice(colon + 1);
  try {
    parseServerName(serverName);
  } catch (e) {
    if (e instanceof InvalidIdentifierError) throw new InvalidIdentifierError(kind, value, `server name: ${e.reason}`);
    throw e;
  }
  return { localpart, serverName };
}

function predicate<T>(parse: (value: string) => T): (value: unknown) => boolean {
  return (value: unknown) => {
    if (typeof value !== 'string') return false;
    try {
      parse(value);
      return true;
    } catch {
      return false;
    }
  };
}

// ---------------------------------------------------------------------------------------------
// User ids

export interface UserId {
  readonly value: string;
  readonly localpart: string;
  readonly serverName: string;
  /**
   * True when the localpart uses the historical grammar (anything but `:` and NUL, or empty)
   * rather than `a-z 0-9 . _ = - / +`. Servers accept such ids in events over federation.
   */
  readonly historical: boolean;
}

export interface ParseUserIdOptions {
  /** Refuse the historical grammar: only `a-z 0-9 . _ = - / +` (for ids this server creates). */
  readonly strict?: boolean;
}

/** Parses `@localpart:server_name`, at most 255 bytes. */
export function parseUserId(value: string, options: ParseUserIdOptions = {}): UserId {
  checkLength('user_id', value);
  const { localpart, serverName } = splitLocalpartAndServer('user_id', value, '@');
  checkOpaqueLocalpart('user_id', value, localpart);
  const historical = !USER_LOCALPART.test(localpart);
  if (historical && options.strict) {
    throw new InvalidIdentifierError(
      'user_id',
      value,
      localpart === '' ? 'empty localpart' : 'localpart may only contain a-z, 0-9, ".", "_", "=", "-", "/" and "+"',
    );
  }
  return { value, localpart, serverName, historical };
}

export const isValidUserId: (value: unknown) => boolean = predicate((v) => parseUserId(v));
/** True for user ids in the current grammar only (no historical characters). */
export const isValidStrictUserId: (value: unknown) => boolean = predicate((v) => parseUserId(v, { strict: true }));

/** True when `localpart` is in the current user id grammar. */
export function isValidUserLocalpart(localpart: string): boolean {
  return USER_LOCALPART.test(localpart);
}

/** The server name of a user id (or room id, alias, v1-2 event id): everything after the first `:`. */
export function serverNameOf(id: string): string | undefined {
  const colon = id.indexOf(':');
  return colon < 0 ? undefined : id.slice(colon + 1);
}

// ---------------------------------------------------------------------------------------------
// Room ids

export type RoomId =
  | { readonly value: string; readonly form: 'server'; readonly localpart: string; readonly serverName: string }
  /** Room version 12+: `!` + URL-safe unpadded Base64 of the create event's reference hash. */
  | { readonly value: string; readonly form: 'create-event-hash'; readonly hash: string };

export interface ParseRoomIdOptions {
  /** Room version 12+ rooms use the hash form; earlier ones the `!opaque:server` form. */
  readonly form?: RoomId['form'];
}

/** Parses `!opaque_id:server_name` or, for room version 12+, `!<43 URL-safe Base64 chars>`. */
export function parseRoomId(value: string, options: ParseRoomIdOptions = {}): RoomId {
  checkLength('room_id', value);
  check('room_id', value, value.startsWith('!'), 'must start with "!"');
  if (!value.includes(':')) {
    check('room_id', value, options.form !== 'server', 'needs a ":server_name" part in this room version');
    const hash = value.slice(1);
    check('room_id', value, URL_HASH.test(hash), 'without a server name it must be "!" and a URL-safe unpadded Base64 sha256');
    return { value, form: 'create-event-hash', hash };
  }
  check('room_id', value, options.form !== 'create-event-hash', 'room version 12+ room ids have no server name');
  const { localpart, serverName } = splitLocalpartAndServer('room_id', value, '!');
  checkOpaqueLocalpart('room_id', value, localpart);
  return { value, form: 'server', localpart, serverName };
}

export const isValidRoomId: (value: unknown) => boolean = predicate((v) => parseRoomId(v));

// ---------------------------------------------------------------------------------------------
// Event ids

export type EventId =
  | { readonly value: string; readonly format: 'server-generated'; readonly localpart: string; readonly serverName: string }
  | { readonly value: string; readonly format: 'base64' | 'url-safe-base64'; readonly hash: string };

/**
 * Parses an event id: `$opaque:server` (room versions 1-2), `$` + 43 standard Base64 characters
 * (v3) or `$` + 43 URL-safe ones (v4+). With `format` only that form is accepted; without it
 * the form is recognised (a hash made only of characters both alphabets share counts as v4+).
 */
export function parseEventId(value: string, format?: EventIdFormat): EventId {
  checkLength('event_id', value);
  check('event_id', value, value.startsWith('$'), 'must start with "$"');
  const body = value.slice(1);
  if (format === 'server-generated' || (format === undefined && value.includes(':'))) {
    const { localpart, serverName } = splitLocalpartAndServer('event_id', value, '$');
    checkOpaqueLocalpart('event_id', value, localpart);
    return { value, format: 'server-generated', localpart, serverName };
  }
  if (format === 'base64') {
    check('event_id', value, STD_HASH.test(body), 'must be "$" and a standard unpadded Base64 sha256 in room version 3');
    return { value, format, hash: body };
  }
  if (format === 'url-safe-base64') {
    check('event_id', value, URL_HASH.test(body), 'must be "$" and a URL-safe unpadded Base64 sha256 in room version 4+');
    return { value, format, hash: body };
  }
  if (URL_HASH.test(body)) return { value, format: 'url-safe-base64', hash: body };
  check('event_id', value, STD_HASH.test(body), 'is neither "$local:server" nor "$" and a Base64 sha256');
  return { value, format: 'base64', hash: body };
}

export const isValidEventId: (value: unknown, format?: EventIdFormat) => boolean = (value, format) => {
  if (typeof value !== 'string') return false;
  try {
    parseEventId(value, format);
    return true;
  } catch {
    return false;
  }
};

// ---------------------------------------------------------------------------------------------
// Room aliases

export interface RoomAlias {
  readonly value: string;
  readonly localpart: string;
  readonly serverName: string;
}

/** Parses `#localpart:server_name`, at most 255 bytes. */
export function parseRoomAlias(value: string): RoomAlias {
  checkLength('room_alias', value);
  const { localpart, serverName } = splitLocalpartAndServer('room_alias', value, '#');
  checkOpaqueLocalpart('room_alias', value, localpart);
  return { value, localpart, serverName };
}

export const isValidRoomAlias: (value: unknown) => boolean = predicate((v) => parseRoomAlias(v));

// ---------------------------------------------------------------------------------------------
// Device ids

/**
 * Device ids are opaque strings chosen by the client or the server. This server accepts
 * 1-255 bytes with no control characters, which covers what servers and clients generate.
 */
export function parseDeviceId(value: string): string {
  check('device_id', value, value.length > 0, 'empty');
  check('device_id', value, utf8Length(value) <= MAX_IDENTIFIER_BYTES, `longer than ${MAX_IDENTIFIER_BYTES} bytes`);
  // eslint-disable-next-line no-control-regex
  check('device_id', value, !/[\u0000-\u001f\u007f]/.test(value), 'contains a control character');
  check('device_id', value, !hasLoneSurrogate(value), 'contains a lone surrogate');
  return value;
}

export const isValidDeviceId: (value: unknown) => boolean = predicate(parseDeviceId);

// ---------------------------------------------------------------------------------------------
// Opaque identifiers

const OPAQUE = /^[0-9A-Za-z._~-]{1,255}$/;

/** The Opaque Identifier Grammar (appendices.md "Opaque Identifiers"): 1-255 of `0-9 A-Z a-z - . _ ~`. */
export function isValidOpaqueId(value: unknown, maxLength = 255): boolean {
  return typeof value === 'string' && OPAQUE.test(value) && value.length <= maxLength;
}
