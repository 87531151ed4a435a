import { MatrixError } from '@hs/http';
import { deleteUserRule, effectivePushRules, putUserRule, updateRule } from './ruleset';

const USER = '@alice:example.org';

function errcodeOf(action: () => unknown): string | undefined {
  try {
    action();
    return undefined;
  } catch (error) {
    return error instanceof MatrixError ? `${error.status} ${error.errcode}` : 'not a MatrixError';
  }
}

/** Stores a change the way the service does: the effective rules. */
function store(rules: ReturnType<typeof putUserRule>): unknown {
  return { global: effectivePushRules(USER, { global: rules }) };
}

const ids = (stored: unknown, kind: 'override' | 'content' | 'room' | 'underride' | 'sender') => effectivePushRules(USER, stored)[kind].map((rule) => rule.rule_id);

describe('push rule sets', () => {
  it('starts from the server defaults, ignoring what it cannot read', () => {
    expect(effectivePushRules(USER, null).override[0].rule_id).toBe('.m.rule.master');
    expect(effectivePushRules(USER, { global: { override: [{ rule_id: 5 }], room: 'x' } }).room).toEqual([]);
  });

  it('adds user rules above the server defaults (below the master rule), newest first, enabled', () => {
    let stored = store(putUserRule(null, 'override', 'first', { actions: ['notify'], conditions: [{ kind: 'event_match', key: 'type', pattern: 'x' }] }, {}));
    stored = store(putUserRule(stored, 'override', 'second', { actions: [] }, {}));
    expect(ids(stored, 'override').slice(0, 4)).toEqual(['.m.rule.master', 'second', 'first', '.m.rule.suppress_notices']);
    const first = effectivePushRules(USER, stored).override.find((rule) => rule.rule_id === 'first');
    expect(first).toEqual({ rule_id: 'first', default: false, enabled: true, actions: ['notify'], conditions: [{ kind: 'event_match', key: 'type', pattern: 'x' }] });
    const second = effectivePushRules(USER, stored).override.find((rule) => rule.rule_id === 'second');
    expect(second?.conditions).toEqual([]);
  });

  it('places rules before or after another user rule', () => {
    let stored = store(putUserRule(null, 'room', '!a:x', { actions: [] }, {}));
    stored = store(putUserRule(stored, 'room', '!b:x', { actions: [] }, {}));
    stored = store(putUserRule(stored, 'room', '!c:x', { actions: [] }, { after: '!b:x' }));
    expect(ids(stored, 'room')).toEqual(['!b:x', '!c:x', '!a:x']);
    stored = store(putUserRule(stored, 'room', '!d:x', { actions: [] }, { before: '!a:x' }));
    expect(ids(stored, 'room')).toEqual(['!b:x', '!c:x', '!d:x', '!a:x']);
    expect(errcodeOf(() => putUserRule(stored, 'room', '!e:x', { actions: [] }, { before: '!missing:x' }))).toBe('400 M_UNKNOWN');
    expect(errcodeOf(() => putUserRule(stored, 'override', 'x', { actions: [] }, { after: '.m.rule.master' }))).toBe('400 M_INVALID_PARAM');
  });

  it('updates a rule in place and keeps its enabled flag', () => {
    let stored = store(putUserRule(null, 'sender', '@a:x', { actions: [] }, {}));
    stored = store(putUserRule(stored, 'sender', '@b:x', { actions: [] }, {}));
    stored = store(updateRule(USER, stored, 'sender', '@a:x', { enabled: false }));
    stored = store(putUserRule(stored, 'sender', '@a:x', { actions: ['notify'] }, {}));
    expect(effectivePushRules(USER, stored).sender).toEqual([
      { rule_id: '@b:x', default: false, enabled: true, actions: [] },
      { rule_id: '@a:x', default: false, enabled: false, actions: ['notify'] },
    ]);
  });

  it('content rules need a pattern; bad actions, conditions and reserved ids are refused', () => {
    expect(errcodeOf(() => putUserRule(null, 'content', 'cake', { actions: ['notify'] }, {}))).toBe('400 M_MISSING_PARAM');
    expect(errcodeOf(() => putUserRule(null, 'content', 'cake', { actions: ['notify'], pattern: 3 }, {}))).toBe('400 M_BAD_JSON');
    expect(effectivePushRules(USER, store(putUserRule(null, 'content', 'cake', { actions: ['notify'], pattern: 'cake*' }, {}))).content[0]).toMatchObject({
      rule_id: 'cake',
      pattern: 'cake*',
    });
    expect(errcodeOf(() => putUserRule(null, 'override', 'x', {}, {}))).toBe('400 M_MISSING_PARAM');
    expect(errcodeOf(() => putUserRule(null, 'override', 'x', { actions: 'notify' }, {}))).toBe('400 M_BAD_JSON');
    expect(errcodeOf(() => putUserRule(null, 'override', 'x', { actions: ['shout'] }, {}))).toBe('400 M_INVALID_PARAM');
    expect(errcodeOf(() => putUserRule(null, 'override', 'x', { actions: [], conditions: [{ key: 'type' }] }, {}))).toBe('400 M_BAD_JSON');
    expect(errcodeOf(() => putUserRule(null, 'override', '.m.rule.mine', { actions: [] }, {}))).toBe('400 M_INVALID_PARAM');
    expect(errcodeOf(() => putUserRule(null, 'override', 'a/b', { actions: [] }, {}))).toBe('400 M_INVALID_PARAM');
  });

  it('changes enabled and actions of server-default rules, keeping their definition', () => {
    let stored = store(updateRule(USER, null, 'override', '.m.rule.master', { enabled: true }));
    stored = store(updateRule(USER, stored, 'underride', '.m.rule.message', { actions: ['notify', { set_tweak: 'sound', value: 'bell' }] }));
    const rules = effectivePushRules(USER, stored);
    expect(rules.override[0]).toEqual({ rule_id: '.m.rule.master', default: true, enabled: true, conditions: [], actions: [] });
    expect(rules.underride.find((rule) => rule.rule_id === '.m.rule.message')).toEqual({
      rule_id: '.m.rule.message',
      default: true,
      enabled: true,
      conditions: [{ kind: 'event_match', key: 'type', pattern: 'm.room.message' }],
      actions: ['notify', { set_tweak: 'sound', value: 'bell' }],
    });
    expect(errcodeOf(() => updateRule(USER, stored, 'override', '.m.rule.nope', { enabled: true }))).toBe('404 M_NOT_FOUND');
  });

  it('deletes user rules only', () => {
    const stored = store(putUserRule(null, 'room', '!a:x', { actions: [] }, {}));
    expect(ids(store(deleteUserRule(stored, 'room', '!a:x')), 'room')).toEqual([]);
    expect(errcodeOf(() => deleteUserRule(stored, 'room', '!b:x'))).toBe('404 M_NOT_FOUND');
    expect(errcodeOf(() => deleteUserRule(stored, 'override', '.m.rule.master'))).toBe('400 M_INVALID_PARAM');
  });
});
