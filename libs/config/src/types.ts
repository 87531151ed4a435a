/**
 * The homeserver's configuration as the rest of the code sees it, after the YAML file was
 * read, environment overrides applied and every key validated (see ./schema.ts).
 * Relative paths are already resolved against the config file's folder.
 */
export interface RateLimitRule {
  /** Sustained requests per second. */
  per_second: number;
  /** Requests allowed in a burst above the sustained rate. */
  burst_count: number;
}

/** What a process of the server can do (`roles`). */
export type ServerRole = 'client' | 'media' | 'room-writer' | 'federation' | 'federation-sender' | 'projector' | 'pusher' | 'appservice-sender';

export interface HomeserverConfig {
  /** The domain part of user ids and room aliases, e.g. `example.org` (port allowed). */
  server_name: string;
  /** The URL clients reach the client API at; advertised in /.well-known/matrix/client. */
  public_baseurl: string;
  /** What /.well-known/matrix/server delegates to (host:port); defaults to server_name:federation port. */
  serve_server_wellknown: boolean;
  client_listener: {
    bind_address: string;
    port: number;
    /** Time a client has to send the request line and headers, in milliseconds (0: no limit). */
    headers_timeout_ms: number;
    /** Time a client has to send a whole request, in milliseconds (0: no limit); not the time of the answer. */
    request_timeout_ms: number;
    /** Open connections allowed per remote address, loopback addresses exempt (0: no limit). */
    max_connections_per_address: number;
  };
  federation_listener: {
    enabled: boolean;
    bind_address: string;
    port: number;
    tls_certificate_path: string;
    tls_private_key_path: string;
  };
  database: {
    /** Folder of the embedded database (PGlite); used when `url` is not set. */
    data_dir: string;
    /** A PostgreSQL connection URL; when set, PostgreSQL is used instead of the embedded database. */
    url?: string;
    /** Maximum connections in the pool. */
    max_connections: number;
  };
  /** Keys we signed with before: key id -> public key and when it stopped being used (published as old_verify_keys). */
  old_signing_keys: Record<string, { key: string; expired_ts: number }>;
  /** Notaries asked for other servers' keys: each with the keys (key id -> Base64 public key) its answers must be signed with. */
  trusted_key_servers: Array<{ server_name: string; verify_keys: Record<string, string> }>;
  federation: {
    /** How far ahead valid_until_ts of our key response is, in milliseconds. */
    key_response_validity_ms: number;
    /** Check other servers' TLS certificates (off only for test set-ups). */
    verify_tls_certificates: boolean;
    /** Extra CAs (PEM file) for other servers' certificates, or null. */
    tls_ca_file: string | null;
    /** Longest time of an outbound federation request, in milliseconds. */
    request_timeout_ms: number;
    /** When not empty, the only servers (names or globs) federated with. */
    allowed_servers: string[];
    /** Servers (names or globs) never federated with; over allowed_servers. */
    denied_servers: string[];
    /** First wait before retrying an unreachable destination (doubled per failure), in milliseconds. */
    destination_min_retry_interval_ms: number;
    /** Longest wait between attempts to an unreachable destination, in milliseconds. */
    destination_max_retry_interval_ms: number;
  };
  /** Path of the Ed25519 signing key file (`ed25519 <key id> <unpadded base64 seed>`). */
  signing_key_path: string;
  registration: {
    enabled: boolean;
    /** Secret for the shared-secret registration endpoint; null turns that endpoint off. */
    shared_secret: string | null;
    /** When set, registration also requires this token (m.login.registration_token). */
    registration_token: string | null;
    /** Registration requires a registration token (one made through the admin API, or registration_token). */
    requires_token: boolean;
    /** Guest accounts (POST /register?kind=guest) are allowed. */
    allow_guest_access: boolean;
  };
  login_via_existing_session: {
    /** POST /login/get_token issues login tokens (m.login.token). */
    enabled: boolean;
    token_timeout_ms: number;
  };
  rate_limits: {
    enabled: boolean;
    login: RateLimitRule;
    registration: RateLimitRule;
    message: RateLimitRule;
  };
  logging: {
    level: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  };
  media: {
    store_path: string;
    max_upload_size_bytes: number;
    /** `WIDTHxHEIGHT crop|scale` entries. */
    thumbnail_sizes: string[];
    pregenerate_thumbnails: boolean;
    max_thumbnail_source_pixels: number;
    /** Media uploaded after this time (ms) is not served on the unauthenticated paths; null: no freeze. */
    legacy_unauthenticated_frozen_at_ms: number | null;
    max_pending_creates_per_user: number;
    unused_expires_after_ms: number;
    max_stall_ms: number;
    url_preview: {
      enabled: boolean;
      /** CIDR ranges never fetched. */
      ip_deny_list: string[];
      max_page_bytes: number;
    };
  };
  /** What this process does (every role by default): see SERVER_ROLES. */
  roles: ServerRole[];
  /** The bus between the processes of one server; no brokers: one process, no Kafka. */
  kafka: {
    brokers: string[];
    topic_prefix: string;
    partitions: number;
    /** -1: the broker's default. */
    replication_factor: number;
    client_id: string;
  };
  read_consistency: {
    /** Reads wait for the read models to reflect acknowledged writes (off only for benchmarks). */
    enabled: boolean;
    /** Longest wait of a read for one read model, in milliseconds. */
    max_wait_ms: number;
    /** `process`: this process's acknowledged writes; `store`: the event store's committed head. */
    horizon: 'process' | 'store';
  };
  presence: {
    /** Track and share local users' presence (off: PUT accepted and ignored, everyone offline). */
    enabled: boolean;
  };
  user_directory: {
    /** The user directory finds every local user too (else only users sharing a room with the searcher or in public rooms). */
    search_all_users: boolean;
  };
  /** Registration files of the application services (relative paths resolved against the config file's folder). */
  app_service_config_files: string[];
  /** Largest request body accepted, in bytes. */
  max_request_body_bytes: number;
  /** Room version of new rooms. */
  default_room_version: string;
}
