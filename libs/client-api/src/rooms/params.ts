/**
 * Checks of path parameters, query strings and request bodies of the room endpoints. Bad ids
 * are 400 M_INVALID_PARAM; bodies that are not objects or have wrong-typed fields are
 * 400 M_BAD_JSON (client-server API, "Standard error response").
 */
import { MatrixError } from '@hs/http';
import { CanonicalJsonError, isValidEventId, isValidRoomAlias, isValidRoomId, isValidServerName, isValidUserId, utf8Length } from '@hs/protocol';
import { z } from 'zod';

/** Errors of the room and sync services: anything with a Matrix errcode and an HTTP status. */
interface CodedError {
  errcode: string;
  httpStatus: number;
  message: string;
}

function isCodedError(error: unknown): error is CodedError {
  return (
    error instanceof Error &&
    typeof (error as Partial<CodedError>).errcode === 'string' &&
    typeof (error as Partial<CodedError>).httpStatus === 'number'
  );
}

/**
 * The Matrix error a typed service error maps to; other errors are returned unchanged. Event
 * content that cannot be encoded as the room version's canonical JSON (floats, integers
 * outside [-(2^53)+1, 2^53-1] in room versions 6+) is 400 M_BAD_JSON.
 */
export function toClientError(error: unknown): unknown {
  if (error instanceof CanonicalJsonError) return MatrixError.badJson(error.message);
  if (error instanceof MatrixError || !isCodedError(error)) return error;
  // Further fields the error carries (e.g. room_version of M_INCOMPATIBLE_ROOM_VERSION).
  const extra: Record<string, unknown> = { ...(error as { extra?: Record<string, unknown> }).extra };
  const retry = (error as { retryAfterMs?: unknown }).retryAfterMs;
  if (typeof retry === 'number') extra.retry_after_ms = retry;
  return new MatrixError(error.httpStatus, error.errcode, error.message, extra);
}

/** Runs `work` and rethrows typed service errors as Matrix errors. */
export async function answering<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    throw toClientError(error);
  }
}

export function roomIdParam(value: string | undefined): string {
  if (value === undefined || !isValidRoomId(value)) throw MatrixError.invalidParam(`${JSON.stringify(value ?? '')} is not a valid room id`);
  return value;
}

export function userIdParam(value: unknown, name = 'user_id'): string {
  if (typeof value !== 'string' || !isValidUserId(value)) throw MatrixError.invalidParam(`${name} ${JSON.stringify(value ?? '')} is not a valid user id`);
  return value;
}

export function eventIdParam(value: string | undefined): string {
  if (value === undefined || !isValidEventId(value)) throw MatrixError.invalidParam(`${JSON.stringify(value ?? '')} is not a valid event id`);
  return value;
}

export function roomAliasParam(value: string | undefined): string {
  if (value === undefined || !isValidRoomAlias(value)) throw MatrixError.invalidParam(`${JSON.stringify(value ?? '')} is not a valid room alias`);
  return value;
}

/** A room id or a room alias (POST /join/{roomIdOrAlias}). */
export function roomIdOrAliasParam(value: string | undefined): string {
  if (value !== undefined && (isValidRoomId(value) || isValidRoomAlias(value))) return value;
  throw MatrixError.invalidParam(`${JSON.stringify(value ?? '')} is neither a room id nor a room alias`);
}

/**
 * A query-string list of server names (`via`, `server_name`), given once or repeated: the
 * names, or 400 M_INVALID_PARAM when one is not a valid server name.
 */
export function serverNamesQuery(value: unknown, name: string): string[] {
  if (value === undefined) return [];
  const values = Array.isArray(value) ? (value as unknown[]) : [value];
  return values.map((item) => {
    if (typeof item !== 'string' || !isValidServerName(item)) throw MatrixError.invalidParam(`${name} ${JSON.stringify(item)} is not a valid server name`);
    return item;
  });
}

/**
 * U+0000 cannot be stored (PostgreSQL text and jsonb refuse it), so no identifier, key or
 * string value may carry it.
 */
function hasNul(value: string): boolean {
  return value.includes('\u0000');
}

/** True when any string (key or value) of a JSON value contains U+0000. */
export function containsNul(value: unknown, depth = 0): boolean {
  if (typeof value === 'string') return hasNul(value);
  if (typeof value !== 'object' || value === null || depth > 512) return false;
  if (Array.isArray(value)) return value.some((item) => containsNul(item, depth + 1));
  return Object.entries(value).some(([key, item]) => hasNul(key) || containsNul(item, depth + 1));
}

/** Event types and state keys: at most 255 bytes (the room layer checks the rest). */
export function eventTypeParam(value: string | undefined): string {
  if (value === undefined || value.length === 0) throw MatrixError.invalidParam('the event type must not be empty');
  if (hasNul(value)) throw MatrixError.invalidParam('the event type may not contain U+0000');
  if (utf8Length(value) > 255) throw MatrixError.invalidParam('the event type is longer than 255 bytes');
  return value;
}

export function stateKeyParam(value: string | undefined): string {
  const key = value ?? '';
  if (hasNul(key)) throw MatrixError.invalidParam('the state key may not contain U+0000');
  if (utf8Length(key) > 255) throw MatrixError.invalidParam('the state key is longer than 255 bytes');
  return key;
}

/** Transaction ids: 1-255 bytes chosen by the client. */
export function txnIdParam(value: string | undefined): string {
  if (value === undefined || value.length === 0 || utf8Length(value) > 255 || hasNul(value)) throw MatrixError.invalidParam('invalid transaction id');
  return value;
}

/**
 * The request body as a JSON object (`{}` when there is none); anything else, `null`
 * included, is M_BAD_JSON. No string in it may hold U+0000.
 */
export function objectBody(body: unknown): Record<string, unknown> {
  if (body === undefined) return {};
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw MatrixError.badJson('The request body must be a JSON object');
  if (containsNul(body)) throw MatrixError.badJson('Strings in the request body may not contain U+0000');
  return body as Record<string, unknown>;
}

function describe(error: z.ZodError): string {
  const issue = error.issues[0];
  const path = issue.path.length > 0 ? issue.path.join('.') : 'body';
  return `${path}: ${issue.message}`;
}

/** Parses a body against a schema: 400 M_BAD_JSON (or M_MISSING_PARAM for a missing required field). */
export function parseBody<T extends z.ZodTypeAny>(schema: T, body: unknown): z.infer<T> {
  const result = schema.safeParse(objectBody(body));
  if (result.success) return result.data as z.infer<T>;
  const issue = result.error.issues[0];
  if (issue.code === 'invalid_type' && issue.received === 'undefined') {
    throw MatrixError.missingParam(`${issue.path.join('.')} is required`);
  }
  throw MatrixError.badJson(describe(result.error));
}

/** A query-string integer in [min, max]; 400 M_INVALID_PARAM otherwise. */
export function intQuery(value: unknown, name: string, min: number, max: number): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || !/^-?[0-9]{1,16}$/.test(value)) throw MatrixError.invalidParam(`${name} must be an integer`);
  const n = Number(value);
  if (n < min) throw MatrixError.invalidParam(`${name} must be at least ${min}`);
  return Math.min(n, max);
}

/** A single query-string value (a repeated parameter is refused). */
export function stringQuery(value: unknown, name: string): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw MatrixError.invalidParam(`${name} must be given once`);
  return value;
}

export const optionalReason = z.string().max(2048).optional();

/** An invitee named by a third-party identifier (definitions/invite_3pid.yaml). */
export const invite3pidBody = z.object({
  id_server: z.string(),
  // Required by the schema, but servers may treat it as optional (older clients omit it).
  id_access_token: z.string().optional(),
  medium: z.string(),
  address: z.string(),
});

/**
 * Refuses an invite by third-party identifier (the third-party form of POST
 * /rooms/{roomId}/invite, and createRoom's `invite_3pid`). The spec has the homeserver look
 * the identifier up with the identity server the client names (`id_server`) and, when no
 * user is bound to it, store the invite there; this server contacts no identity server, so
 * it trusts none. The spec's error code for exactly that, "the client's request used a
 * third-party server, e.g. identity server, that this server does not trust", is
 * M_SERVER_NOT_TRUSTED; it comes with 403, the refusal status POST /invite documents for its
 * third-party form ("a meaningful errcode and description error text").
 */
export function refuseThirdPartyInvite(invite: z.infer<typeof invite3pidBody>): never {
  throw new MatrixError(
    403,
    'M_SERVER_NOT_TRUSTED',
    `This server does not use identity servers (${invite.id_server} included): invite the user by their Matrix user ID`,
  );
}
