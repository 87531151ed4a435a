/**
 * Glob-style matching (appendices.md "Glob-style matching"): `*` matches zero or more
 * characters, `?` exactly one, every other character itself. Used by server ACLs
 * (`m.room.server_acl`) and the federation allow and deny lists, always case-insensitively.
 *
 * Patterns can come from remote servers (ACL events), so matching never backtracks more than
 * one `*` at a time: at most (pattern length × text length) steps, whatever the pattern.
 */

/** True when `text` matches the glob `pattern`, case-insensitively. */
export function matchesGlob(pattern: string, text: string): boolean {
  const p = pattern.toLowerCase();
  const t = text.toLowerCase();
  let pi = 0;
  let ti = 0;
  // Position of the last `*` seen in the pattern, and where in the text it started matching.
  let star = -1;
  let starText = 0;
  while (ti < t.length) {
    if (pi < p.length && p[pi] === '*') {
      star = pi++;
      starText = ti;
    } else if (pi < p.length && (p[pi] === '?' || p[pi] === t[ti])) {
      pi++;
      ti++;
    } else if (star >= 0) {
      // Let the last `*` take one more character and try again after it.
      pi = star + 1;
      ti = ++starText;
    } else {
      return false;
    }
  }
  while (pi < p.length && p[pi] === '*') pi++;
  return pi === p.length;
}
