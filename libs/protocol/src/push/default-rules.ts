/**
 * The server-default push rules of the client-server API ("Push Rules", "Predefined Rules"),
 * in the order the spec lists them, with the user's Matrix ID and localpart filled in where
 * the spec says.
 */

export type PushAction = 'notify' | 'dont_notify' | 'coalesce' | { set_tweak: string; value?: unknown };

export interface PushCondition {
  kind: string;
  key?: string;
  pattern?: string;
  is?: string;
  value?: unknown;
}

export interface PushRule {
  rule_id: string;
  default: boolean;
  enabled: boolean;
  actions: PushAction[];
  conditions?: PushCondition[];
  pattern?: string;
}

/** A push rule set by kind (definitions/push_ruleset.yaml). */
export interface PushRuleset {
  override: PushRule[];
  content: PushRule[];
  room: PushRule[];
  sender: PushRule[];
  underride: PushRule[];
}

export type PushRuleKind = keyof PushRuleset;

export const PUSH_RULE_KINDS: readonly PushRuleKind[] = ['override', 'content', 'room', 'sender', 'underride'];

const SOUND_DEFAULT: PushAction = { set_tweak: 'sound', value: 'default' };
const HIGHLIGHT: PushAction = { set_tweak: 'highlight' };

function rule(ruleId: string, conditions: PushCondition[], actions: PushAction[], enabled = true): PushRule {
  return { rule_id: ruleId, default: true, enabled, conditions, actions };
}

function eventMatch(key: string, pattern: string): PushCondition {
  return { kind: 'event_match', key, pattern };
}

/** The predefined rules for `userId` (e.g. `@alice:example.org`). */
export function defaultPushRules(userId: string): PushRuleset {
  const localpart = userId.startsWith('@') ? userId.slice(1, userId.includes(':') ? userId.indexOf(':') : undefined) : userId;
  return {
    override: [
      rule('.m.rule.master', [], [], false),
      rule('.m.rule.suppress_notices', [eventMatch('content.msgtype', 'm.notice')], []),
      rule(
        '.m.rule.invite_for_me',
        [eventMatch('type', 'm.room.member'), eventMatch('content.membership', 'invite'), eventMatch('state_key', userId)],
        ['notify', SOUND_DEFAULT],
      ),
      rule('.m.rule.member_event', [eventMatch('type', 'm.room.member')], []),
      rule(
        '.m.rule.is_user_mention',
        [{ kind: 'event_property_contains', key: 'content.m\\.mentions.user_ids', value: userId }],
        ['notify', SOUND_DEFAULT, HIGHLIGHT],
      ),
      rule('.m.rule.contains_display_name', [{ kind: 'contains_display_name' }], ['notify', SOUND_DEFAULT, HIGHLIGHT]),
      rule(
        '.m.rule.is_room_mention',
        [
          { kind: 'event_property_is', key: 'content.m\\.mentions.room', value: true },
          { kind: 'sender_notification_permission', key: 'room' },
        ],
        ['notify', HIGHLIGHT],
      ),
      rule(
        '.m.rule.roomnotif',
        [eventMatch('content.body', '@room'), { kind: 'sender_notification_permission', key: 'room' }],
        ['notify', HIGHLIGHT],
      ),
      rule('.m.rule.tombstone', [eventMatch('type', 'm.room.tombstone'), eventMatch('state_key', '')], ['notify', HIGHLIGHT]),
      rule('.m.rule.reaction', [eventMatch('type', 'm.reaction')], []),
      rule('.m.rule.room.server_acl', [eventMatch('type', 'm.room.server_acl'), eventMatch('state_key', '')], []),
      rule('.m.rule.suppress_edits', [{ kind: 'event_property_is', key: 'content.m\\.relates_to.rel_type', value: 'm.replace' }], []),
    ],
    content: [
      {
        rule_id: '.m.rule.contains_user_name',
        default: true,
        enabled: true,
        pattern: localpart,
        actions: ['notify', SOUND_DEFAULT, HIGHLIGHT],
      },
    ],
    room: [],
    sender: [],
    underride: [
      rule('.m.rule.call', [eventMatch('type', 'm.call.invite')], ['notify', { set_tweak: 'sound', value: 'ring' }]),
      rule(
        '.m.rule.encrypted_room_one_to_one',
        [{ kind: 'room_member_count', is: '2' }, eventMatch('type', 'm.room.encrypted')],
        ['notify', SOUND_DEFAULT],
      ),
      rule('.m.rule.room_one_to_one', [{ kind: 'room_member_count', is: '2' }, eventMatch('type', 'm.room.message')], ['notify', SOUND_DEFAULT]),
      rule('.m.rule.message', [eventMatch('type', 'm.room.message')], ['notify']),
      rule('.m.rule.encrypted', [eventMatch('type', 'm.room.encrypted')], ['notify']),
    ],
  };
}
