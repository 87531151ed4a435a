/** SQL helpers of the write model (slonik). */
import { createSqlTag } from 'slonik';
import { z } from 'zod';

export type { CommonQueryMethods, DatabasePool, DatabaseTransactionConnection, FragmentSqlToken, IdentifierSqlToken } from 'slonik';

export const sql = createSqlTag();

/** An int8 column as a bigint, whatever type parser the pool uses. */
export const int8 = z.union([z.bigint(), z.number(), z.string()]).transform((value) => BigInt(value));

/** A jsonb column selected as `::text`, parsed here so no driver setting changes its meaning. */
export const jsonText = z.string().transform((text): unknown => JSON.parse(text));

/** The SQLSTATE of a unique violation. */
export const UNIQUE_VIOLATION = '23505';

/**
 * A state group chain is cut with a full snapshot once it holds this many deltas, so that
 * reading the state at any event touches a bounded number of groups.
 */
export const MAX_STATE_GROUP_CHAIN = 50;
