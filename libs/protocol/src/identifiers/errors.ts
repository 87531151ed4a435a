/** The kinds of identifier the spec defines a grammar for. */
export type IdentifierKind = 'user_id' | 'room_id' | 'event_id' | 'room_alias' | 'server_name' | 'device_id';

/** An identifier that does not follow its grammar; `reason` says which rule it broke. */
export class InvalidIdentifierError extends Error {
  constructor(
    readonly kind: IdentifierKind,
    readonly value: string,
    readonly reason: string,
  ) {
    super(`Invalid ${kind.replace('_', ' ')}: ${reason}`);
    this.name = 'InvalidIdentifierError';
  }
}

/** Identifiers that carry a server name are at most this many bytes of UTF-8, sigil included. */
export const MAX_IDENTIFIER_BYTES = 255;

export function utf8Length(s: string): number {
  return Buffer.byteLength(s, 'utf8');
}

/** True when `s` has a lone UTF-16 surrogate (not a Unicode scalar value sequence). */
export function hasLoneSurrogate(s: string): boolean {
  return /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(s);
}
