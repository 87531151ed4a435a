/** `admin create-user` against a running homeserver: shared-secret registration over HTTP. */
import { writeFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { runAdminCaptured as admin } from '../support/admin-cli';
import { call, useTestServer } from './accounts-harness';

describe('admin create-user', () => {
  const hs = useTestServer({ HS_REGISTRATION__ENABLED: 'false', HS_REGISTRATION__SHARED_SECRET: 'a-shared-secret-for-tests' });
  let configFile: string;

  beforeAll(() => {
    configFile = join(dirname(hs.config.signing_key_path), 'admin.yaml');
    writeFileSync(configFile, 'server_name: localhost\nregistration:\n  shared_secret: a-shared-secret-for-tests\n');
  });

  it('registers a user who can then log in, though open registration is off', async () => {
    const run = await admin(['create-user', '--user', 'carol', '--password', 'correct horse battery', '--url', hs.url, '--config', configFile]);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('Created @carol:localhost.');
    const login = await call(hs.url, 'POST', 'login', {
      body: { type: 'm.login.password', identifier: { type: 'm.id.user', user: 'carol' }, password: 'correct horse battery' },
    });
    expect(login.status).toBe(200);
    expect(login.body.user_id).toBe('@carol:localhost');
  });

  it('reports a taken user name with the server\'s errcode and exit code 1', async () => {
    const run = await admin(['create-user', '--user', 'carol', '--password', 'another password', '--url', hs.url, '--config', configFile]);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/registration failed \(HTTP 400, M_USER_IN_USE/);
  });

  it('a wrong shared secret is refused by the server', async () => {
    const wrong = join(dirname(configFile), 'wrong.yaml');
    writeFileSync(wrong, 'server_name: localhost\nregistration:\n  shared_secret: not-the-servers-secret\n');
    const run = await admin(['create-user', '--user', 'dave', '--password', 'pw pw pw pw', '--url', hs.url, '--config', wrong]);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/registration failed \(HTTP 403, M_FORBIDDEN/);
  });

  it('says so when the configuration has no shared secret or the server is unreachable', async () => {
    const none = join(dirname(configFile), 'none.yaml');
    writeFileSync(none, 'server_name: localhost\n');
    const off = await admin(['create-user', '--user', 'erin', '--password', 'pw pw pw pw', '--url', hs.url, '--config', none]);
    expect(off.code).toBe(1);
    expect(off.stderr).toContain('registration.shared_secret is not set');
    const down = await admin(['create-user', '--user', 'erin', '--password', 'pw pw pw pw', '--url', 'http://127.0.0.1:9', '--config', configFile]);
    expect(down.code).toBe(1);
    expect(down.stderr).toContain('cannot reach the homeserver');
  });
});
