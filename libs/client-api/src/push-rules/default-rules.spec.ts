import { assertMatchesSpec } from '@hs/testing';
import { PUSH_RULE_KINDS, defaultPushRules } from '@hs/protocol';

describe('defaultPushRules', () => {
  const rules = defaultPushRules('@alice:example.org');

  it('matches the spec schema of GET /pushrules/', () => {
    assertMatchesSpec({ global: rules }, { api: 'client-server', file: 'pushrules.yaml', path: '/pushrules/', method: 'get', status: 200 });
  });

  it('marks every rule as a server default with a dotted id, and only the master rule disabled', () => {
    for (const kind of PUSH_RULE_KINDS) {
      for (const rule of rules[kind]) {
        expect(rule.default).toBe(true);
        expect(rule.rule_id.startsWith('.m.rule.')).toBe(true);
        expect(rule.enabled).toBe(rule.rule_id !== '.m.rule.master');
      }
    }
  });

  it('fills in the user id and localpart', () => {
    expect(rules.content[0].pattern).toBe('alice');
    const serialized = JSON.stringify(rules);
    expect(serialized).toContain('"pattern":"@alice:example.org"');
    expect(serialized).toContain('"value":"@alice:example.org"');
    expect(defaultPushRules('@bob:other.example').content[0].pattern).toBe('bob');
  });

  it('gives each call its own objects', () => {
    const first = defaultPushRules('@a:x');
    first.override[0].enabled = true;
    expect(defaultPushRules('@a:x').override[0].enabled).toBe(false);
  });
});
