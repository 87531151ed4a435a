import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import YAML from 'yaml';
import {
  CONFIG_ERROR_EXIT_CODE,
  ConfigError,
  configKeys,
  envVarName,
  generateSampleConfig,
  loadConfig,
  parseConfig,
  renderConfigReference,
} from './index';

const ROOT = resolve(__dirname, '../../..');

function issuesOf(text: string, env: NodeJS.ProcessEnv = {}): { key: string; message: string }[] {
  try {
    parseConfig(text, { baseDir: '/srv/hs', env });
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return [...(error as ConfigError).issues];
  }
  throw new Error('expected a ConfigError');
}

describe('configuration', () => {
  it('resolves the application service registration files against the config file\'s folder', () => {
    const config = parseConfig('server_name: example.org\napp_service_config_files: [bridges/irc.yaml, /etc/slack.yaml]\n', { baseDir: '/srv/hs' });
    expect(config.app_service_config_files).toEqual(['/srv/hs/bridges/irc.yaml', '/etc/slack.yaml']);
  });

  it('fills every default from a file with only server_name', () => {
    const config = parseConfig('server_name: example.org\n', { baseDir: '/srv/hs' });
    expect(config).toEqual({
      server_name: 'example.org',
      public_baseurl: 'https://example.org/',
      serve_server_wellknown: true,
      client_listener: { bind_address: '0.0.0.0', port: 8008, headers_timeout_ms: 10_000, request_timeout_ms: 60_000, max_connections_per_address: 100 },
      federation_listener: {
        enabled: true,
        bind_address: '0.0.0.0',
        port: 8448,
        tls_certificate_path: '/srv/hs/tls.crt',
        tls_private_key_path: '/srv/hs/tls.key',
      },
      database: { data_dir: '/srv/hs/data', max_connections: 10 },
      old_signing_keys: {},
      trusted_key_servers: [],
      federation: {
        key_response_validity_ms: 86_400_000,
        verify_tls_certificates: true,
        tls_ca_file: null,
        request_timeout_ms: 10_000,
        allowed_servers: [],
        denied_servers: [],
        destination_min_retry_interval_ms: 1_000,
        destination_max_retry_interval_ms: 3_600_000,
      },
      signing_key_path: '/srv/hs/signing.key',
      registration: { enabled: false, shared_secret: null, registration_token: null, requires_token: false, allow_guest_access: false },
      login_via_existing_session: { enabled: false, token_timeout_ms: 120_000 },
      rate_limits: {
        enabled: true,
        login: { per_second: 0.17, burst_count: 3 },
        registration: { per_second: 0.17, burst_count: 3 },
        message: { per_second: 0.2, burst_count: 10 },
      },
      logging: { level: 'info' },
      media: {
        store_path: '/srv/hs/media',
        max_upload_size_bytes: 52428800,
        thumbnail_sizes: ['32x32 crop', '96x96 crop', '320x240 scale', '640x480 scale', '800x600 scale'],
        pregenerate_thumbnails: true,
        max_thumbnail_source_pixels: 67108864,
        legacy_unauthenticated_frozen_at_ms: null,
        max_pending_creates_per_user: 50,
        unused_expires_after_ms: 86400000,
        max_stall_ms: 20000,
        url_preview: { enabled: false, ip_deny_list: expect.arrayContaining(['10.0.0.0/8', '127.0.0.0/8', '::1/128']), max_page_bytes: 1048576 },
      },
      roles: ['client', 'media', 'room-writer', 'federation', 'federation-sender', 'projector', 'pusher', 'appservice-sender'],
      kafka: { brokers: [], topic_prefix: 'homeserver.', partitions: 8, replication_factor: -1, client_id: 'homeserver' },
      read_consistency: { enabled: true, max_wait_ms: 2000, horizon: 'process' },
      presence: { enabled: true },
      user_directory: { search_all_users: false },
      app_service_config_files: [],
      max_request_body_bytes: 10485760,
      default_room_version: '11',
    });
  });

  it('runs every role in one process unless told otherwise, and needs Kafka brokers for a split', () => {
    expect(parseConfig('server_name: a.org\nroles: [client]\nkafka: { brokers: ["k1:9092", "10.0.0.2:9093"] }\n', { baseDir: '/srv/hs' }).roles).toEqual(['client']);
    expect(parseConfig('server_name: a.org\nroles: [projector, client, media, room-writer, federation, federation-sender, appservice-sender, pusher]\n', { baseDir: '/srv/hs' }).kafka.brokers).toEqual([]);
    expect(() => parseConfig('server_name: a.org\nroles: [projector, client]\n', { baseDir: '/srv/hs' })).toThrow(/kafka\.brokers: must name at least one broker when this process runs only some roles \(projector, client\)/);
    expect(() => parseConfig('server_name: a.org\nroles: [projector]\n', { baseDir: '/srv/hs' })).toThrow(/kafka\.brokers: must name at least one broker when this process runs only some roles \(projector\)/);
    expect(() => parseConfig('server_name: a.org\nroles: []\n', { baseDir: '/srv/hs' })).toThrow(/roles: must name at least one role/);
    expect(() => parseConfig('server_name: a.org\nroles: [client, client]\n', { baseDir: '/srv/hs' })).toThrow(/roles: must not name a role twice/);
    expect(() => parseConfig('server_name: a.org\nroles: [writer]\n', { baseDir: '/srv/hs' })).toThrow(/roles\.0: must be one of client, media, room-writer, federation, federation-sender, projector, pusher, appservice-sender/);
    expect(() => parseConfig('server_name: a.org\nkafka: { brokers: ["no-port"] }\n', { baseDir: '/srv/hs' })).toThrow(/kafka\.brokers\.0: must be host:port/);
    expect(() => parseConfig('server_name: a.org\nkafka: { replication_factor: 0 }\n', { baseDir: '/srv/hs' })).toThrow(/kafka\.replication_factor: must be -1 or at least 1/);
  });

  it('resolves relative paths against the config file folder and keeps absolute ones', () => {
    const config = parseConfig('server_name: a.org\nsigning_key_path: keys/k.key\ndatabase: { data_dir: /var/lib/hs }\nmedia: { store_path: ../media }\n', {
      baseDir: '/etc/hs',
    });
    expect(config.signing_key_path).toBe('/etc/hs/keys/k.key');
    expect(config.database.data_dir).toBe('/var/lib/hs');
    expect(config.media.store_path).toBe('/etc/media');
  });

  it.each([
    ['server_name: "not a server name!"', 'server_name', /server name/],
    ['{}', 'server_name', /required/],
    ['server_name: a.org\npublic_baseurl: ftp://a.org/', 'public_baseurl', /http:\/\/ or https:\/\//],
    ['server_name: a.org\nserve_server_wellknown: "yes please"', 'serve_server_wellknown', /boolean/],
    ['server_name: a.org\nclient_listener: { port: 70000 }', 'client_listener.port', /between 0 and 65535/],
    ['server_name: a.org\nclient_listener: { bind_address: "" }', 'client_listener.bind_address', /empty/],
    ['server_name: a.org\nfederation_listener: { port: 1.5 }', 'federation_listener.port', /whole number/],
    ['server_name: a.org\nfederation_listener: { enabled: 3 }', 'federation_listener.enabled', /boolean/],
    ['server_name: a.org\nfederation_listener: { tls_certificate_path: "" }', 'federation_listener.tls_certificate_path', /empty/],
    ['server_name: a.org\nfederation_listener: { tls_private_key_path: 5 }', 'federation_listener.tls_private_key_path', /string/],
    ['server_name: a.org\nclient_listener: { port: 9000 }\nfederation_listener: { port: 9000 }', 'federation_listener.port', /must differ/],
    ['server_name: a.org\nclient_listener: { headers_timeout_ms: -1 }', 'client_listener.headers_timeout_ms', /at least 0/],
    ['server_name: a.org\nclient_listener: { request_timeout_ms: 1.5 }', 'client_listener.request_timeout_ms', /whole number/],
    ['server_name: a.org\nclient_listener: { headers_timeout_ms: 20000, request_timeout_ms: 15000 }', 'client_listener.headers_timeout_ms', /must not exceed request_timeout_ms/],
    ['server_name: a.org\nclient_listener: { max_connections_per_address: -5 }', 'client_listener.max_connections_per_address', /at least 0/],
    ['server_name: a.org\ndatabase: { url: "mysql://x" }', 'database.url', /postgres/],
    ['server_name: a.org\ndatabase: { data_dir: "" }', 'database.data_dir', /empty/],
    ['server_name: a.org\ndatabase: { max_connections: 0 }', 'database.max_connections', /at least 1/],
    ['server_name: a.org\ndatabase: 5', 'database', /section/],
    ['server_name: a.org\nsigning_key_path: ""', 'signing_key_path', /empty/],
    ['server_name: a.org\nregistration: { enabled: maybe }', 'registration.enabled', /boolean/],
    ['server_name: a.org\nregistration: { shared_secret: short }', 'registration.shared_secret', /16 characters/],
    ['server_name: a.org\nregistration: { registration_token: "" }', 'registration.registration_token', /empty/],
    ['server_name: a.org\nrate_limits: { enabled: 1 }', 'rate_limits.enabled', /boolean/],
    ['server_name: a.org\nrate_limits: { login: { per_second: 0 } }', 'rate_limits.login.per_second', /greater than 0/],
    ['server_name: a.org\nrate_limits: { registration: { burst_count: 0 } }', 'rate_limits.registration.burst_count', /at least 1/],
    ['server_name: a.org\nrate_limits: { message: { burst_count: 2.5 } }', 'rate_limits.message.burst_count', /whole number/],
    ['server_name: a.org\nlogging: { level: loud }', 'logging.level', /one of fatal, error/],
    ['server_name: a.org\nmedia: { store_path: "" }', 'media.store_path', /empty/],
    ['server_name: a.org\nmedia: { max_upload_size_bytes: -1 }', 'media.max_upload_size_bytes', /at least 1/],
    ['server_name: a.org\nmax_request_body_bytes: "big"', 'max_request_body_bytes', /number/],
    ['server_name: a.org\ndefault_room_version: "99"', 'default_room_version', /known room version/],
    ['server_name: a.org\nsurprise: 1', 'surprise', /unknown key/],
    ['server_name: a.org\ndatabase: { uri: "postgres://x" }', 'database.uri', /unknown key/],
  ])('names the invalid key: %j', (text, key, message) => {
    const issues = issuesOf(text);
    const issue = issues.find((candidate) => candidate.key === key);
    expect(issue).toBeDefined();
    expect(issue?.message).toMatch(message);
  });

  it('reports every invalid key at once, in a message that names them', () => {
    let caught: unknown;
    try {
      parseConfig('server_name: "bad name"\nclient_listener: { port: -1 }\nlogging: { level: x }\n', { baseDir: '/', source: '/etc/hs.yaml' });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    const error = caught as ConfigError;
    expect(error.issues.map((issue) => issue.key)).toEqual(['server_name', 'client_listener.port', 'logging.level']);
    expect(error.message).toContain('Invalid configuration in /etc/hs.yaml');
    expect(error.message).toContain('  - client_listener.port: must be between 0 and 65535');
    expect(CONFIG_ERROR_EXIT_CODE).toBe(2);
  });

  it('rejects files that are not YAML mappings', () => {
    expect(issuesOf('server_name: [unclosed')[0]).toEqual({ key: '(file)', message: expect.stringMatching(/not valid YAML/) });
    expect(issuesOf('- a list\n- of things')[0]).toEqual({ key: '(file)', message: 'must be a YAML mapping of keys' });
    expect(issuesOf('server_name: a.org\nserver_name: b.org')[0].message).toMatch(/not valid YAML/);
  });

  it('reports a missing file as a ConfigError', () => {
    expect(() => loadConfig('/nonexistent/homeserver.yaml', {})).toThrow(ConfigError);
    expect(() => loadConfig('/nonexistent/homeserver.yaml', {})).toThrow(/does not exist/);
  });

  describe('environment overrides', () => {
    it('override any key, nested keys joined by __, with values typed by the key', () => {
      const config = parseConfig('server_name: file.org\nclient_listener: { port: 8008 }\nregistration: { shared_secret: "from-the-file-0123456789" }\n', {
        baseDir: '/srv',
        env: {
          HS_SERVER_NAME: 'env.org',
          HS_DATABASE__URL: 'postgres://hs:pw@db:5432/hs',
          HS_CLIENT_LISTENER__PORT: '9008',
          HS_FEDERATION_LISTENER__ENABLED: 'false',
          HS_RATE_LIMITS__MESSAGE__PER_SECOND: '2.5',
          HS_REGISTRATION__SHARED_SECRET: '',
          HS_LOGGING__LEVEL: 'debug',
          HS_MEDIA__STORE_PATH: 'uploads',
          PATH: '/usr/bin',
          HSX_IGNORED: 'not ours',
        },
      });
      expect(config.server_name).toBe('env.org');
      expect(config.database.url).toBe('postgres://hs:pw@db:5432/hs');
      expect(config.client_listener.port).toBe(9008);
      expect(config.federation_listener.enabled).toBe(false);
      expect(config.rate_limits.message.per_second).toBe(2.5);
      expect(config.registration.shared_secret).toBeNull();
      expect(config.logging.level).toBe('debug');
      expect(config.media.store_path).toBe('/srv/uploads');
    });

    it('can supply a key the file lacks, even a whole file', () => {
      const config = parseConfig('', { baseDir: '/srv', env: { HS_SERVER_NAME: 'only-env.org' } });
      expect(config.server_name).toBe('only-env.org');
    });

    it('are validated like the file, naming the key and the variable', () => {
      const issues = issuesOf('server_name: a.org', {
        HS_CLIENT_LISTENER__PORT: 'eighty',
        HS_NO_SUCH_KEY: '1',
        HS_DATABASE: 'x',
        HS_FEDERATION_LISTENER__ENABLED: 'perhaps',
      });
      expect(issues).toEqual(
        expect.arrayContaining([
          { key: 'client_listener.port', message: 'must be a number, got string (set by environment variable HS_CLIENT_LISTENER__PORT)' },
          { key: 'no_such_key', message: 'unknown key (set by environment variable HS_NO_SUCH_KEY)' },
          { key: 'database', message: expect.stringMatching(/is a section.*HS_DATABASE__DATA_DIR/) },
          { key: 'federation_listener.enabled', message: expect.stringMatching(/boolean.*HS_FEDERATION_LISTENER__ENABLED/) },
        ]),
      );
    });

    it('name every key HS_ + upper-cased path joined by __', () => {
      expect(envVarName(['server_name'])).toBe('HS_SERVER_NAME');
      expect(envVarName(['database', 'url'])).toBe('HS_DATABASE__URL');
      expect(envVarName(['rate_limits', 'login', 'burst_count'])).toBe('HS_RATE_LIMITS__LOGIN__BURST_COUNT');
    });
  });

  describe('documentation derived from the schema', () => {
    it('homeserver.sample.yaml is the generated sample (regenerate: npm run admin -- sample-config > homeserver.sample.yaml)', () => {
      expect(readFileSync(join(ROOT, 'homeserver.sample.yaml'), 'utf8')).toBe(generateSampleConfig());
    });

    it('the sample documents every key and is itself a valid configuration', () => {
      const sample = generateSampleConfig();
      for (const entry of configKeys()) {
        const name = entry.path[entry.path.length - 1];
        expect(sample).toMatch(new RegExp(`^\\s*(# )?${name}:`, 'm'));
      }
      const config = parseConfig(sample, { baseDir: '/srv' });
      expect(config.server_name).toBe('example.org');
      const document = YAML.parse(sample) as Record<string, unknown>;
      expect(Object.keys(document)).toContain('rate_limits');
    });

    it('docs/configuration.md contains the generated key reference', () => {
      const docs = readFileSync(join(ROOT, 'docs/configuration.md'), 'utf8');
      expect(docs).toContain(renderConfigReference());
      for (const entry of configKeys()) expect(docs).toContain(`\`${envVarName(entry.path)}\``);
    });

    it('every key has documentation', () => {
      for (const entry of configKeys()) expect(entry.doc.length).toBeGreaterThan(10);
    });
  });

  it('loadConfig reads a file, applies the environment and resolves paths beside the file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'hs-config-'));
    const file = join(dir, 'homeserver.yaml');
    writeFileSync(file, 'server_name: file.example\n');
    const config = loadConfig(file, { HS_DATABASE__URL: 'postgresql://db/hs' });
    expect(config.server_name).toBe('file.example');
    expect(config.database.url).toBe('postgresql://db/hs');
    expect(config.signing_key_path).toBe(join(dir, 'signing.key'));
  });
});
