import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RegistrationError, loadRegistrations } from './registration';
import { AppServiceRegistry } from './registry';

const VALID = `
id: irc
url: http://127.0.0.1:9000/
as_token: as-token-1
hs_token: hs-token-1
sender_localpart: ircbot
namespaces:
  users:
    - exclusive: true
      regex: "@_irc_.*:example.org"
  aliases:
    - exclusive: false
      regex: "#_irc_.*"
  rooms: []
x-bridge-setting: kept aside
`;

describe('application service registration files', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'hs-as-registration-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const file = (name: string, text: string) => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };

  const issuesOf = (files: string[]) => {
    try {
      loadRegistrations(files);
    } catch (error) {
      if (error instanceof RegistrationError) return error.issues;
      throw error;
    }
    throw new Error('expected a RegistrationError');
  };

  it('reads a valid file: defaults, trailing slash of the url dropped, unknown keys ignored', () => {
    const [registration] = loadRegistrations([file('irc.yaml', VALID)]);
    expect(registration).toMatchObject({ id: 'irc', url: 'http://127.0.0.1:9000', rateLimited: true, protocols: [], receiveEphemeral: false });
    const registry = new AppServiceRegistry([registration], 'example.org');
    const service = registry.byAsToken('as-token-1');
    expect(service?.senderUserId).toBe('@ircbot:example.org');
    expect(service?.ownsUser('@_irc_bob:example.org')).toBe(true);
    expect(service?.ownsUser('@bob:example.org')).toBe(false);
    expect(registry.exclusiveOwnerOfUser('@_irc_bob:example.org')?.id).toBe('irc');
    expect(registry.exclusiveOwnerOfUser('@ircbot:example.org')?.id).toBe('irc');
    expect(registry.exclusiveOwnerOfAlias('#_irc_chan:example.org')).toBeUndefined();
    expect(registry.servicesForAlias('#_irc_chan:example.org').map((s) => s.id)).toEqual(['irc']);
    expect(registry.byAsToken('hs-token-1')).toBeUndefined();
  });

  it('names the file, the key and the problem of every invalid entry', () => {
    const bad = file('bad.yaml', 'id: "has space"\nurl: ftp://x\nas_token: same\nhs_token: same\nnamespaces:\n  users:\n    - regex: "(unclosed"\n');
    const issues = issuesOf([bad]);
    const keys = issues.map((issue) => issue.key);
    expect(keys).toEqual(expect.arrayContaining([`${bad}: id`, `${bad}: url`, `${bad}: sender_localpart`, `${bad}: namespaces.users.0.exclusive`, `${bad}: namespaces.users.0.regex`]));
  });

  it('refuses a missing file, a file that is not YAML, and ids or tokens used twice', () => {
    expect(issuesOf([join(dir, 'absent.yaml')])[0].message).toBe('does not exist');
    expect(issuesOf([file('broken.yaml', 'id: [')])[0].message).toMatch(/^is not valid YAML/);
    expect(issuesOf([file('same-tokens.yaml', VALID.replace('hs-token-1', 'as-token-1'))])[0]).toMatchObject({ message: 'must differ from as_token' });
    const twice = issuesOf([file('a.yaml', VALID), file('b.yaml', VALID.replace('ircbot', 'otherbot'))]);
    expect(twice.map((issue) => issue.message)).toEqual(expect.arrayContaining([expect.stringMatching(/^is also used by /)]));
    expect(twice.map((issue) => issue.key)).toEqual(expect.arrayContaining([expect.stringMatching(/b\.yaml: id$/), expect.stringMatching(/b\.yaml: as_token$/)]));
  });
});
