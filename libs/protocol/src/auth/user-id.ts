/**
 * The light parsing of user ids that the authorization rules need (appendices, "User Identifiers").
 */

/** The server name part of a user id, room id (v1-11) or event id (v1-2): everything after the first ':'. */
export function domainOf(id: string): string | undefined {
  const i = id.indexOf(':');
  return i < 0 ? undefined : id.slice(i + 1);
}

/**
 * Whether a string passes the user id validation applied to `sender`: sigil `@`, a non-empty
 * localpart without ':', a non-empty server name, at most 255 bytes in all. Historical localparts
 * (any printable characters other than ':') are accepted, since rooms contain such users.
 */
export function isValidUserId(id: unknown): id is string {
  if (typeof id !== 'string' || !id.startsWith('@')) return false;
  if (Buffer.byteLength(id, 'utf8') > 255) return false;
  const colon = id.indexOf(':');
  if (colon < 2 || colon === id.length - 1) return false;
  const localpart = id.slice(1, colon);
  // Control characters and whitespace are never part of a localpart.
  for (const ch of localpart) {
    const code = ch.codePointAt(0) ?? 0;
    if (code <= 0x20 || code === 0x7f) return false;
  }
  return isValidServerName(id.slice(colon + 1));
}

/** A server name: hostname (or IP literal) with an optional port. */
export function isValidServerName(name: string): boolean {
  return /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(:[0-9]{1,5})?$/.test(name);
}
