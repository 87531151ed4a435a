/**
 * Checks of what other servers send to the federation endpoints: path parameters, query
 * strings and JSON bodies. A bad identifier or an out-of-range number is 400 M_INVALID_PARAM,
 * a missing required parameter 400 M_MISSING_PARAM, a body (or body field) of the wrong shape
 * 400 M_BAD_JSON. No string reaches a query with U+0000 in it.
 */
import { MatrixError } from '@hs/http';
import { isValidEventId, isValidRoomAlias, isValidRoomId, isValidUserId } from '@hs/protocol';
import { z } from 'zod';

function quoted(value: unknown): string {
  return JSON.stringify(typeof value === 'string' ? value.slice(0, 300) : value) ?? 'nothing';
}

function checked(value: unknown, valid: (value: unknown) => boolean, what: string): string {
  if (typeof value !== 'string' || !valid(value)) throw MatrixError.invalidParam(`${quoted(value)} is not a valid ${what}`);
  return value;
}

export const eventIdParam = (value: unknown): string => checked(value, (v) => isValidEventId(v), 'event id');
export const roomIdParam = (value: unknown): string => checked(value, isValidRoomId, 'room id');
export const userIdParam = (value: unknown): string => checked(value, isValidUserId, 'user id');
export const roomAliasParam = (value: unknown): string => checked(value, isValidRoomAlias, 'room alias');

/** One query parameter: absent, or given once (repeating it is M_INVALID_PARAM). */
export function singleQueryParam(query: Record<string, unknown>, name: string): string | undefined {
  const value = query[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw MatrixError.invalidParam(`${name} must be given once`);
  if (value.includes('\u0000')) throw MatrixError.invalidParam(`${name} may not contain U+0000`);
  return value;
}

export function requiredQueryParam(query: Record<string, unknown>, name: string): string {
  const value = singleQueryParam(query, name);
  if (value === undefined) throw MatrixError.missingParam(`Missing query parameter ${name}`);
  return value;
}

/** A query parameter that is a whole number within [min, max]. */
export function integerQueryParam(query: Record<string, unknown>, name: string, range: { min: number; max: number }): number | undefined {
  const value = singleQueryParam(query, name);
  if (value === undefined) return undefined;
  if (!/^-?[0-9]{1,15}$/.test(value)) throw MatrixError.invalidParam(`${name} must be an integer`);
  const n = Number(value);
  if (n < range.min || n > range.max) throw MatrixError.invalidParam(`${name} must be between ${range.min} and ${range.max}`);
  return n;
}

/** A query parameter `true` or `false`. */
export function booleanQueryParam(query: Record<string, unknown>, name: string): boolean | undefined {
  const value = singleQueryParam(query, name);
  if (value === undefined) return undefined;
  if (value !== 'true' && value !== 'false') throw MatrixError.invalidParam(`${name} must be true or false`);
  return value === 'true';
}

/** A query parameter given once or repeated: its values, at least one and at most `max`. */
export function repeatedQueryParam(query: Record<string, unknown>, name: string, max: number): string[] {
  const value = query[name];
  if (value === undefined) throw MatrixError.missingParam(`Missing query parameter ${name}`);
  const values = Array.isArray(value) ? (value as unknown[]) : [value];
  if (values.length > max) throw MatrixError.invalidParam(`at most ${max} values of ${name}`);
  return values.map((item) => (typeof item === 'string' ? item : ''));
}

/** The query string as Fastify parsed it. */
export function queryOf(query: unknown): Record<string, unknown> {
  return typeof query === 'object' && query !== null ? (query as Record<string, unknown>) : {};
}

/** A string without U+0000 (PostgreSQL cannot store it). */
export const text = z.string().refine((value) => !value.includes('\u0000'), 'may not contain U+0000');

/** A JSON body checked against `schema`: M_MISSING_PARAM for a missing field, M_BAD_JSON for any other mismatch. */
export function parseBody<S extends z.ZodTypeAny>(schema: S, body: unknown): z.output<S> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw MatrixError.badJson('The request body must be a JSON object');
  const result = schema.safeParse(body);
  if (result.success) return result.data as z.output<S>;
  const issue = result.error.issues[0];
  const field = issue.path.join('.') || 'body';
  if (issue.code === 'invalid_type' && issue.received === 'undefined') throw MatrixError.missingParam(`Missing ${field}`);
  throw MatrixError.badJson(`${field}: ${issue.message}`);
}
