/**
 * The push rule engine of the client-server API ("Push Rules", "Conditions", "Actions"): a
 * user's rules, compiled once ({@link compilePushRules}), decide for an event what happens
 * for that user: notify or not, highlight, and the other tweaks (sound). Pure functions: the
 * caller gives what the conditions need of the room (member count, the user's display name,
 * power levels).
 */
import { PUSH_RULE_KINDS, type PushAction, type PushCondition, type PushRule, type PushRuleset } from './default-rules';

/** What the conditions need to know besides the event. */
export interface PushContext {
  /** The number of joined members of the room (`room_member_count`). */
  memberCount: number;
  /** The user's display name in the room, if any (`contains_display_name`). */
  displayName?: string | undefined;
  /** The sender's power level in the room (`sender_notification_permission`). */
  senderPowerLevel: number;
  /** The power level each notification key requires (`notifications` of `m.room.power_levels`; `room` defaults to 50). */
  notificationLevels?: Readonly<Record<string, number>>;
}

/** The event as the rules see it: its client-format fields (type, sender, content, state_key, room_id, ...). */
export type PushEvent = Readonly<Record<string, unknown>>;

/** What a user's rules decide for an event. */
export interface PushOutcome {
  /** The id of the rule that matched (none: no rule matched, nothing happens). */
  ruleId: string | undefined;
  /** The matching rule's actions as given (for GET /notifications). */
  actions: PushAction[];
  notify: boolean;
  highlight: boolean;
  /** The tweaks set by the actions other than `highlight` (e.g. `sound`). */
  tweaks: Record<string, unknown>;
}

/** The legacy mention rules, which events carrying `m.mentions` skip (spec v1.7 and later). */
const LEGACY_MENTION_RULES: ReadonlySet<string> = new Set(['.m.rule.contains_display_name', '.m.rule.contains_user_name', '.m.rule.roomnotif']);

/** Characters that are not word characters delimit words in `content.body` ("word boundary"). */
const WORD = '[A-Za-z0-9_]';

type Test = (event: PushEvent, context: PushContext) => boolean;

interface CompiledRule {
  ruleId: string;
  actions: PushAction[];
  legacyMention: boolean;
  test: Test;
}

/** A user's enabled rules in evaluation order, ready to run. */
export interface CompiledPushRules {
  readonly userId: string;
  readonly rules: readonly CompiledRule[];
}

/** Splits a dotted key into its parts; `\.` is a literal dot and `\\` a literal backslash. */
export function splitPushKey(key: string): string[] {
  const parts: string[] = [];
  let current = '';
  for (let i = 0; i < key.length; i++) {
    const c = key[i];
    if (c === '\\' && (key[i + 1] === '.' || key[i + 1] === '\\')) {
      current += key[i + 1];
      i++;
    } else if (c === '.') {
      parts.push(current);
      current = '';
    } else current += c;
  }
  parts.push(current);
  return parts;
}

/** The value at a dotted path of the event, or undefined when a step is missing. */
function lookup(event: PushEvent, path: readonly string[]): unknown {
  let value: unknown = event;
  for (const part of path) {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
    if (!Object.prototype.hasOwnProperty.call(value, part)) return undefined;
    value = (value as Record<string, unknown>)[part];
  }
  return value;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** A glob (`*` any run, `?` any one character) as a regular expression source. */
function globSource(glob: string): string {
  let source = '';
  for (const c of glob) {
    if (c === '*') source += '[\\s\\S]*?';
    else if (c === '?') source += '[\\s\\S]';
    else source += escapeRegExp(c);
  }
  return source;
}

/** Matches the whole value, ignoring case. */
export function globMatcher(glob: string): RegExp {
  return new RegExp(`^${globSource(glob)}$`, 'iu');
}

/** Matches a part of the value that starts and ends at word boundaries, ignoring case. */
export function wordGlobMatcher(glob: string): RegExp {
  return new RegExp(`(?:^|(?<!${WORD}))${globSource(glob)}(?:$|(?!${WORD}))`, 'iu');
}

const WORD_CHAR = /[A-Za-z0-9_]/;

/**
 * The lower-cased body of each event, computed once per event whatever the number of rules and
 * members; null when lower-casing changes its length (positions would not match: regular
 * expressions are used then).
 */
const lowerBodies = new WeakMap<object, string | null>();

function lowerBody(event: PushEvent, body: string): string | null {
  let lower = lowerBodies.get(event);
  if (lower === undefined) {
    const lowered = body.toLowerCase();
    lower = lowered.length === body.length ? lowered : null;
    lowerBodies.set(event, lower);
  }
  return lower;
}

/** Whether `lower` (a lower-cased body) holds `needle` (lower-cased, no wildcards) as whole words. */
function containsWordsLiteral(lower: string, needle: string): boolean {
  if (needle.length === 0) return false;
  let from = 0;
  for (;;) {
    const at = lower.indexOf(needle, from);
    if (at < 0) return false;
    const end = at + needle.length;
    const startsWord = at === 0 || !WORD_CHAR.test(lower[at - 1]);
    const endsWord = end === lower.length || !WORD_CHAR.test(lower[end]);
    if (startsWord && endsWord) return true;
    from = at + 1;
  }
}

/** Whether lower-casing keeps the string's length (so positions in the lower-cased body are the body's). */
function lowersInPlace(text: string): boolean {
  return text.toLowerCase().length === text.length;
}

function isScalar(value: unknown): boolean {
  return value === null || typeof value === 'string' || typeof value === 'boolean' || (typeof value === 'number' && Number.isInteger(value));
}

const MEMBER_COUNT = /^(==|<=|>=|<|>)?([0-9]+)$/;

function compileCondition(condition: PushCondition): Test {
  switch (condition.kind) {
    case 'event_match': {
      if (typeof condition.key !== 'string' || typeof condition.pattern !== 'string') return () => false;
      const path = splitPushKey(condition.key);
      const body = condition.key === 'content.body';
      const pattern = condition.pattern;
      if (body && !/[*?]/.test(pattern) && lowersInPlace(pattern)) {
        // A literal word (the common keyword rule): searched in the body lower-cased once per event.
        const needle = pattern.toLowerCase();
        const fallback = wordGlobMatcher(pattern);
        return (event) => {
          const value = lookup(event, path);
          if (typeof value !== 'string') return false;
          const lower = lowerBody(event, value);
          return lower !== null ? containsWordsLiteral(lower, needle) : fallback.test(value);
        };
      }
      const matcher = body ? wordGlobMatcher(pattern) : globMatcher(pattern);
      return (event) => {
        const value = lookup(event, path);
        return typeof value === 'string' && matcher.test(value);
      };
    }
    case 'event_property_is': {
      if (typeof condition.key !== 'string' || !isScalar(condition.value)) return () => false;
      const path = splitPushKey(condition.key);
      const expected = condition.value;
      return (event) => lookup(event, path) === expected;
    }
    case 'event_property_contains': {
      if (typeof condition.key !== 'string' || !isScalar(condition.value)) return () => false;
      const path = splitPushKey(condition.key);
      const expected = condition.value;
      return (event) => {
        const value = lookup(event, path);
        return Array.isArray(value) && value.includes(expected);
      };
    }
    case 'contains_display_name': {
      // The lower-cased name (or, when lower-casing changes lengths, a matcher) is kept while the name stays the same.
      let name: string | undefined;
      let needle: string | undefined;
      let matcher: RegExp | undefined;
      return (event, context) => {
        const displayName = context.displayName;
        if (!displayName) return false;
        const body = lookup(event, ['content', 'body']);
        if (typeof body !== 'string') return false;
        if (name !== displayName) {
          name = displayName;
          needle = lowersInPlace(displayName) ? displayName.toLowerCase() : undefined;
          matcher = new RegExp(`(?:^|(?<!${WORD}))${escapeRegExp(displayName)}(?:$|(?!${WORD}))`, 'iu');
        }
        const lower = needle !== undefined ? lowerBody(event, body) : null;
        return lower !== null ? containsWordsLiteral(lower, needle!) : matcher!.test(body);
      };
    }
    case 'room_member_count': {
      const match = typeof condition.is === 'string' ? MEMBER_COUNT.exec(condition.is) : null;
      if (!match) return () => false;
      const op = match[1] ?? '==';
      const n = Number(match[2]);
      return (_event, context) => {
        const count = context.memberCount;
        switch (op) {
          case '<':
            return count < n;
          case '>':
            return count > n;
          case '<=':
            return count <= n;
          case '>=':
            return count >= n;
          default:
            return count === n;
        }
      };
    }
    case 'sender_notification_permission': {
      if (typeof condition.key !== 'string') return () => false;
      const key = condition.key;
      return (_event, context) => {
        const levels = context.notificationLevels ?? {};
        const required = Object.prototype.hasOwnProperty.call(levels, key) ? levels[key] : key === 'room' ? 50 : undefined;
        // A key with no level known to the room: the spec's default for `room` only.
        return required !== undefined && context.senderPowerLevel >= required;
      };
    }
    default:
      // Unknown condition kinds never match (the spec: the rule does not apply).
      return () => false;
  }
}

function compileRule(rule: PushRule, kind: string): CompiledRule | undefined {
  if (!rule.enabled) return undefined;
  let tests: Test[];
  if (kind === 'content') {
    if (typeof rule.pattern !== 'string') return undefined;
    tests = [compileCondition({ kind: 'event_match', key: 'content.body', pattern: rule.pattern })];
  } else if (kind === 'room' || kind === 'sender') {
    // A room rule applies to the room its id names, a sender rule to the user it names.
    const field = kind === 'room' ? 'room_id' : 'sender';
    const id = rule.rule_id;
    tests = [(event) => event[field] === id];
  } else {
    tests = (rule.conditions ?? []).map((condition) => compileCondition(condition));
  }
  const test: Test = tests.length === 1 ? tests[0] : (event, context) => tests.every((t) => t(event, context));
  return { ruleId: rule.rule_id, actions: Array.isArray(rule.actions) ? rule.actions : [], legacyMention: LEGACY_MENTION_RULES.has(rule.rule_id), test };
}

/** Compiles the effective rules of `userId` (override, content, room, sender, underride; disabled rules dropped). */
export function compilePushRules(userId: string, ruleset: PushRuleset): CompiledPushRules {
  const rules: CompiledRule[] = [];
  for (const kind of PUSH_RULE_KINDS) {
    for (const rule of ruleset[kind] ?? []) {
      const compiled = compileRule(rule, kind);
      if (compiled) rules.push(compiled);
    }
  }
  return { userId, rules };
}

/** Reads a list of actions: `notify`, highlight and the other tweaks (`dont_notify` and unknown actions do nothing). */
export function outcomeOf(ruleId: string | undefined, actions: readonly PushAction[]): PushOutcome {
  let notify = false;
  let highlight = false;
  const tweaks: Record<string, unknown> = {};
  for (const action of actions) {
    if (action === 'notify' || action === 'coalesce') notify = true;
    else if (typeof action === 'object' && action !== null && typeof action.set_tweak === 'string') {
      if (action.set_tweak === 'highlight') highlight = action.value === undefined ? true : action.value === true;
      else tweaks[action.set_tweak] = action.value;
    }
  }
  return { ruleId, actions: [...actions], notify, highlight: notify && highlight, tweaks };
}

const NOTHING: PushOutcome = Object.freeze({ ruleId: undefined, actions: [], notify: false, highlight: false, tweaks: {} }) as PushOutcome;

/** The first matching rule decides: what the user's rules make of `event`. */
export function evaluatePushRules(rules: CompiledPushRules, event: PushEvent, context: PushContext): PushOutcome {
  const content = event.content;
  const hasMentions =
    typeof content === 'object' && content !== null && !Array.isArray(content) && Object.prototype.hasOwnProperty.call(content, 'm.mentions');
  for (const rule of rules.rules) {
    if (rule.legacyMention && hasMentions) continue;
    if (rule.test(event, context)) return outcomeOf(rule.ruleId, rule.actions);
  }
  return NOTHING;
}
