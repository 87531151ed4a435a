/**
 * Request authentication between servers (server-server-api.md "Request Authentication"):
 * the JSON object a request's signature covers, and the `Authorization: X-Matrix …` header
 * that carries it.
 *
 * The header follows RFC 7235 §2.1: the scheme, one or more spaces, then comma-separated
 * `name=value` parameters. Names are case-insensitive and in any order; a value is a token or
 * a quoted string whose backslash-escaped characters are unescaped. For older servers a bare
 * value may hold colons. Unknown parameters are ignored.
 */
import { decodeBase64, InvalidBase64Error } from '../json/base64';
import { ED25519, parseKeyId, type SigningKey, InvalidSigningKeyError } from '../crypto/ed25519';
import { jsonSignature, verifyJsonSignature } from '../crypto/sign-json';
import { isValidServerName } from '../identifiers/server-name';

/** The parameters of an X-Matrix Authorization header. */
export interface XMatrixAuthorization {
  /** The sending server's name. */
  readonly origin: string;
  /** The receiving server's name; absent only in requests of servers older than spec v1.3. */
  readonly destination?: string;
  /** The id of the signing key, `ed25519:<version>`. */
  readonly key: string;
  /** The unpadded Base64 signature of the request object. */
  readonly sig: string;
}

/** What a request signature covers. */
export interface SignableRequest {
  /** The HTTP method in upper case, e.g. `PUT`. */
  readonly method: string;
  /** The request target as sent: the path from `/_matrix/…` with `?` and the query string, if any. */
  readonly uri: string;
  readonly origin: string;
  /** The destination server name; left out of the object when absent (older senders). */
  readonly destination?: string;
  /** The JSON-parsed request body; absent when the request has none. */
  readonly content?: unknown;
}

/** An X-Matrix header that cannot be used; `reason` says what is wrong with it. */
export class InvalidXMatrixHeaderError extends Error {
  constructor(readonly reason: string) {
    super(`Invalid X-Matrix authorization: ${reason}`);
    this.name = 'InvalidXMatrixHeaderError';
  }
}

export const X_MATRIX_SCHEME = 'X-Matrix';

/** Longest header value parsed; a real one is well under 1 KiB. */
export const MAX_X_MATRIX_HEADER_LENGTH = 8192;

/** RFC 7230 `tchar`. */
const TCHAR = /[!#$%&'*+\-.^_`|~0-9A-Za-z]/;
/** A bare value: `tchar`s, plus `:` which older servers send unquoted. */
const BARE_VALUE_CHAR = /[!#$%&'*+\-.^_`|~0-9A-Za-z:]/;
/** RFC 7230 `qdtext` and the characters a quoted-pair may escape: HTAB, SP, VCHAR, obs-text. */
const QUOTABLE = /[\t\x20-\x7e\x80-\xff]/;

function isOws(c: string | undefined): boolean {
  return c === ' ' || c === '\t';
}

/** The parameters of a header value (lower-cased names), or throws InvalidXMatrixHeaderError. */
function parseParameters(text: string, start: number): Map<string, string> {
  const params = new Map<string, string>();
  let i = start;
  const skipOws = () => {
    while (isOws(text[i])) i++;
  };
  for (;;) {
    skipOws();
    // Empty list elements ("a=1,,b=2") are allowed by the #rule of RFC 7230 §7.
    while (text[i] === ',') {
      i++;
      skipOws();
    }
    if (i >= text.length) break;
    const nameStart = i;
    while (i < text.length && TCHAR.test(text[i])) i++;
    if (i === nameStart) throw new InvalidXMatrixHeaderError(`unexpected character at ${i}`);
    const name = text.slice(nameStart, i).toLowerCase();
    skipOws();
    if (text[i] !== '=') throw new InvalidXMatrixHeaderError(`parameter "${name}" has no value`);
    i++;
    skipOws();
    let value = '';
    if (text[i] === '"') {
      i++;
      let closed = false;
      while (i < text.length) {
        const c = text[i];
        if (c === '"') {
          closed = true;
          i++;
          break;
        }
        if (c === '\\') {
          const escaped = text[i + 1];
          if (escaped === undefined || !QUOTABLE.test(escaped)) throw new InvalidXMatrixHeaderError(`bad escape in parameter "${name}"`);
          value += escaped;
          i += 2;
          continue;
        }
        if (!QUOTABLE.test(c)) throw new InvalidXMatrixHeaderError(`control character in parameter "${name}"`);
        value += c;
        i++;
      }
      if (!closed) throw new InvalidXMatrixHeaderError(`unterminated quoted value of parameter "${name}"`);
    } else {
      const valueStart = i;
      while (i < text.length && BARE_VALUE_CHAR.test(text[i])) i++;
      value = text.slice(valueStart, i);
      if (value === '') throw new InvalidXMatrixHeaderError(`parameter "${name}" has an empty value`);
    }
    if (params.has(name)) throw new InvalidXMatrixHeaderError(`parameter "${name}" appears twice`);
    params.set(name, value);
    skipOws();
    if (i >= text.length) break;
    if (text[i] !== ',') throw new InvalidXMatrixHeaderError(`expected "," after parameter "${name}"`);
    i++;
  }
  return params;
}

/**
 * Parses an `Authorization` header value of scheme X-Matrix. Throws InvalidXMatrixHeaderError
 * when it is of another scheme, malformed, lacks `origin`, `key` or `sig`, or names an invalid
 * server or key id.
 */
export function parseXMatrixHeader(value: string): XMatrixAuthorization {
  if (typeof value !== 'string') throw new InvalidXMatrixHeaderError('no header');
  if (value.length > MAX_X_MATRIX_HEADER_LENGTH) throw new InvalidXMatrixHeaderError('header too long');
  const scheme = X_MATRIX_SCHEME.length;
  if (value.slice(0, scheme).toLowerCase() !== X_MATRIX_SCHEME.toLowerCase() || value[scheme] !== ' ') {
    throw new InvalidXMatrixHeaderError('not of scheme X-Matrix');
  }
  let start = scheme;
  while (value[start] === ' ') start++;
  const params = parseParameters(value, start);
  const origin = params.get('origin');
  const key = params.get('key');
  // The spec's prose calls the parameter `signature`; every server sends `sig`.
  const sig = params.get('sig') ?? params.get('signature');
  const destination = params.get('destination');
  if (origin === undefined) throw new InvalidXMatrixHeaderError('no origin');
  if (key === undefined) throw new InvalidXMatrixHeaderError('no key');
  if (sig === undefined) throw new InvalidXMatrixHeaderError('no sig');
  if (!isValidServerName(origin)) throw new InvalidXMatrixHeaderError('origin is not a valid server name');
  if (destination !== undefined && !isValidServerName(destination)) throw new InvalidXMatrixHeaderError('destination is not a valid server name');
  let algorithm: string;
  try {
    algorithm = parseKeyId(key).algorithm;
  } catch (error) {
    if (error instanceof InvalidSigningKeyError) throw new InvalidXMatrixHeaderError(`bad key id: ${error.reason}`);
    throw error;
  }
  if (algorithm !== ED25519) throw new InvalidXMatrixHeaderError(`unsupported key algorithm "${algorithm}"`);
  try {
    if (decodeBase64(sig).length !== 64) throw new InvalidXMatrixHeaderError('sig is not a 64-byte signature');
  } catch (error) {
    if (error instanceof InvalidBase64Error) throw new InvalidXMatrixHeaderError(`sig is not base64 (${error.reason})`);
    throw error;
  }
  return destination === undefined ? { origin, key, sig } : { origin, destination, key, sig };
}

function quote(value: string): string {
  return `"${value.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

/**
 * The header value for `auth`, in the form older servers parse too: one space after the
 * scheme, lower-case names, quoted values.
 */
export function formatXMatrixHeader(auth: XMatrixAuthorization): string {
  const params = [`origin=${quote(auth.origin)}`];
  if (auth.destination !== undefined) params.push(`destination=${quote(auth.destination)}`);
  params.push(`key=${quote(auth.key)}`, `sig=${quote(auth.sig)}`);
  return `${X_MATRIX_SCHEME} ${params.join(',')}`;
}

/** The JSON object a request signature covers (step 1 of the spec's signing process). */
export function requestSigningObject(request: SignableRequest): Record<string, unknown> {
  const object: Record<string, unknown> = { method: request.method, uri: request.uri, origin: request.origin };
  if (request.destination !== undefined) object.destination = request.destination;
  if (request.content !== undefined) object.content = request.content;
  return object;
}

/** Signs `request` with `key` of its origin and returns the Authorization header value. */
export function signRequest(request: SignableRequest & { destination: string }, key: SigningKey): string {
  const sig = jsonSignature(requestSigningObject(request), key);
  return formatXMatrixHeader({ origin: request.origin, destination: request.destination, key: key.keyId, sig });
}

/**
 * True when `auth.sig` is the signature of the request (method, uri, the header's origin and
 * destination, content) by `publicKey` (raw bytes or unpadded Base64). Never throws.
 */
export function verifyRequestSignature(
  request: Omit<SignableRequest, 'origin' | 'destination'>,
  auth: XMatrixAuthorization,
  publicKey: Uint8Array | string,
): boolean {
  const object = requestSigningObject({ ...request, origin: auth.origin, destination: auth.destination });
  object.signatures = { [auth.origin]: { [auth.key]: auth.sig } };
  return verifyJsonSignature(object, auth.origin, auth.key, publicKey);
}
