/**
 * The redaction algorithm of every room version (rooms/v1.md … v12.md, "Redactions"). It works
 * on the wire form of an event and returns a new object; the input is not changed.
 *
 * | algorithm | room versions | changes |
 * |-----------|---------------|---------|
 * | v1        | 1-5           | base lists |
 * | v6        | 6-7           | `m.room.aliases` content is no longer kept |
 * | v8        | 8             | `m.room.join_rules` keeps `allow` |
 * | v9        | 9-10          | `m.room.member` keeps `join_authorised_via_users_server` |
 * | v11       | 11-12         | top-level `origin`, `membership`, `prev_state` go; `m.room.create` keeps all content; power levels keep `invite`; `m.room.redaction` keeps `redacts`; member keeps `third_party_invite.signed` |
 */
import { roomVersion, type RedactionAlgorithm, type RoomVersionRules } from '../room-versions';

const TOP_LEVEL_V1: readonly string[] = [
  'event_id',
  'type',
  'room_id',
  'sender',
  'state_key',
  'content',
  'hashes',
  'signatures',
  'depth',
  'prev_events',
  'prev_state',
  'auth_events',
  'origin',
  'origin_server_ts',
  'membership',
];
const TOP_LEVEL_V11: readonly string[] = TOP_LEVEL_V1.filter((k) => k !== 'origin' && k !== 'membership' && k !== 'prev_state');

const POWER_LEVELS_V1 = ['ban', 'events', 'events_default', 'kick', 'redact', 'state_default', 'users', 'users_default'];

/** Content keys kept per event type; `'*'` keeps the whole content. */
type ContentRules = Readonly<Record<string, readonly string[] | '*'>>;

const CONTENT_V1: ContentRules = {
  'm.room.member': ['membership'],
  'm.room.create': ['creator'],
  'm.room.join_rules': ['join_rule'],
  'm.room.power_levels': POWER_LEVELS_V1,
  'm.room.aliases': ['aliases'],
  'm.room.history_visibility': ['history_visibility'],
};
const CONTENT_V6: ContentRules = (() => {
  const rules: Record<string, readonly string[] | '*'> = { ...CONTENT_V1 };
  delete rules['m.room.aliases'];
  return rules;
})();
const CONTENT_V8: ContentRules = { ...CONTENT_V6, 'm.room.join_rules': ['join_rule', 'allow'] };
const CONTENT_V9: ContentRules = { ...CONTENT_V8, 'm.room.member': ['membership', 'join_authorised_via_users_server'] };
const CONTENT_V11: ContentRules = {
  ...CONTENT_V9,
  'm.room.create': '*',
  'm.room.power_levels': [...POWER_LEVELS_V1, 'invite'],
  'm.room.redaction': ['redacts'],
};

interface RedactionRules {
  readonly topLevel: ReadonlySet<string>;
  readonly content: ContentRules;
  /** v11+: `m.room.member` keeps `signed` inside `third_party_invite`. */
  readonly keepThirdPartyInviteSigned: boolean;
}

const RULES: Readonly<Record<RedactionAlgorithm, RedactionRules>> = {
  v1: { topLevel: new Set(TOP_LEVEL_V1), content: CONTENT_V1, keepThirdPartyInviteSigned: false },
  v6: { topLevel: new Set(TOP_LEVEL_V1), content: CONTENT_V6, keepThirdPartyInviteSigned: false },
  v8: { topLevel: new Set(TOP_LEVEL_V1), content: CONTENT_V8, keepThirdPartyInviteSigned: false },
  v9: { topLevel: new Set(TOP_LEVEL_V1), content: CONTENT_V9, keepThirdPartyInviteSigned: false },
  v11: { topLevel: new Set(TOP_LEVEL_V11), content: CONTENT_V11, keepThirdPartyInviteSigned: true },
};

function rulesFor(version: string | RoomVersionRules): RedactionRules {
  const rules = typeof version === 'string' ? roomVersion(version) : version;
  return RULES[rules.redaction];
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function redactContent(type: unknown, content: unknown, rules: RedactionRules): Record<string, unknown> {
  if (!isObject(content)) return {};
  const kept = typeof type === 'string' && Object.prototype.hasOwnProperty.call(rules.content, type) ? rules.content[type] : undefined;
  if (kept === '*') return { ...content };
  const out: Record<string, unknown> = {};
  if (kept) {
    for (const key of kept) {
      if (Object.prototype.hasOwnProperty.call(content, key)) out[key] = content[key];
    }
  }
  if (rules.keepThirdPartyInviteSigned && type === 'm.room.member') {
    const invite = content.third_party_invite;
    if (isObject(invite) && Object.prototype.hasOwnProperty.call(invite, 'signed')) {
      out.third_party_invite = { signed: invite.signed };
    }
  }
  return out;
}

/**
 * The redacted form of `event` under the rules of `version` (a room version id or its rules).
 * Unknown top-level keys and `unsigned` are dropped; `content` is always present.
 */
export function redactEvent<T extends object>(event: T, version: string | RoomVersionRules): Record<string, unknown> {
  const rules = rulesFor(version);
  const source = event as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(source)) {
    if (key !== 'content' && rules.topLevel.has(key) && source[key] !== undefined) out[key] = source[key];
  }
  out.content = redactContent(source.type, source.content, rules);
  return out;
}

/** The content keys kept when redacting an event of `type` (for clients applying redactions locally). */
export function redactedContent(type: string, content: Record<string, unknown>, version: string | RoomVersionRules): Record<string, unknown> {
  return redactContent(type, content, rulesFor(version));
}
