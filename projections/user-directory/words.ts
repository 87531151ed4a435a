/**
 * How the user directory matches a search term: both the term and what it is matched against
 * (a user id, a display name) are cut into words, case- and accent-insensitively (Unicode
 * compatibility decomposition, combining marks dropped, lower case), at every character that
 * is neither a letter nor a digit. A term matches when each of its words begins a word of the
 * user's.
 */

/** The normalized words of a text (letters and digits only, lower case, accents dropped). */
export function directoryWords(text: string): string[] {
  return text
    .normalize('NFKD')
    .replace(/\p{M}+/gu, '')
    .toLowerCase()
    .split(/[^\p{L}\p{N}]+/u)
    .filter((word) => word.length > 0);
}

/** What the `words` column holds: each word preceded by a space, so that `LIKE '% w%'` is a word prefix. */
export function wordsColumn(userId: string, displayName: string | null): string {
  const words = [...directoryWords(userId), ...(displayName ? directoryWords(displayName) : [])];
  return words.map((w) => ` ${w}`).join('');
}

/** Whether every word of the term begins a word of the user id or display name. */
export function matchesTerm(termWords: readonly string[], userId: string, displayName: string | null | undefined): boolean {
  const words = wordsColumn(userId, displayName ?? null);
  return termWords.every((w) => words.includes(` ${w}`));
}
