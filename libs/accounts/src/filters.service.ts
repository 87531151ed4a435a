/** Filters uploaded by clients (filter.yaml) and resolution of /sync's `filter` parameter. */
import { z } from 'zod';
import { DatabasePool, int, isStorableText, jsonText, sql } from './db';
import { AccountsError } from './errors';
import { Filter, validateFilter } from './filter-rules';

const FilterRow = z.object({ filter_json: jsonText });

/** Resolved filters kept in memory, at most. */
const MAX_CACHED_FILTERS = 10_000;

/** Freezes a filter and everything in it (resolved filters are shared between requests). */
function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const member of Object.values(value)) deepFreeze(member);
  }
  return value;
}

export class FilterService {
  /**
   * Resolved filters by user and id, and inline filters by their text, oldest first. A stored
   * filter never changes (there is no endpoint to change one; erasing an account deletes its
   * filters, and its user then has no device left to sync with), so every /sync of a client
   * that names a filter id resolves it without a query after the first.
   */
  private readonly cache = new Map<string, Filter>();

  constructor(private readonly pool: DatabasePool) {}

  private remember(key: string, filter: Filter): Filter {
    if (this.cache.size >= MAX_CACHED_FILTERS) this.cache.delete(this.cache.keys().next().value as string);
    this.cache.set(key, deepFreeze(filter));
    return filter;
  }

  /**
   * POST /user/{userId}/filter: stores a validated filter and returns its id (a decimal
   * string, never starting with `{`). Uploading an identical filter again returns the same id.
   */
  async createFilter(userId: string, filterJson: unknown): Promise<string> {
    const filter = validateFilter(filterJson);
    if (!isStorableText(userId)) throw new AccountsError('M_INVALID_PARAM', 'Invalid user ID');
    return this.pool.transaction(async (tx) => {
      const existing = await tx.maybeOneFirst(sql.type(z.object({ filter_id: int }))`
        SELECT filter_id::text AS filter_id FROM accounts.filters
        WHERE user_id = ${userId} AND filter_json = ${JSON.stringify(filter)}::jsonb
        ORDER BY filter_id LIMIT 1`);
      if (existing !== null) return String(int.parse(existing));
      const id = await tx.oneFirst(sql.type(z.object({ filter_id: int }))`
        INSERT INTO accounts.filters (user_id, filter_id, filter_json)
        VALUES (${userId}, nextval('accounts.filter_id_seq'), ${JSON.stringify(filter)}::jsonb)
        RETURNING filter_id::text AS filter_id`);
      return String(int.parse(id));
    });
  }

  /** GET /user/{userId}/filter/{filterId}. Throws M_INVALID_PARAM for a malformed id, M_NOT_FOUND for an unknown one. */
  async getFilter(userId: string, filterId: string): Promise<Filter> {
    if (typeof filterId !== 'string' || !/^[0-9]{1,18}$/.test(filterId)) {
      throw new AccountsError('M_INVALID_PARAM', 'Invalid filter ID');
    }
    if (!isStorableText(userId)) throw new AccountsError('M_NOT_FOUND', 'No such filter');
    const key = `id\u0000${userId}\u0000${BigInt(filterId)}`;
    const cached = this.cache.get(key);
    if (cached) return cached;
    const row = await this.pool.maybeOne(sql.type(FilterRow)`
      SELECT filter_json::text AS filter_json FROM accounts.filters
      WHERE user_id = ${userId} AND filter_id = ${filterId}::bigint`);
    if (!row) throw new AccountsError('M_NOT_FOUND', 'No such filter');
    return this.remember(key, FilterRow.parse(row).filter_json as Filter);
  }

  /**
   * The filter a /sync (or /messages) `filter` parameter names: inline JSON when it starts
   * with `{`, otherwise a filter id of the user. An absent parameter is the empty filter.
   */
  async resolveFilter(userId: string, filterParam: string | undefined): Promise<Filter> {
    if (filterParam === undefined || filterParam === '') return {};
    if (filterParam.startsWith('{')) {
      const key = `inline\u0000${filterParam}`;
      const cached = this.cache.get(key);
      if (cached) return cached;
      let parsed: unknown;
      try {
        parsed = JSON.parse(filterParam);
      } catch {
        throw new AccountsError('M_NOT_JSON', 'The filter is not valid JSON');
      }
      return this.remember(key, validateFilter(parsed));
    }
    return this.getFilter(userId, filterParam);
  }
}
