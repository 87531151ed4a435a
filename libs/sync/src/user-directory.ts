/**
 * POST /_matrix/client/v3/user_directory/search: the users the searcher may find (sharing a
 * room with them, or in a public room; with `user_directory.search_all_users`, every local
 * user too) whose user id or display name has a word beginning with each word of the term,
 * case- and accent-insensitively (see `directoryWords`).
 */
import type { CommonQueryMethods } from 'slonik';
import { directoryUser, directoryWords, matchesTerm, searchUserDirectory, type DirectoryUser } from '@hs/projections/user-directory';

export interface UserDirectoryResponse {
  results: DirectoryUser[];
  limited: boolean;
}

/** The local users of the accounts library, for a search over every local user. */
export interface LocalUserDirectory {
  /** Active local users whose id or display name contains each word (a superset of those whose words begin with them), by user id. */
  localUsersContaining(words: readonly string[], limit: number): Promise<{ user_id: string; displayname: string | null; avatar_url: string | null }[]>;
}

export interface UserDirectoryOptions {
  /** Config `user_directory.search_all_users`. */
  searchAllUsers: boolean;
  /** Needed when `searchAllUsers` is set. */
  localUsers?: LocalUserDirectory;
}

export const DEFAULT_DIRECTORY_LIMIT = 10;
/** The most users one search returns. */
export const MAX_DIRECTORY_LIMIT = 1000;

export async function searchDirectory(
  conn: CommonQueryMethods,
  options: UserDirectoryOptions,
  searcher: string,
  term: string,
  limit: number,
): Promise<UserDirectoryResponse> {
  const words = directoryWords(term);
  const wanted = Math.min(Math.max(0, limit), MAX_DIRECTORY_LIMIT);
  const found = await searchUserDirectory(conn, searcher, words, wanted, term.trim());
  if (!options.searchAllUsers || !options.localUsers || words.length === 0 || wanted === 0) return found;
  // Every local user as well: the candidates the accounts library finds, matched as the directory matches.
  const cap = wanted * 4 + 100;
  const candidates = await options.localUsers.localUsersContaining(words, cap);
  const results = [...found.results];
  const seen = new Set(results.map((r) => r.user_id));
  let limited = found.limited || candidates.length === cap;
  for (const candidate of candidates) {
    if (seen.has(candidate.user_id) || !matchesTerm(words, candidate.user_id, candidate.displayname)) continue;
    if (results.length === wanted) {
      limited = true;
      break;
    }
    results.push(directoryUser({ user_id: candidate.user_id, display_name: candidate.displayname, avatar_url: candidate.avatar_url }));
    seen.add(candidate.user_id);
  }
  return { results, limited };
}
