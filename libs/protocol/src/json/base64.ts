/**
 * Unpadded Base64 (appendices.md "Unpadded Base64") in its standard and URL-safe
 * (RFC 4648 §5) alphabets. Encoding never emits `=`; decoding accepts input with or
 * without padding, as the spec recommends, but refuses any other character.
 */

export class InvalidBase64Error extends Error {
  constructor(readonly reason: string) {
    super(`Invalid base64: ${reason}`);
    this.name = 'InvalidBase64Error';
  }
}

const STANDARD = /^[A-Za-z0-9+/]*$/;
const URL_SAFE = /^[A-Za-z0-9_-]*$/;

function toBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function stripPadding(s: string): string {
  let end = s.length;
  while (end > 0 && s.charCodeAt(end - 1) === 0x3d /* = */) end--;
  if (s.length - end > 2) throw new InvalidBase64Error('too much padding');
  if (end !== s.length && s.length % 4 !== 0) throw new InvalidBase64Error('padding does not complete a 4-character group');
  return end === s.length ? s : s.slice(0, end);
}

function checkLength(body: string): void {
  if (body.length % 4 === 1) throw new InvalidBase64Error('length is not a whole number of bytes');
}

/** Standard unpadded Base64 of `bytes` (alphabet `A-Z a-z 0-9 + /`, no `=`). */
export function encodeBase64(bytes: Uint8Array): string {
  const s = toBuffer(bytes).toString('base64');
  return stripPadding(s);
}

/** URL-safe unpadded Base64 of `bytes` (alphabet `A-Z a-z 0-9 - _`, no `=`). */
export function encodeBase64Url(bytes: Uint8Array): string {
  return toBuffer(bytes).toString('base64url');
}

/** Decodes standard Base64, padded or unpadded. Throws InvalidBase64Error on any other character. */
export function decodeBase64(s: string): Uint8Array {
  const body = stripPadding(s);
  if (!STANDARD.test(body)) throw new InvalidBase64Error('character outside the standard alphabet');
  checkLength(body);
  return new Uint8Array(Buffer.from(body, 'base64'));
}

/** Decodes URL-safe Base64, padded or unpadded. Throws InvalidBase64Error on any other character. */
export function decodeBase64Url(s: string): Uint8Array {
  const body = stripPadding(s);
  if (!URL_SAFE.test(body)) throw new InvalidBase64Error('character outside the URL-safe alphabet');
  checkLength(body);
  return new Uint8Array(Buffer.from(body, 'base64url'));
}

/** True when `s` is unpadded standard Base64 of a whole number of bytes. */
export function isUnpaddedBase64(s: string): boolean {
  return STANDARD.test(s) && s.length % 4 !== 1;
}

/** True when `s` is unpadded URL-safe Base64 of a whole number of bytes. */
export function isUnpaddedBase64Url(s: string): boolean {
  return URL_SAFE.test(s) && s.length % 4 !== 1;
}
