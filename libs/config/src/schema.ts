/**
 * The one source of truth for the configuration file: every key's validation (zod), its
 * default and its documentation. The loader (./load.ts), the sample file
 * (homeserver.sample.yaml), the reference in docs/configuration.md and the environment
 * overrides are all derived from this schema.
 */
import { z } from 'zod';
import { DEFAULT_ROOM_VERSION, ROOM_VERSIONS, isKnownRoomVersion } from '@hs/protocol';

/** Documentation attached to one key of the schema. */
export interface KeyDoc {
  /** What the key means, in a sentence or two. */
  doc: string;
  /** A value to show in the sample when the key has no default. */
  example?: unknown;
  /** The value is a file system path; a relative one resolves against the config file's folder. */
  path?: boolean;
}

const keyDocs = new WeakMap<z.ZodTypeAny, KeyDoc>();

/** Attaches documentation to a key's schema and returns the same schema. */
function key<T extends z.ZodTypeAny>(schema: T, doc: KeyDoc): T {
  keyDocs.set(schema, doc);
  return schema;
}

/** The documentation of a key's schema, if it has some. */
export function keyDoc(schema: z.ZodTypeAny): KeyDoc | undefined {
  return keyDocs.get(schema);
}

/**
 * Server name grammar of the appendices ("Server name"): a DNS name, an IPv4 literal or a
 * bracketed IPv6 literal, optionally followed by `:port`.
 */
const SERVER_NAME = /^(?:\[[0-9A-Fa-f:.]{2,45}\]|[0-9]{1,3}(?:\.[0-9]{1,3}){3}|[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*)(?::[0-9]{1,5})?$/;

/** What a process of the server can do (`roles`); one process does all of it by default. */
export const SERVER_ROLES = ['client', 'media', 'room-writer', 'federation', 'federation-sender', 'projector', 'pusher', 'appservice-sender'] as const;

/** Default thumbnail sizes (what Synapse and Dendrite offer). */
const DEFAULT_THUMBNAIL_SIZES = ['32x32 crop', '96x96 crop', '320x240 scale', '640x480 scale', '800x600 scale'] as const;

const thumbnailSize = z.string().regex(/^[1-9][0-9]{0,3}x[1-9][0-9]{0,3} (crop|scale)$/, 'must be WIDTHxHEIGHT crop or WIDTHxHEIGHT scale (at most 9999 pixels a side)');

/** Ranges a URL preview never fetches from: loopback, private, link-local, CGNAT, multicast, reserved, unique-local IPv6. */
const DEFAULT_PREVIEW_DENY_LIST = [
  '0.0.0.0/8', '10.0.0.0/8', '100.64.0.0/10', '127.0.0.0/8', '169.254.0.0/16', '172.16.0.0/12', '192.0.0.0/24', '192.0.2.0/24',
  '192.168.0.0/16', '198.18.0.0/15', '198.51.100.0/24', '203.0.113.0/24', '224.0.0.0/4', '240.0.0.0/4',
  '::1/128', '::/128', 'fe80::/10', 'fc00::/7', '2001:db8::/32', 'ff00::/8', '::ffff:0:0/96',
] as const;

function isServerName(value: string): boolean {
  if (value.length > 255 || !SERVER_NAME.test(value)) return false;
  const port = /:([0-9]{1,5})$/.exec(value.startsWith('[') ? value.slice(value.indexOf(']')) : value);
  return port === null || (Number(port[1]) >= 1 && Number(port[1]) <= 65535);
}

/** An http:// or https:// URL without query or fragment. */
export function isHttpUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.search === '' && url.hash === '';
  } catch {
    return false;
  }
}

function isPostgresUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return url.protocol === 'postgres:' || url.protocol === 'postgresql:';
  } catch {
    return false;
  }
}

const port = (fallback: number, doc: string) =>
  key(z.number().int('must be a whole number').min(0, 'must be between 0 and 65535').max(65535, 'must be between 0 and 65535').default(fallback), {
    doc: `${doc} 0 picks a free port.`,
  });

const nonEmpty = z.string().min(1, 'must not be empty');

/** A duration in whole milliseconds, 0 meaning none. */
const milliseconds = (fallback: number) => z.number().int('must be a whole number').min(0, 'must be at least 0').default(fallback);

const rateLimitRule = (doc: string, perSecond: number, burst: number) =>
  key(
    z
      .object({
        per_second: key(z.number().positive('must be greater than 0').default(perSecond), { doc: 'Sustained requests per second.' }),
        burst_count: key(z.number().int('must be a whole number').positive('must be at least 1').default(burst), {
          doc: 'Requests allowed in a burst above the sustained rate.',
        }),
      })
      .strict()
      .default({}),
    { doc },
  );

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** `ed25519:<version>`, the version of [a-zA-Z0-9_]. */
const ED25519_KEY_ID = /^ed25519:[a-zA-Z0-9_]+$/;

/** Unpadded (or padded) standard Base64 of a 32-byte Ed25519 public key. */
function isEd25519PublicKey(value: string): boolean {
  return /^[A-Za-z0-9+/]{43}=?$/.test(value) && Buffer.from(value, 'base64').length === 32;
}

const keyId = z.string().regex(ED25519_KEY_ID, 'must be a key id ed25519:<version>, the version of letters, digits and _');
const publicKey = z.string().refine(isEd25519PublicKey, 'must be the unpadded Base64 of a 32-byte Ed25519 public key');

const HOUR_MS = 60 * 60 * 1000;

/** A server name or a glob of them (`*`, `?`) in the federation allow and deny lists. */
const serverNamePattern = z
  .string()
  .max(255, 'must be at most 255 characters')
  .regex(/^[A-Za-z0-9.:[\]*?-]+$/, 'must be a server name or a glob of them: letters, digits, ".", "-", ":", "[", "]", "*" and "?"');

/** The schema of homeserver.yaml. Only `server_name` is required; every other key has a default. */
export const configSchema = z
  .object({
    server_name: key(
      nonEmpty.refine(isServerName, 'must be a server name: a DNS name, IPv4 address or [IPv6] literal, optionally with :port'),
      {
        doc: 'The domain part of user ids and room aliases (@alice:<server_name>). It cannot be changed once users and rooms exist.',
        example: 'example.org',
      },
    ),
    public_baseurl: key(z.string().refine(isHttpUrl, 'must be an http:// or https:// URL without query or fragment').optional(), {
      doc: 'The URL clients reach the client API at, advertised in /.well-known/matrix/client. Defaults to https://<server_name>/.',
      example: 'https://matrix.example.org/',
    }),
    serve_server_wellknown: key(z.boolean().default(true), {
      doc: 'Serve /.well-known/matrix/server on the client listener, delegating federation to <server_name host>:<federation_listener.port>.',
    }),
    client_listener: key(
      z
        .object({
          bind_address: key(nonEmpty.default('0.0.0.0'), { doc: 'Address the client API (plain HTTP) listens on.' }),
          port: port(8008, 'Port of the client API.'),
          headers_timeout_ms: key(milliseconds(10_000), {
            doc: 'Time a client has to send the request line and headers, in milliseconds; a connection still sending them then gets 408 and is closed. 0 turns the limit off.',
          }),
          request_timeout_ms: key(milliseconds(60_000), {
            doc: 'Time a client has to send a whole request (headers and body), in milliseconds; 0 turns the limit off. It does not limit the answer: a /sync long-poll waits as long as it asks. At least headers_timeout_ms.',
          }),
          max_connections_per_address: key(z.number().int('must be a whole number').min(0, 'must be at least 0').default(100), {
            doc: 'Connections one remote address may hold open at once; a connection over it gets 429 M_LIMIT_EXCEEDED and is closed. 0 turns the limit off. Loopback addresses (127.0.0.0/8, ::1) are not limited, since behind a reverse proxy on the same host every connection comes from one; behind a proxy on another host, set 0.',
          }),
        })
        .strict()
        .superRefine((listener, ctx) => {
          if (listener.request_timeout_ms > 0 && listener.headers_timeout_ms > listener.request_timeout_ms) {
            ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['headers_timeout_ms'], message: `must not exceed request_timeout_ms (${listener.request_timeout_ms})` });
          }
        })
        .default({}),
      { doc: 'The client-server API listener (plain HTTP; put a TLS-terminating reverse proxy in front of it).' },
    ),
    federation_listener: key(
      z
        .object({
          enabled: key(z.boolean().default(true), { doc: 'Whether to run the federation listener at all.' }),
          bind_address: key(nonEmpty.default('0.0.0.0'), { doc: 'Address the federation API (HTTPS) listens on.' }),
          port: port(8448, 'Port of the federation API.'),
          tls_certificate_path: key(nonEmpty.default('tls.crt'), {
            doc: 'PEM certificate (chain) served by the federation listener.',
            path: true,
          }),
          tls_private_key_path: key(nonEmpty.default('tls.key'), { doc: 'PEM private key of that certificate.', path: true }),
        })
        .strict()
        .default({}),
      { doc: 'The server-server (federation) API listener, served over HTTPS.' },
    ),
    database: key(
      z
        .object({
          data_dir: key(nonEmpty.default('data'), {
            doc: 'Folder of the embedded database (PGlite). Used when `url` is not set.',
            path: true,
          }),
          url: key(z.string().refine(isPostgresUrl, 'must be a postgres:// or postgresql:// URL').optional(), {
            doc: 'PostgreSQL connection URL. When set, PostgreSQL is used instead of the embedded database.',
            example: 'postgres://synapse:secret@localhost:5432/homeserver',
          }),
          max_connections: key(z.number().int('must be a whole number').min(1, 'must be at least 1').max(1000, 'must be at most 1000').default(10), {
            doc: 'Maximum connections in the database pool.',
          }),
        })
        .strict()
        .default({}),
      { doc: 'Where the event store and the read models live.' },
    ),
    old_signing_keys: key(
      z.record(keyId, z.object({ key: publicKey, expired_ts: z.number().int('must be a whole number').min(0, 'must be at least 0') }).strict()).default({}),
      {
        doc: 'Public keys this server signed with before (key id -> {key: unpadded Base64 public key, expired_ts: when it stopped being used, ms since the epoch}), published as old_verify_keys so that other servers can still check events signed with them. Example: {"ed25519:a_old": {key: "<base64>", expired_ts: 1700000000000}}.',
      },
    ),
    trusted_key_servers: key(
      z
        .array(
          z
            .object({
              server_name: nonEmpty.refine(isServerName, 'must be a server name'),
              verify_keys: z.record(keyId, publicKey).refine((keys) => Object.keys(keys).length > 0, 'must name at least one key'),
            })
            .strict(),
        )
        .default([]),
      {
        doc: 'Notary servers asked (POST /_matrix/key/v2/query) for other servers\' signing keys before asking those servers directly; each answer must be signed by one of the notary\'s verify_keys (key id -> unpadded Base64 public key). Example: [{server_name: "matrix.org", verify_keys: {"ed25519:auto": "Noi6WqcDj0QmPxCNQqgezwTlBKrfqehY1u2FyWP9uYw"}}]. Empty: keys are fetched from each server directly.',
      },
    ),
    federation: key(
      z
        .object({
          key_response_validity_ms: key(
            z.number().int('must be a whole number').min(HOUR_MS, `must be at least ${HOUR_MS} (an hour)`).max(7 * 24 * HOUR_MS, `must be at most ${7 * 24 * HOUR_MS} (7 days)`).default(24 * HOUR_MS),
            {
              doc: 'How long the key response this server publishes (GET /_matrix/key/v2/server) says its keys are valid (valid_until_ts = now + this), in milliseconds. Other servers refetch after it; a shorter time lets a key change reach them sooner.',
            },
          ),
          verify_tls_certificates: key(z.boolean().default(true), {
            doc: 'Check the TLS certificates of other servers (the system CAs, NODE_EXTRA_CA_CERTS and tls_ca_file). Turn off only for test set-ups: any server can then impersonate any other, and the log says so at start-up.',
          }),
          tls_ca_file: key(nonEmpty.nullable().default(null), {
            doc: 'A PEM file of extra certificate authorities to trust for other servers\' certificates, besides the system CAs and NODE_EXTRA_CA_CERTS.',
            path: true,
          }),
          request_timeout_ms: key(z.number().int('must be a whole number').min(100, 'must be at least 100').default(10_000), {
            doc: 'Longest time an outbound federation request may take, connection included, in milliseconds. Fetching the /.well-known/matrix/server of a server name not in the cache has a deadline of the same length of its own.',
          }),
          allowed_servers: key(z.array(serverNamePattern).default([]), {
            doc: 'When not empty, the only servers this server federates with: server names or globs (* any characters, ? one), matched case-insensitively against the whole server name and against its host without the port (so example.org also covers example.org:8448). Requests from other servers get 403 M_FORBIDDEN; none are sent to them. Example: ["example.org", "*.example.org"].',
          }),
          denied_servers: key(z.array(serverNamePattern).default([]), {
            doc: 'Servers this server never federates with, written and matched like allowed_servers, taking precedence over it. Example: ["evil.example", "*.evil.example"].',
          }),
          destination_min_retry_interval_ms: key(z.number().int('must be a whole number').min(10, 'must be at least 10').default(1_000), {
            doc: 'Wait before retrying a server a transaction could not be sent to, in milliseconds; doubled after each further failure (with jitter) up to destination_max_retry_interval_ms.',
          }),
          destination_max_retry_interval_ms: key(z.number().int('must be a whole number').min(10, 'must be at least 10').default(HOUR_MS), {
            doc: 'Longest wait between two attempts to send to an unreachable server, in milliseconds. A server that sends us a request is retried at once.',
          }),
        })
        .strict()
        .default({}),
      { doc: 'Talking to other servers.' },
    ),
    signing_key_path: key(nonEmpty.default('signing.key'), {
      doc: 'Ed25519 signing key file, one line `ed25519 <key version> <unpadded base64 seed>` (`npm run admin -- generate-keys` writes one).',
      path: true,
    }),
    registration: key(
      z
        .object({
          enabled: key(z.boolean().default(false), { doc: 'Allow anyone to register an account through the client API.' }),
          shared_secret: key(z.string().min(16, 'must be at least 16 characters').nullable().default(null), {
            doc: 'Secret of the shared-secret registration admin API; null turns that API off.',
          }),
          registration_token: key(nonEmpty.nullable().default(null), {
            doc: 'When set, registration also requires this token (m.login.registration_token).',
          }),
          requires_token: key(z.boolean().default(false), {
            doc: 'Registration requires a registration token (m.login.registration_token): one made through the admin API (/_synapse/admin/v1/registration_tokens), or registration_token. Setting registration_token requires one as well.',
          }),
          allow_guest_access: key(z.boolean().default(false), {
            doc: 'Allow guest accounts (POST /register?kind=guest, no password). Guests reach only the endpoints the spec gives them (reading rooms, joining rooms whose m.room.guest_access is can_join, sending messages, their devices and keys) and may upgrade to a full account by registering with their guest_access_token.',
          }),
        })
        .strict()
        .default({}),
      { doc: 'Who may create accounts.' },
    ),
    login_via_existing_session: key(
      z
        .object({
          enabled: key(z.boolean().default(false), {
            doc: 'Let a signed-in device get a one-time login token for a new device (POST /_matrix/client/v1/login/get_token, after the user authenticates again); the new device signs in with m.login.token. Clients use it to sign in a phone from a laptop.',
          }),
          token_timeout_ms: key(milliseconds(120_000), { doc: 'How long a login token stays valid.' }),
        })
        .strict()
        .default({}),
      { doc: 'Signing in a new device from one already signed in.' },
    ),
    rate_limits: key(
      z
        .object({
          enabled: key(z.boolean().default(true), { doc: 'Turn rate limiting on or off as a whole.' }),
          login: rateLimitRule('Login attempts per client address.', 0.17, 3),
          registration: rateLimitRule('Registration attempts per client address.', 0.17, 3),
          message: rateLimitRule('Events sent per user.', 0.2, 10),
        })
        .strict()
        .default({}),
      { doc: 'Limits answered with 429 M_LIMIT_EXCEEDED and retry_after_ms.' },
    ),
    logging: key(
      z
        .object({
          level: key(z.enum(LOG_LEVELS, { errorMap: () => ({ message: `must be one of ${LOG_LEVELS.join(', ')}` }) }).default('info'), {
            doc: `Least severe level written to the log (${LOG_LEVELS.join(', ')}).`,
          }),
        })
        .strict()
        .default({}),
      { doc: 'Structured (JSON) logs on standard output.' },
    ),
    media: key(
      z
        .object({
          store_path: key(nonEmpty.default('media'), { doc: 'Folder where uploaded media files are kept.', path: true }),
          max_upload_size_bytes: key(z.number().int('must be a whole number').positive('must be at least 1').default(50 * 1024 * 1024), {
            doc: 'Largest media upload accepted, in bytes (larger ones get 413 M_TOO_LARGE); also the largest remote media fetched.',
          }),
          thumbnail_sizes: key(z.array(thumbnailSize).min(1, 'must name at least one size').default([...DEFAULT_THUMBNAIL_SIZES]), {
            doc: 'Thumbnail sizes generated, as `WIDTHxHEIGHT crop` or `WIDTHxHEIGHT scale`; a request gets the smallest configured size of its method at least as large as it asked.',
          }),
          pregenerate_thumbnails: key(z.boolean().default(true), {
            doc: 'Make the thumbnails of every configured size of an uploaded image in the background right after the upload (else each on its first request).',
          }),
          max_thumbnail_source_pixels: key(z.number().int('must be a whole number').positive('must be at least 1').default(64 * 1024 * 1024), {
            doc: 'Images with more pixels than this are not thumbnailed (a decompression bomb guard).',
          }),
          legacy_unauthenticated_frozen_at_ms: key(z.number().int('must be a whole number').min(0, 'must be at least 0').nullable().default(null), {
            doc: 'Freeze of the unauthenticated /_matrix/media/v3 download and thumbnail paths (time in ms since the epoch): media uploaded after it is 404 there and only served under /_matrix/client/v1/media. Null serves every item on both.',
          }),
          max_pending_creates_per_user: key(z.number().int('must be a whole number').positive('must be at least 1').default(50), {
            doc: 'Media ids a user may hold reserved (POST /_matrix/media/v1/create) without uploading them; more get 429 M_LIMIT_EXCEEDED.',
          }),
          unused_expires_after_ms: key(z.number().int('must be a whole number').positive('must be at least 1').default(24 * 60 * 60 * 1000), {
            doc: 'How long a reserved media id may wait for its upload.',
          }),
          max_stall_ms: key(z.number().int('must be a whole number').min(0, 'must be at least 0').default(20_000), {
            doc: 'Longest time a download waits for reserved media to be uploaded (the client may ask less with timeout_ms).',
          }),
          url_preview: key(
            z
              .object({
                enabled: key(z.boolean().default(false), { doc: 'Serve /preview_url (the server fetches pages its users name).' }),
                ip_deny_list: key(z.array(nonEmpty).default([...DEFAULT_PREVIEW_DENY_LIST]), {
                  doc: 'Address ranges (CIDR) the URL preview never connects to; private, loopback and link-local ranges by default.',
                }),
                max_page_bytes: key(z.number().int('must be a whole number').positive('must be at least 1').default(1024 * 1024), {
                  doc: 'Largest page read for a preview, in bytes.',
                }),
              })
              .strict()
              .default({}),
            { doc: 'URL previews (OpenGraph tags of a page).' },
          ),
        })
        .strict()
        .default({}),
      { doc: 'The content repository.' },
    ),
    roles: key(
      z
        .array(z.enum(SERVER_ROLES, { errorMap: () => ({ message: `must be one of ${SERVER_ROLES.join(', ')}` }) }))
        .min(1, 'must name at least one role')
        .refine((roles) => new Set(roles).size === roles.length, 'must not name a role twice')
        .default([...SERVER_ROLES]),
      {
        doc: 'What this process does when the server runs as several processes on one database (docs/scale-out.md): `client` serves the client API and /sync; `media` serves the content repository (`/_matrix/media/...`, `/_matrix/client/v1/media/...`; its processes share `media.store_path`); `room-writer` writes the rooms the Kafka partition assignment gives it (commands for a room go to its one writer); `federation` serves the federation listener (when enabled) to other servers; `federation-sender` sends events and EDUs to other servers; `projector` runs the projections; `pusher` delivers push notifications; `appservice-sender` sends transactions to application services. Run as many processes with client, media, room-writer and federation as you like (at least one room-writer); one with each of projector and federation-sender does the work while others with them stand by; run exactly one with each of pusher and appservice-sender. Any split needs `kafka.brokers`. The default runs every role in one process, with no Kafka.',
      },
    ),
    kafka: key(
      z
        .object({
          brokers: key(z.array(z.string().regex(/^[^\s:]+:[0-9]{1,5}$/, 'must be host:port')).default([]), {
            doc: 'Kafka brokers (host:port) of the bus between the processes of one server: read-model wake-ups for /sync and typing notifications. Empty: one process, no Kafka.',
          }),
          topic_prefix: key(z.string().regex(/^[A-Za-z0-9._-]*$/, 'may hold only letters, digits, dots, dashes and underscores').default('homeserver.'), {
            doc: 'Prefix of the topics and consumer groups (several servers may share one cluster).',
          }),
          partitions: key(z.number().int('must be a whole number').min(1, 'must be at least 1').max(1000, 'must be at most 1000').default(8), {
            doc: 'Partitions of each topic the server creates when it is missing.',
          }),
          replication_factor: key(z.number().int('must be a whole number').min(-1, 'must be -1 or at least 1').refine((n) => n !== 0, 'must be -1 or at least 1').default(-1), {
            doc: 'Replication factor of each topic the server creates; -1 takes the broker\'s default.',
          }),
          client_id: key(z.string().min(1, 'must not be empty').default('homeserver'), { doc: 'The client id the brokers see.' }),
        })
        .strict()
        .default({}),
      { doc: 'Scale-out: the bus between the processes of one server (docs/scale-out.md).' },
    ),
    read_consistency: key(
      z
        .object({
          enabled: key(z.boolean().default(true), {
            doc: 'Make every read reflect the writes acknowledged before it (reads wait for the read models). Turn off only to measure what the rule costs.',
          }),
          max_wait_ms: key(z.number().int('must be a whole number').min(0, 'must be at least 0').max(60_000, 'must be at most 60000').default(2000), {
            doc: 'Longest time a read waits for a lagging read model before it answers from what that read model holds (the lag is logged and /health reports degraded).',
          }),
          horizon: key(z.enum(['process', 'store'], { errorMap: () => ({ message: 'must be process or store' }) }).default('process'), {
            doc: 'What reads wait for: `process`, the writes this process acknowledged (exact when one process writes to the event store, and free); `store`, the event store\'s committed head, read once per read (needed when several processes write to one store, and taken whenever `kafka.brokers` is set).',
          }),
        })
        .strict()
        .default({}),
      { doc: 'Read-your-writes: reads of projections (/sync, /messages, /event, /state, ...) see every acknowledged write.' },
    ),
    presence: key(
      z
        .object({
          enabled: key(z.boolean().default(true), {
            doc: 'Track and share the presence of local users (online, unavailable, offline, status messages) in /sync, GET /events and the initial syncs. Off (what large servers do to save work): PUT /presence is accepted and ignored, GET /presence answers offline for everyone, /sync has no presence section and set_presence changes nothing.',
          }),
        })
        .strict()
        .default({}),
      { doc: 'Presence (Synapse\'s key of the same name).' },
    ),
    user_directory: key(
      z
        .object({
          search_all_users: key(z.boolean().default(false), {
            doc: 'POST /user_directory/search finds every local user as well, not only the users who share a room with the searcher or are in a public room.',
          }),
        })
        .strict()
        .default({}),
      { doc: 'The user directory (Synapse\'s key of the same name).' },
    ),
    app_service_config_files: key(z.array(z.string().min(1, 'must not be empty')).default([]), {
      doc: 'Registration files (YAML) of the application services (bridges, bots) this server serves, one per service: id, url, as_token, hs_token, sender_localpart, namespaces, rate_limited, protocols. A file that cannot be read or is not valid stops start-up. See docs/appservices.md. Example: ["/etc/matrix/irc-bridge.yaml"].',
      path: true,
    }),
    max_request_body_bytes: key(z.number().int('must be a whole number').positive('must be at least 1').default(10 * 1024 * 1024), {
      doc: 'Largest request body accepted on any API endpoint, in bytes; larger ones get 413 M_TOO_LARGE.',
    }),
    default_room_version: key(
      z.string().refine(isKnownRoomVersion, `must be a known room version (${[...ROOM_VERSIONS.keys()].join(', ')})`).default(DEFAULT_ROOM_VERSION),
      { doc: 'Room version of newly created rooms.' },
    ),
  })
  .strict()
  .superRefine((config, ctx) => {
    const client = config.client_listener;
    const federation = config.federation_listener;
    if (federation.enabled && client.port !== 0 && client.port === federation.port && client.bind_address === federation.bind_address) {
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        path: ['federation_listener', 'port'],
        message: `must differ from client_listener.port (${client.port})`,
      });
    }
    if (SERVER_ROLES.some((role) => !config.roles.includes(role)) && config.kafka.brokers.length === 0) {
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        path: ['kafka', 'brokers'],
        message: `must name at least one broker when this process runs only some roles (${config.roles.join(', ')})`,
      });
    }
    const retry = config.federation;
    if (retry.destination_min_retry_interval_ms > retry.destination_max_retry_interval_ms) {
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        path: ['federation', 'destination_min_retry_interval_ms'],
        message: `must not exceed federation.destination_max_retry_interval_ms (${retry.destination_max_retry_interval_ms})`,
      });
    }
  });

/** What the schema produces before derived defaults and path resolution. */
export type ValidatedConfig = z.output<typeof configSchema>;
export type ConfigInput = z.input<typeof configSchema>;
