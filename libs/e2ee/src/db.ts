/** Small helpers for the SQL of the e2ee library (slonik). */
import { createSqlTag } from 'slonik';
import { z } from 'zod';

export type { CommonQueryMethods, DatabasePool, DatabaseTransactionConnection } from 'slonik';

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

/** Strings that PostgreSQL text can hold (no U+0000). */
export function isStorableText(value: unknown): value is string {
  return typeof value === 'string' && !value.includes('\u0000');
}
