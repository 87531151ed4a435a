/**
 * Secrets never reach the logs: access tokens (the `access_token` query parameter some
 * clients use, the Authorization header), passwords, registration tokens and the nonce and
 * mac of shared-secret registration. Request log lines carry the URL with those query values
 * replaced, errors are serialized without the data they carry (SQL values, rows, raw packets)
 * and with secrets cut out of their messages, log messages are scrubbed the same way, and
 * fields with those names are redacted where log lines usually put them.
 */
import pino, { type Logger, type LoggerOptions } from 'pino';

export const REDACTED = '[Redacted]';

/** Names of fields and query parameters whose values are secrets (compared in lower case). */
const SECRET_NAMES: readonly string[] = [
  'access_token',
  'accesstoken',
  'refresh_token',
  'refreshtoken',
  'login_token',
  'logintoken',
  'token',
  'registration_token',
  'password',
  'new_password',
  'newpassword',
  'old_password',
  'mac',
  'nonce',
  'shared_secret',
  'client_secret',
  'secret',
  'authorization',
  'cookie',
];
const SECRET_NAME_SET: ReadonlySet<string> = new Set(SECRET_NAMES);

/** Error properties that carry the data a failed statement or request worked on. */
const ERROR_DATA_FIELDS: ReadonlySet<string> = new Set(['values', 'row', 'rawpacket', 'parameters', 'body', 'headers']);

function isSecretName(name: string): boolean {
  return SECRET_NAME_SET.has(name.toLowerCase());
}

function decodeQueryName(raw: string): string {
  try {
    return decodeURIComponent(raw.replace(/\+/g, ' '));
  } catch {
    return raw;
  }
}

/** `url` (a request target, path and query) with the values of secret query parameters replaced. */
export function redactUrl(url: string): string {
  const question = url.indexOf('?');
  if (question < 0) return url;
  const query = url
    .slice(question + 1)
    .split('&')
    .map((part) => {
      const equals = part.indexOf('=');
      const name = equals < 0 ? part : part.slice(0, equals);
      return isSecretName(decodeQueryName(name)) ? `${name}=${REDACTED}` : part;
    });
  return `${url.slice(0, question + 1)}${query.join('&')}`;
}

const NAMES = SECRET_NAMES.join('|');
/** `name=value` as in a query string or a form (`access_token=…`). */
const ASSIGNED_SECRET = new RegExp(`((?:^|[^A-Za-z0-9_])(?:${NAMES})=)[^&#\\s"',;]*`, 'gi');
/** `"name": "value"` as in JSON text. */
const JSON_SECRET = new RegExp(`("(?:${NAMES})"\\s*:\\s*)"(?:[^"\\\\]|\\\\.)*"`, 'gi');
/** `Bearer <token>` as in an Authorization header. */
const BEARER = /(Bearer\s+)[^\s"',;]+/gi;
const MAY_HOLD_SECRET = new RegExp(`${NAMES}|bearer`, 'i');

/** `text` with secret values cut out of `name=value`, `"name": "value"` and `Bearer <token>`. */
export function redactSecretsInText(text: string): string {
  if (!MAY_HOLD_SECRET.test(text)) return text;
  return text.replace(ASSIGNED_SECRET, `$1${REDACTED}`).replace(JSON_SECRET, `$1"${REDACTED}"`).replace(BEARER, `$1${REDACTED}`);
}

/** A copy of a serialized value with secret fields redacted, data fields dropped and strings scrubbed. */
function scrub(value: unknown, depth: number, seen: Set<object>): unknown {
  if (typeof value === 'string') return redactSecretsInText(value);
  if (typeof value !== 'object' || value === null) return value;
  if (depth > 8 || seen.has(value)) return '[…]';
  seen.add(value);
  if (Array.isArray(value)) return value.map((item) => scrub(item, depth + 1, seen));
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) {
    if (isSecretName(key)) out[key] = REDACTED;
    else if (!ERROR_DATA_FIELDS.has(key.toLowerCase())) out[key] = scrub(item, depth + 1, seen);
  }
  return out;
}

interface LoggedRequest {
  method?: string;
  url?: string;
  host?: string;
  ip?: string;
  socket?: { remotePort?: number };
}

/** The `req` field of request log lines: method, URL (secret query values redacted), host and peer. */
export function serializeRequest(request: LoggedRequest): Record<string, unknown> {
  return {
    method: request.method,
    url: typeof request.url === 'string' ? redactUrl(request.url) : undefined,
    host: request.host,
    remoteAddress: request.ip,
    remotePort: request.socket?.remotePort,
  };
}

/** The `err` field of log lines: type, message, stack and code, without the data the error carries or secrets in its text. */
export function serializeError(error: unknown): unknown {
  if (!(error instanceof Error)) return scrub(error, 0, new Set());
  return scrub(pino.stdSerializers.err(error), 0, new Set());
}

/** Fields redacted by pino wherever log lines usually carry them (fixed paths: they cost nothing). */
const REDACT_PATHS: readonly string[] = [
  ...SECRET_NAMES.filter((name) => /^[a-z_]+$/.test(name)),
  ...['authorization', 'cookie'].flatMap((name) => [`headers.${name}`, `req.headers.${name}`, `request.headers.${name}`]),
  ...['password', 'new_password', 'token', 'registration_token', 'mac', 'nonce', 'access_token', 'refresh_token'].flatMap((name) => [
    `body.${name}`,
    `body.auth.${name}`,
  ]),
];

const SERIALIZERS = { req: serializeRequest, err: serializeError };

/**
 * Options of the process logger (pino) with the redaction above: serializers, redacted paths,
 * and log messages scrubbed of secrets.
 */
export function redactingLoggerOptions(level: string): LoggerOptions {
  return {
    level,
    serializers: SERIALIZERS,
    redact: { paths: [...REDACT_PATHS], censor: REDACTED },
    hooks: {
      logMethod(args, method) {
        method.apply(
          this,
          args.map((arg: unknown) => (typeof arg === 'string' ? redactSecretsInText(arg) : arg)) as Parameters<typeof method>,
        );
      },
    },
  };
}

/** A child of `logger` that serializes requests and errors and redacts fields as above. */
export function redactingChildLogger(logger: Logger): Logger {
  return logger.child({}, { serializers: SERIALIZERS, redact: { paths: [...REDACT_PATHS], censor: REDACTED } });
}
