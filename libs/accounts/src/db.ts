/** Small helpers for the SQL of the accounts layer (slonik). */
import { createSqlTag } from 'slonik';
import { z } from 'zod';

export type { CommonQueryMethods, DatabasePool } from 'slonik';

/** The SQL tag of the accounts layer. */
export const sql = createSqlTag();

/** A bigint/int8 column as a JS number, whatever type parser the pool uses. */
export const int = z.union([z.number(), z.bigint(), z.string()]).transform((value, ctx) => {
  const n = Number(value);
  if (!Number.isSafeInteger(n)) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, message: `not a safe integer: ${String(value)}` });
    return z.NEVER;
  }
  return n;
});

export const nullableInt = z.union([int, z.null()]);

/** A jsonb column selected as `::text`, parsed here so no driver setting changes its meaning. */
export const jsonText = z.string().transform((text): unknown => JSON.parse(text));

/**
 * PostgreSQL text cannot hold U+0000; strings from clients are checked with this before they
 * reach a query, so they get a typed error (or "not found") rather than a database error.
 */
export function isStorableText(value: unknown): value is string {
  return typeof value === 'string' && !value.includes('\u0000');
}
