/**
 * Request bodies and query parameters checked against zod schemas, with the spec's error
 * codes: a body that is not a JSON object or a field of the wrong type is M_BAD_JSON, a
 * missing required field M_MISSING_PARAM (the JSON itself was checked by the body parser:
 * M_NOT_JSON).
 */
import { MatrixError } from '@hs/http';
import { z } from 'zod';

function describePath(path: readonly (string | number)[]): string {
  return path.length === 0 ? 'body' : path.map((part) => (typeof part === 'number' ? `[${part}]` : part)).join('.').replace(/\.\[/g, '[');
}

/** The Matrix error of the first zod issue. */
export function zodIssueToMatrixError(error: z.ZodError, what = 'body'): MatrixError {
  const issue = error.issues[0];
  const field = issue.path.length === 0 ? what : describePath(issue.path);
  if (issue.code === 'invalid_type' && issue.received === 'undefined') return MatrixError.missingParam(`Missing ${field}`);
  if (issue.code === 'custom' && issue.params?.errcode === 'M_INVALID_PARAM') return MatrixError.invalidParam(`${field}: ${issue.message}`);
  return MatrixError.badJson(`Invalid ${field}: ${issue.message}`);
}

/**
 * Parses a JSON request body. An absent body counts as `{}` (so that missing fields are
 * reported as missing); anything other than a JSON object is M_BAD_JSON.
 */
export function parseBody<S extends z.ZodTypeAny>(schema: S, body: unknown): z.output<S> {
  const value = body === undefined ? {} : body;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw MatrixError.badJson('The request body must be a JSON object');
  const result = schema.safeParse(value);
  if (!result.success) throw zodIssueToMatrixError(result.error);
  return result.data as z.output<S>;
}

/** A JSON object body of any shape (account data content, filters, tags). */
export function parseObjectBody(body: unknown): Record<string, unknown> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw body === undefined ? MatrixError.notJson('The request body must be a JSON object') : MatrixError.badJson('The request body must be a JSON object');
  }
  return body as Record<string, unknown>;
}

/** Reads one query parameter (the first, when repeated). */
export function queryParam(query: unknown, name: string): string | undefined {
  if (typeof query !== 'object' || query === null) return undefined;
  const value = (query as Record<string, unknown>)[name];
  const first = Array.isArray(value) ? value[0] : value;
  return typeof first === 'string' ? first : undefined;
}

/** A query parameter that must be present. */
export function requireQueryParam(query: unknown, name: string): string {
  const value = queryParam(query, name);
  if (value === undefined) throw MatrixError.missingParam(`Missing query parameter ${name}`);
  return value;
}

/** A query parameter `true`/`false`; the default when absent; M_INVALID_PARAM otherwise. */
export function booleanQueryParam(query: unknown, name: string, fallback: boolean): boolean {
  const value = queryParam(query, name);
  if (value === undefined) return fallback;
  if (value === 'true') return true;
  if (value === 'false') return false;
  throw MatrixError.invalidParam(`${name} must be true or false`);
}
