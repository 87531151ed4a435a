import { ConfigError, parseConfig } from './index';

const KEY = 'Noi6WqcDj0QmPxCNQqgezwTlBKrfqehY1u2FyWP9uYw';

/** The issues of the ConfigError that parsing `text` with `env` throws. */
function issuesOf(text: string, env: NodeJS.ProcessEnv = {}): readonly { key: string; message: string }[] {
  const error = (() => {
    try {
      return parseConfig(text, { baseDir: '/srv/hs', env });
    } catch (thrown) {
      return thrown;
    }
  })();
  if (!(error instanceof ConfigError)) throw new Error('expected a ConfigError');
  return error.issues;
}

describe('configuration of federation keys', () => {
  it('reads old signing keys, notaries and the federation section, resolving the CA file beside the config', () => {
    const config = parseConfig(
      [
        'server_name: a.org',
        `old_signing_keys: { "ed25519:old_1": { key: "${KEY}", expired_ts: 1700000000000 } }`,
        `trusted_key_servers: [{ server_name: "notary.org:8448", verify_keys: { "ed25519:auto": "${KEY}" } }]`,
        'federation: { key_response_validity_ms: 3600000, verify_tls_certificates: false, tls_ca_file: ca.pem, request_timeout_ms: 500 }',
      ].join('\n'),
      { baseDir: '/srv/hs' },
    );
    expect(config.old_signing_keys).toEqual({ 'ed25519:old_1': { key: KEY, expired_ts: 1700000000000 } });
    expect(config.trusted_key_servers).toEqual([{ server_name: 'notary.org:8448', verify_keys: { 'ed25519:auto': KEY } }]);
    expect(config.federation).toEqual({
      key_response_validity_ms: 3_600_000,
      verify_tls_certificates: false,
      tls_ca_file: '/srv/hs/ca.pem',
      request_timeout_ms: 500,
      allowed_servers: [],
      denied_servers: [],
      destination_min_retry_interval_ms: 1_000,
      destination_max_retry_interval_ms: 3_600_000,
    });
  });

  it('reads the allow and deny lists of servers, from the file or the environment as JSON', () => {
    const config = parseConfig('server_name: a.org\nfederation: { allowed_servers: ["*.example.org", "example.org", "[::1]:8448"], denied_servers: ["bad?.example.org"] }', {
      baseDir: '/',
    });
    expect(config.federation.allowed_servers).toEqual(['*.example.org', 'example.org', '[::1]:8448']);
    expect(config.federation.denied_servers).toEqual(['bad?.example.org']);
    const fromEnv = parseConfig('server_name: a.org', { baseDir: '/', env: { HS_FEDERATION__DENIED_SERVERS: '["evil.org", "127.0.0.1:*"]' } });
    expect(fromEnv.federation.denied_servers).toEqual(['evil.org', '127.0.0.1:*']);
    expect(fromEnv.federation.allowed_servers).toEqual([]);
  });

  it.each([
    [`old_signing_keys: { "rsa:1": { key: "${KEY}", expired_ts: 1 } }`, 'old_signing_keys', /key id/],
    [`old_signing_keys: { "ed25519:1": { key: "short", expired_ts: 1 } }`, 'old_signing_keys.ed25519:1.key', /32-byte/],
    [`old_signing_keys: { "ed25519:1": { key: "${KEY}" } }`, 'old_signing_keys.ed25519:1.expired_ts', /required/],
    [`trusted_key_servers: [{ server_name: "bad name", verify_keys: { "ed25519:a": "${KEY}" } }]`, 'trusted_key_servers.0.server_name', /server name/],
    ['trusted_key_servers: [{ server_name: "n.org", verify_keys: {} }]', 'trusted_key_servers.0.verify_keys', /at least one key/],
    ['trusted_key_servers: { n.org: 1 }', 'trusted_key_servers', /array/],
    ['federation: { key_response_validity_ms: 1000 }', 'federation.key_response_validity_ms', /at least/],
    ['federation: { key_response_validity_ms: 900000000 }', 'federation.key_response_validity_ms', /at most/],
    ['federation: { verify_tls_certificates: sometimes }', 'federation.verify_tls_certificates', /boolean/],
    ['federation: { allowed_servers: "example.org" }', 'federation.allowed_servers', /array/],
    ['federation: { denied_servers: ["evil org"] }', 'federation.denied_servers.0', /server name or a glob/],
    ['federation: { denied_servers: [""] }', 'federation.denied_servers.0', /server name or a glob/],
    ['federation: { allowed_servers: [42] }', 'federation.allowed_servers.0', /string/],
    ['federation: { destination_min_retry_interval_ms: 5 }', 'federation.destination_min_retry_interval_ms', /at least 10/],
    ['federation: { destination_min_retry_interval_ms: 5000, destination_max_retry_interval_ms: 4000 }', 'federation.destination_min_retry_interval_ms', /must not exceed/],
  ])('names the invalid key: %j', (line, key, message) => {
    const issue = issuesOf(`server_name: a.org\n${line}`).find((candidate) => candidate.key.startsWith(key));
    expect(issue).toBeDefined();
    expect(issue?.message).toMatch(message);
  });

  it('takes the structured keys from the environment as JSON', () => {
    const config = parseConfig('server_name: a.org', {
      baseDir: '/',
      env: { HS_TRUSTED_KEY_SERVERS: JSON.stringify([{ server_name: 'n.org', verify_keys: { 'ed25519:a': KEY } }]), HS_FEDERATION__TLS_CA_FILE: '' },
    });
    expect(config.trusted_key_servers[0].server_name).toBe('n.org');
    expect(config.federation.tls_ca_file).toBeNull();
    expect(issuesOf('server_name: a.org', { HS_OLD_SIGNING_KEYS: '{not json' })).toEqual([
      { key: 'old_signing_keys', message: 'must be JSON (set by environment variable HS_OLD_SIGNING_KEYS)' },
    ]);
  });
});
