import { defaultPushRules } from './default-rules';
import { compilePushRules, evaluatePushRules, splitPushKey, type PushContext, type PushEvent } from './evaluate';
import { effectivePushRules } from './ruleset';

const ALICE = '@alice:example.org';
const BOB = '@bob:example.org';
const ROOM = '!room:example.org';

const defaults = compilePushRules(ALICE, defaultPushRules(ALICE));
const group: PushContext = { memberCount: 5, displayName: 'Alice Liddell', senderPowerLevel: 0 };

function message(content: Record<string, unknown>, extra: Record<string, unknown> = {}): PushEvent {
  return { type: 'm.room.message', sender: BOB, room_id: ROOM, content: { msgtype: 'm.text', ...content }, ...extra };
}

function outcome(event: PushEvent, context: PushContext = group, rules = defaults) {
  const result = evaluatePushRules(rules, event, context);
  return { rule: result.ruleId, notify: result.notify, highlight: result.highlight, tweaks: result.tweaks };
}

describe('push rule keys', () => {
  it('splits on dots, with \\. a literal dot and \\\\ a literal backslash (the spec examples)', () => {
    expect(splitPushKey('content.m\\.relates_to.rel_type')).toEqual(['content', 'm.relates_to', 'rel_type']);
    expect(splitPushKey('content.m\\.mentions.user_ids')).toEqual(['content', 'm.mentions', 'user_ids']);
    expect(splitPushKey('content.dotted\\.key')).toEqual(['content', 'dotted.key']);
    expect(splitPushKey('content.back\\\\slash')).toEqual(['content', 'back\\slash']);
    expect(splitPushKey('content.m\\foo')).toEqual(['content', 'm\\foo']);
  });
});

describe('the default rules', () => {
  it('notify for a message in a group room, with a sound in a one-to-one room', () => {
    expect(outcome(message({ body: 'hello' }))).toEqual({ rule: '.m.rule.message', notify: true, highlight: false, tweaks: {} });
    expect(outcome(message({ body: 'hello' }), { ...group, memberCount: 2 })).toEqual({
      rule: '.m.rule.room_one_to_one',
      notify: true,
      highlight: false,
      tweaks: { sound: 'default' },
    });
  });

  it('encrypted events notify (with a sound one to one); notices, reactions, edits, member events and ACLs do not', () => {
    const encrypted = { type: 'm.room.encrypted', sender: BOB, room_id: ROOM, content: { algorithm: 'm.megolm.v1.aes-sha2' } };
    expect(outcome(encrypted).rule).toBe('.m.rule.encrypted');
    expect(outcome(encrypted, { ...group, memberCount: 2 }).rule).toBe('.m.rule.encrypted_room_one_to_one');
    expect(outcome(message({ msgtype: 'm.notice', body: 'bot' }))).toMatchObject({ rule: '.m.rule.suppress_notices', notify: false });
    expect(outcome({ type: 'm.reaction', sender: BOB, room_id: ROOM, content: {} })).toMatchObject({ rule: '.m.rule.reaction', notify: false });
    const edit = message({ body: '* fixed', 'm.relates_to': { rel_type: 'm.replace', event_id: '$x' } });
    expect(outcome(edit)).toMatchObject({ rule: '.m.rule.suppress_edits', notify: false });
    const join = { type: 'm.room.member', sender: BOB, state_key: BOB, room_id: ROOM, content: { membership: 'join' } };
    expect(outcome(join)).toMatchObject({ rule: '.m.rule.member_event', notify: false });
    const acl = { type: 'm.room.server_acl', sender: BOB, state_key: '', room_id: ROOM, content: {} };
    expect(outcome(acl)).toMatchObject({ rule: '.m.rule.room.server_acl', notify: false });
    expect(outcome({ type: 'm.room.topic', sender: BOB, state_key: '', room_id: ROOM, content: { topic: 'x' } })).toMatchObject({ rule: undefined, notify: false });
  });

  it('an invite for the user notifies with a sound; one for someone else does not', () => {
    const invite = (target: string) => ({ type: 'm.room.member', sender: BOB, state_key: target, room_id: ROOM, content: { membership: 'invite' } });
    expect(outcome(invite(ALICE))).toEqual({ rule: '.m.rule.invite_for_me', notify: true, highlight: false, tweaks: { sound: 'default' } });
    expect(outcome(invite('@carol:example.org')).rule).toBe('.m.rule.member_event');
  });

  it('highlights a user mention in m.mentions, and not a mention of someone else', () => {
    expect(outcome(message({ body: 'hi', 'm.mentions': { user_ids: [ALICE] } }))).toEqual({
      rule: '.m.rule.is_user_mention',
      notify: true,
      highlight: true,
      tweaks: { sound: 'default' },
    });
    expect(outcome(message({ body: 'hi', 'm.mentions': { user_ids: ['@carol:example.org'] } })).rule).toBe('.m.rule.message');
  });

  it('with m.mentions, the legacy display name, user name and @room rules do not apply', () => {
    expect(outcome(message({ body: 'Alice Liddell alice @room', 'm.mentions': {} }))).toMatchObject({ rule: '.m.rule.message', highlight: false });
  });

  it('without m.mentions, the display name and the localpart highlight as whole words, ignoring case', () => {
    expect(outcome(message({ body: 'ask alice liddell!' }))).toMatchObject({ rule: '.m.rule.contains_display_name', highlight: true });
    expect(outcome(message({ body: 'ALICE?' }))).toMatchObject({ rule: '.m.rule.contains_user_name', highlight: true });
    expect(outcome(message({ body: 'malice aforethought' }))).toMatchObject({ rule: '.m.rule.message', highlight: false });
    expect(outcome(message({ body: 'Dodo Birdx' }), { ...group, displayName: 'Dodo Bird' }).rule).toBe('.m.rule.message');
  });

  it('room mentions highlight only when the sender may notify the room (power level `notifications.room`, default 50)', () => {
    const mention = message({ body: 'all', 'm.mentions': { room: true } });
    expect(outcome(mention).rule).toBe('.m.rule.message');
    expect(outcome(mention, { ...group, senderPowerLevel: 50 })).toMatchObject({ rule: '.m.rule.is_room_mention', highlight: true });
    expect(outcome(mention, { ...group, senderPowerLevel: 10, notificationLevels: { room: 10 } }).rule).toBe('.m.rule.is_room_mention');
    expect(outcome(message({ body: 'hey @room' }), { ...group, senderPowerLevel: 100 })).toMatchObject({ rule: '.m.rule.roomnotif', highlight: true });
  });

  it('a tombstone highlights; a call invite rings', () => {
    const tombstone = { type: 'm.room.tombstone', sender: BOB, state_key: '', room_id: ROOM, content: { body: 'moved', replacement_room: '!new:x' } };
    expect(outcome(tombstone)).toMatchObject({ rule: '.m.rule.tombstone', notify: true, highlight: true });
    expect(outcome({ type: 'm.call.invite', sender: BOB, room_id: ROOM, content: {} })).toMatchObject({ rule: '.m.rule.call', tweaks: { sound: 'ring' } });
  });

  it('the master rule, once enabled, silences everything', () => {
    const stored = { global: { override: [{ rule_id: '.m.rule.master', default: true, enabled: true, actions: [] }] } };
    const rules = compilePushRules(ALICE, effectivePushRules(ALICE, stored));
    expect(outcome(message({ body: 'alice' }), group, rules)).toMatchObject({ rule: '.m.rule.master', notify: false });
  });
});

describe("the user's own rules", () => {
  const withRules = (global: Record<string, unknown>) => compilePushRules(ALICE, effectivePushRules(ALICE, { global }));

  it('a room rule with dont_notify silences the room; a sender rule applies to that sender only', () => {
    const rules = withRules({ room: [{ rule_id: ROOM, default: false, enabled: true, actions: ['dont_notify'] }] });
    expect(outcome(message({ body: 'x' }), group, rules)).toMatchObject({ rule: ROOM, notify: false });
    expect(outcome(message({ body: 'x' }, { room_id: '!other:example.org' }), group, rules).rule).toBe('.m.rule.message');
    const sender = withRules({ sender: [{ rule_id: BOB, default: false, enabled: true, actions: ['notify', { set_tweak: 'sound', value: 'bob' }] }] });
    expect(outcome(message({ body: 'x' }), group, sender)).toMatchObject({ rule: BOB, tweaks: { sound: 'bob' } });
    expect(outcome(message({ body: 'x' }, { sender: '@carol:example.org' }), group, sender).rule).toBe('.m.rule.message');
  });

  it('a content rule matches its glob against words of the body', () => {
    const rules = withRules({
      content: [{ rule_id: 'cakes', default: false, enabled: true, pattern: 'cake*', actions: ['notify', { set_tweak: 'highlight', value: true }] }],
    });
    expect(outcome(message({ body: 'who wants cakes?' }), group, rules)).toMatchObject({ rule: 'cakes', highlight: true });
    expect(outcome(message({ body: 'CAKE' }), group, rules).rule).toBe('cakes');
    expect(outcome(message({ body: 'pancakes' }), group, rules).rule).toBe('.m.rule.message');
    const single = withRules({ content: [{ rule_id: 'c?t', default: false, enabled: true, pattern: 'c?t', actions: ['notify'] }] });
    expect(outcome(message({ body: 'a cat' }), group, single).rule).toBe('c?t');
    expect(outcome(message({ body: 'a coat' }), group, single).rule).toBe('.m.rule.message');
  });

  it('event_match on other keys matches the whole value with globs; non-strings never match', () => {
    const rules = withRules({
      override: [
        { rule_id: 'typed', default: false, enabled: true, conditions: [{ kind: 'event_match', key: 'type', pattern: 'org.example.*' }], actions: ['notify'] },
        { rule_id: 'num', default: false, enabled: true, conditions: [{ kind: 'event_match', key: 'content.n', pattern: '1' }], actions: ['notify'] },
      ],
    });
    expect(outcome({ type: 'org.example.thing', sender: BOB, room_id: ROOM, content: {} }, group, rules).rule).toBe('typed');
    expect(outcome({ type: 'xorg.example.thing', sender: BOB, room_id: ROOM, content: {} }, group, rules).rule).toBeUndefined();
    expect(outcome({ type: 'other', sender: BOB, room_id: ROOM, content: { n: 1 } }, group, rules).rule).toBeUndefined();
  });

  it('event_property_is and event_property_contains compare exactly (type included), with dotted keys', () => {
    const rules = withRules({
      override: [
        { rule_id: 'is', default: false, enabled: true, conditions: [{ kind: 'event_property_is', key: 'content.a\\.b', value: 1 }], actions: ['notify'] },
        { rule_id: 'has', default: false, enabled: true, conditions: [{ kind: 'event_property_contains', key: 'content.tags', value: 'x' }], actions: ['notify'] },
        { rule_id: 'null', default: false, enabled: true, conditions: [{ kind: 'event_property_is', key: 'content.z', value: null }], actions: ['notify'] },
      ],
    });
    const ev = (content: Record<string, unknown>) => ({ type: 't', sender: BOB, room_id: ROOM, content });
    expect(outcome(ev({ 'a.b': 1 }), group, rules).rule).toBe('is');
    expect(outcome(ev({ 'a.b': '1' }), group, rules).rule).toBeUndefined();
    expect(outcome(ev({ a: { b: 1 } }), group, rules).rule).toBeUndefined();
    expect(outcome(ev({ tags: ['y', 'x'] }), group, rules).rule).toBe('has');
    expect(outcome(ev({ tags: 'x' }), group, rules).rule).toBeUndefined();
    expect(outcome(ev({ z: null }), group, rules).rule).toBe('null');
    expect(outcome(ev({}), group, rules).rule).toBeUndefined();
  });

  it('room_member_count compares with ==, <, >, <=, >= (no prefix is ==)', () => {
    const rule = (is: string) =>
      withRules({ override: [{ rule_id: is, default: false, enabled: true, conditions: [{ kind: 'room_member_count', is }], actions: ['notify'] }] });
    const ev = { type: 't', sender: BOB, room_id: ROOM, content: {} };
    const at = (count: number, is: string) => outcome(ev, { ...group, memberCount: count }, rule(is)).rule === is;
    expect([at(2, '2'), at(3, '2'), at(2, '==2')]).toEqual([true, false, true]);
    expect([at(1, '<2'), at(2, '<2'), at(3, '>2'), at(2, '>2')]).toEqual([true, false, true, false]);
    expect([at(2, '<=2'), at(3, '<=2'), at(2, '>=2'), at(1, '>=2')]).toEqual([true, false, true, false]);
    expect(at(2, 'two')).toBe(false);
  });

  it('disabled rules, unknown condition kinds and a highlight tweak of false do not apply', () => {
    const rules = withRules({
      override: [
        { rule_id: 'off', default: false, enabled: false, conditions: [], actions: ['notify'] },
        { rule_id: 'odd', default: false, enabled: true, conditions: [{ kind: 'org.example.unknown' }], actions: ['notify'] },
        { rule_id: 'quiet', default: false, enabled: true, conditions: [], actions: ['notify', { set_tweak: 'highlight', value: false }] },
      ],
    });
    expect(outcome(message({ body: 'x' }), group, rules)).toMatchObject({ rule: 'quiet', notify: true, highlight: false });
  });
});

describe('word matching in the body', () => {
  const rules = compilePushRules(ALICE, effectivePushRules(ALICE, { global: { content: [{ rule_id: 'k', default: false, enabled: true, pattern: '@team', actions: ['notify'] }] } }));
  it('finds literal words and names as whole words, with non-ASCII bodies too', () => {
    expect(outcome(message({ body: 'ping @team now' }), group, rules).rule).toBe('k');
    expect(outcome(message({ body: 'ping x@team now' }), group, rules).rule).toBe('.m.rule.message');
    expect(outcome(message({ body: '@TEAM' }), group, rules).rule).toBe('k');
    expect(outcome(message({ body: 'İstanbul @team' }), group, rules).rule).toBe('k');
    expect(outcome(message({ body: 'İstanbul, Dodo Bird?' }), { ...group, displayName: 'dodo bird' }).rule).toBe('.m.rule.contains_display_name');
    expect(outcome(message({ body: 'Dodo Birds' }), { ...group, displayName: 'Dodo Bird' }).rule).toBe('.m.rule.message');
  });
});
