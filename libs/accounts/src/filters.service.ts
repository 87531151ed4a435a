/** Filters uploaded by clients (filter.yaml) and resolution of /sync's `filter` parameter. */
import { z } from 'zod';
import { DatabasePool, int, isStorableText, jsonText, sql } from './db';
import { AccountsError } from './errors';
import { Filter, validateFilter } from './filter-rules';

const FilterRow = z.object({ filter_json: jsonText });

export class FilterService {
  constructor(private readonly pool: DatabasePool) {}

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
    const row = await this.pool.maybeOne(sql.type(FilterRow)`
      SELECT filter_json::text AS filter_json FROM accounts.filters
      WHERE user_id = ${userId} AND filter_id = ${filterId}::bigint`);
    if (!row) throw new AccountsError('M_NOT_FOUND', 'No such filter');
    return FilterRow.parse(row).filter_json as Filter;
  }

  /**
   * The filter a /sync (or /messages) `filter` parameter names: inline JSON when it starts
   * with `{`, otherwise a filter id of the user. An absent parameter is the empty filter.
   */
  async resolveFilter(userId: string, filterParam: string | undefined): Promise<Filter> {
    if (filterParam === undefined || filterParam === '') return {};
    if (filterParam.startsWith('{')) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(filterParam);
      } catch {
        throw new AccountsError('M_NOT_JSON', 'The filter is not valid JSON');
      }
      return validateFilter(parsed);
    }
    return this.getFilter(userId, filterParam);
  }
}
