import { createPrivateKey, createPublicKey, sign, verify, X509Certificate } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateSampleConfig, loadConfig } from '@hs/config';
import { parseSigningKeyFile } from '@hs/protocol';
import { PostgresEventStore } from '@hs/eventstore';
import { migrate, openDatabase } from '@hs/persistence';
import { listRoomSummaries } from '@hs/projections/room-summary';
import { runAdminCaptured as admin } from '../../../test/support/admin-cli';

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'hs-admin-'));
}

describe('admin CLI', () => {
  describe('generate-config', () => {
    it('writes a working config, a signing key in Synapse format and a self-signed certificate beside it', async () => {
      const dir = tempDir();
      const out = join(dir, 'conf', 'homeserver.yaml');
      const run = await admin(['generate-config', '--server-name', 'example.org', '--client-port', '18008', '--federation-port', '18448', '--data-dir', 'db', '--out', out]);
      expect(run.stderr).toBe('');
      expect(run.code).toBe(0);
      expect(run.stdout).toContain(`Wrote ${out}`);

      const config = loadConfig(out, {});
      expect(config.server_name).toBe('example.org');
      expect(config.public_baseurl).toBe('https://example.org/');
      expect(config.client_listener.port).toBe(18008);
      expect(config.federation_listener.port).toBe(18448);
      expect(config.database.data_dir).toBe(join(dir, 'conf', 'db'));
      expect(config.database.url).toBeUndefined();
      expect(config.registration.shared_secret).toMatch(/^[A-Za-z0-9_-]{32}$/);
      expect(readFileSync(out, 'utf8')).toContain('# The domain part of user ids');

      const keyText = readFileSync(config.signing_key_path, 'utf8');
      expect(keyText).toMatch(/^ed25519 a_[A-Za-z0-9]{4} [A-Za-z0-9+/]{43}\n$/);
      expect(statSync(config.signing_key_path).mode & 0o777).toBe(0o600);
      const [key] = parseSigningKeyFile(keyText);
      expect(run.stdout).toContain(`Wrote signing key ${key.keyId}`);
      // The seed is a usable Ed25519 private key: what it signs verifies with its public key.
      const message = Buffer.from('matrix');
      const signature = sign(null, message, key.privateKeyObject);
      expect(verify(null, message, createPublicKey(key.privateKeyObject), signature)).toBe(true);

      const certificate = new X509Certificate(readFileSync(config.federation_listener.tls_certificate_path));
      expect(certificate.subjectAltName).toContain('DNS:example.org');
      expect(certificate.checkPrivateKey(createPrivateKey(readFileSync(config.federation_listener.tls_private_key_path)))).toBe(true);
      expect(new Date(certificate.validTo).getTime()).toBeGreaterThan(Date.now() + 300 * 24 * 3600 * 1000);
    });

    it('writes a PostgreSQL URL when given one', async () => {
      const dir = tempDir();
      const out = join(dir, 'homeserver.yaml');
      const run = await admin(['generate-config', '--server-name', 'pg.example', '--database-url', 'postgres://hs:pw@db:5432/hs', '--out', out]);
      expect(run.code).toBe(0);
      expect(loadConfig(out, {}).database.url).toBe('postgres://hs:pw@db:5432/hs');
    });

    it('refuses to overwrite existing files unless --force', async () => {
      const dir = tempDir();
      const out = join(dir, 'homeserver.yaml');
      expect((await admin(['generate-config', '--server-name', 'a.example', '--out', out])).code).toBe(0);
      const firstKey = readFileSync(join(dir, 'signing.key'), 'utf8');
      const firstConfig = readFileSync(out, 'utf8');

      const refused = await admin(['generate-config', '--server-name', 'b.example', '--out', out]);
      expect(refused.code).not.toBe(0);
      expect(refused.stderr).toContain('Refusing to overwrite existing files');
      expect(refused.stderr).toContain(out);
      expect(refused.stderr).toContain('--force');
      expect(readFileSync(out, 'utf8')).toBe(firstConfig);
      expect(readFileSync(join(dir, 'signing.key'), 'utf8')).toBe(firstKey);

      const forced = await admin(['generate-config', '--server-name', 'b.example', '--out', out, '--force']);
      expect(forced.code).toBe(0);
      expect(loadConfig(out, {}).server_name).toBe('b.example');
      expect(readFileSync(join(dir, 'signing.key'), 'utf8')).not.toBe(firstKey);
    });

    it('refuses when only a key file is in the way, and writes nothing', async () => {
      const dir = tempDir();
      writeFileSync(join(dir, 'tls.key'), 'precious');
      const run = await admin(['generate-config', '--server-name', 'a.example', '--out', join(dir, 'homeserver.yaml')]);
      expect(run.code).toBe(1);
      expect(run.stderr).toContain(join(dir, 'tls.key'));
      expect(existsSync(join(dir, 'homeserver.yaml'))).toBe(false);
      expect(readFileSync(join(dir, 'tls.key'), 'utf8')).toBe('precious');
    });

    it('rejects invalid values with the key named and exit code 2', async () => {
      const dir = tempDir();
      const run = await admin(['generate-config', '--server-name', 'not valid!', '--out', join(dir, 'homeserver.yaml')]);
      expect(run.code).toBe(2);
      expect(run.stderr).toContain('server_name: must be a server name');
      expect(existsSync(join(dir, 'homeserver.yaml'))).toBe(false);
    });

    it('rejects a bad port and missing required options as usage errors', async () => {
      const dir = tempDir();
      const badPort = await admin(['generate-config', '--server-name', 'a.example', '--client-port', '99999', '--out', join(dir, 'h.yaml')]);
      expect(badPort.code).toBe(1);
      expect(badPort.stderr).toContain('must be a port number');
      const missing = await admin(['generate-config', '--out', join(dir, 'h.yaml')]);
      expect(missing.code).toBe(1);
      expect(missing.stderr).toContain("required option '--server-name <name>' not specified");
    });
  });

  describe('generate-keys', () => {
    it('writes new keys at the paths of an existing config and refuses to overwrite them without --force', async () => {
      const dir = tempDir();
      const config = join(dir, 'homeserver.yaml');
      writeFileSync(config, 'server_name: keys.example\nsigning_key_path: secrets/signing.key\n');
      const first = await admin(['generate-keys', '--config', config]);
      expect(first.stderr).toBe('');
      expect(first.code).toBe(0);
      const key = readFileSync(join(dir, 'secrets', 'signing.key'), 'utf8');
      expect(parseSigningKeyFile(key)).toHaveLength(1);
      expect(new X509Certificate(readFileSync(join(dir, 'tls.crt'))).subjectAltName).toContain('DNS:keys.example');

      const again = await admin(['generate-keys', '--config', config]);
      expect(again.code).toBe(1);
      expect(again.stderr).toContain('Refusing to overwrite');
      expect(readFileSync(join(dir, 'secrets', 'signing.key'), 'utf8')).toBe(key);

      const forced = await admin(['generate-keys', '--config', config, '--force']);
      expect(forced.code).toBe(0);
      expect(readFileSync(join(dir, 'secrets', 'signing.key'), 'utf8')).not.toBe(key);
    });

    it('stops with exit code 2 and the key named when the config is invalid', async () => {
      const dir = tempDir();
      const config = join(dir, 'homeserver.yaml');
      writeFileSync(config, 'server_name: ok.example\nlogging: { level: chatty }\n');
      const run = await admin(['generate-keys', '--config', config]);
      expect(run.code).toBe(2);
      expect(run.stderr).toContain('logging.level: must be one of');
    });

    it('defaults --config to ./homeserver.yaml', async () => {
      const dir = tempDir();
      const previous = process.cwd();
      process.chdir(dir);
      try {
        const run = await admin(['generate-keys']);
        expect(run.code).toBe(2);
        expect(run.stderr).toContain(`${join(dir, 'homeserver.yaml')} does not exist`);
      } finally {
        process.chdir(previous);
      }
    });
  });

  it('sample-config prints the generated sample', async () => {
    const run = await admin(['sample-config']);
    expect(run.code).toBe(0);
    expect(run.stdout).toBe(generateSampleConfig());
  });

  it('rebuild names the known projections when given an unknown one', async () => {
    const dir = tempDir();
    const config = join(dir, 'homeserver.yaml');
    writeFileSync(config, 'server_name: r.example\n');
    const run = await admin(['rebuild', 'no_such_projection', '--config', config]);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/unknown projection "no_such_projection"; known projections: /);
  });

  describe('migrate and rebuild on the embedded database', () => {
    it('migrate applies every migration once, then nothing', async () => {
      const dir = tempDir();
      const config = join(dir, 'homeserver.yaml');
      writeFileSync(config, 'server_name: m.example\ndatabase:\n  data_dir: db\n');
      const first = await admin(['migrate', '--config', config]);
      expect(first.stderr).toBe('');
      expect(first.code).toBe(0);
      expect(first.stdout).toMatch(/eventstore\/0001_streams\.sql/);
      const second = await admin(['migrate', '--config', config]);
      expect(second.code).toBe(0);
      expect(second.stdout).not.toMatch(/eventstore\/0001_streams\.sql/);
    });

    it('rebuild fills a new generation of the projection from the store and shows progress with events per second', async () => {
      const dir = tempDir();
      const config = join(dir, 'homeserver.yaml');
      writeFileSync(config, 'server_name: r.example\ndatabase:\n  data_dir: db\n');
      const loaded = await loadConfig(config);
      const db = await openDatabase({ dataDir: loaded.database.data_dir });
      try {
        await migrate(db);
        const store = await PostgresEventStore.open(db);
        for (let room = 0; room < 3; room++) {
          await store.append(`room-!r${room}:r.example`, 'no_stream', [
            { id: `$a${room}`, type: 'RoomEventAccepted', data: { n: 1 } },
            { id: `$b${room}`, type: 'RoomEventAccepted', data: { n: 2 } },
          ]);
        }
        await store.close();
      } finally {
        await db.close();
      }
      const run = await admin(['rebuild', 'room_summary', '--config', config]);
      expect(run.code).toBe(0);
      // The six room events and the audit entry of the rebuild's start.
      expect(run.stderr).toMatch(/rebuild room_summary \[.*\] 100% \| 7\/7 events \| \d+ events\/s/);
      expect(run.stdout).toMatch(/room_summary/);

      const exported = await admin(['audit-export', '--config', config]);
      expect(exported.code).toBe(0);
      expect(exported.stderr).toBe('Exported 2 audit entries.\n');
      const entries = exported.stdout.trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
      expect(entries).toEqual([
        expect.objectContaining({ id: 0, actor: '[admin-cli]', action: 'projection.rebuild_started', target: 'room_summary', request_id: null }),
        expect.objectContaining({ id: 1, actor: '[admin-cli]', action: 'projection.rebuild_finished', target: 'room_summary', details: expect.objectContaining({ events: 7 }) }),
      ]);

      const reopened = await openDatabase({ dataDir: loaded.database.data_dir });
      try {
        const rooms = await listRoomSummaries(reopened.pool);
        expect(rooms.map((r) => [r.roomId, r.eventCount]).sort()).toEqual([
          ['!r0:r.example', 2n],
          ['!r1:r.example', 2n],
          ['!r2:r.example', 2n],
        ]);
      } finally {
        await reopened.close();
      }
    });
  });

  it('an unknown command is a usage error', async () => {
    const run = await admin(['frobnicate']);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain("unknown command 'frobnicate'");
  });
});
