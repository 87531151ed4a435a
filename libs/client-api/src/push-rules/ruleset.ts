/**
 * A user's push rules: the server-default rules with the user's changes to them (enabled,
 * actions) and the user's own rules, kept as the `m.push_rules` global account data
 * (`{ global: <ruleset> }`), as the spec's "Push Rules: Events" describe. Pure functions.
 */
import { MatrixError } from '@hs/http';
import {
  effectivePushRules,
  isPushRuleKind,
  isServerDefaultRule as isServerDefault,
  storedPushRules as storedRules,
  type PushAction,
  type PushCondition,
  type PushRule,
  type PushRuleKind,
  type PushRuleset,
} from '@hs/protocol';

export { effectivePushRules, isPushRuleKind };

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}


/** Finds a rule, or throws 404 M_NOT_FOUND (400 M_INVALID_PARAM for an unknown kind). */
export function findPushRule(rules: PushRuleset, kind: string, ruleId: string): PushRule {
  if (!isPushRuleKind(kind)) throw MatrixError.invalidParam(`Unknown push rule kind ${kind}`);
  const found = rules[kind].find((rule) => rule.rule_id === ruleId);
  if (!found) throw MatrixError.notFound('The push rule was not found.');
  return found;
}

/** Checks a list of push actions (strings or `set_tweak` objects). */
export function parseActions(value: unknown): PushAction[] {
  if (value === undefined) throw MatrixError.missingParam('Missing actions');
  if (!Array.isArray(value)) throw MatrixError.badJson('actions must be an array');
  return value.map((action) => {
    if (action === 'notify' || action === 'dont_notify' || action === 'coalesce') return action;
    if (isRecord(action) && typeof action.set_tweak === 'string') return action as PushAction;
    throw MatrixError.invalidParam(`Unrecognised push action ${JSON.stringify(action)}`);
  });
}

function parseConditions(value: unknown): PushCondition[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw MatrixError.badJson('conditions must be an array');
  return value.map((condition) => {
    if (!isRecord(condition) || typeof condition.kind !== 'string') throw MatrixError.badJson('Each condition must be an object with a kind');
    return condition as unknown as PushCondition;
  });
}

/** Refuses rule ids the spec reserves or forbids. */
export function assertUserRuleId(ruleId: string): void {
  if (ruleId.length === 0 || isServerDefault(ruleId)) throw MatrixError.invalidParam('Rule ids starting with "." are reserved for server-default rules');
  if (ruleId.includes('/') || ruleId.includes('\\')) throw MatrixError.invalidParam('Rule ids may not contain slashes or backslashes');
}

export interface PushRulePlacement {
  before?: string;
  after?: string;
}

/** The user's stored rules after PUT /pushrules/global/{kind}/{ruleId} with `body`. */
export function putUserRule(stored: unknown, kind: PushRuleKind, ruleId: string, body: Record<string, unknown>, placement: PushRulePlacement): PushRuleset {
  assertUserRuleId(ruleId);
  const rule: PushRule = { rule_id: ruleId, default: false, enabled: true, actions: parseActions(body.actions) };
  if (kind === 'override' || kind === 'underride') rule.conditions = parseConditions(body.conditions);
  if (kind === 'content') {
    if (body.pattern === undefined) throw MatrixError.missingParam('Content rules need a pattern');
    if (typeof body.pattern !== 'string') throw MatrixError.badJson('pattern must be a string');
    rule.pattern = body.pattern;
  }
  const rules = storedRules(stored);
  const list = rules[kind];
  const existing = list.findIndex((entry) => entry.rule_id === ruleId);
  if (existing >= 0) {
    rule.enabled = list[existing].enabled;
    list.splice(existing, 1);
  }
  const anchorId = placement.before ?? placement.after;
  const userRules = list.filter((entry) => !isServerDefault(entry.rule_id));
  let index = list.findIndex((entry) => !isServerDefault(entry.rule_id));
  if (index < 0) index = list.length;
  if (anchorId !== undefined) {
    if (isServerDefault(anchorId)) throw MatrixError.invalidParam('A rule cannot be placed relative to a server-default rule');
    const anchor = list.findIndex((entry) => entry.rule_id === anchorId);
    if (anchor < 0 || !userRules.some((entry) => entry.rule_id === anchorId)) {
      throw new MatrixError(400, 'M_UNKNOWN', `before/after rule not found: ${anchorId}`);
    }
    index = placement.before !== undefined ? anchor : anchor + 1;
  } else if (existing >= 0) {
    index = Math.min(existing, list.length);
  }
  list.splice(index, 0, rule);
  return rules;
}

/** The user's stored rules after DELETE /pushrules/global/{kind}/{ruleId}. */
export function deleteUserRule(stored: unknown, kind: PushRuleKind, ruleId: string): PushRuleset {
  if (isServerDefault(ruleId)) throw MatrixError.invalidParam('Server-default rules cannot be deleted');
  const rules = storedRules(stored);
  const index = rules[kind].findIndex((entry) => entry.rule_id === ruleId);
  if (index < 0) throw MatrixError.notFound('The push rule was not found.');
  rules[kind].splice(index, 1);
  return rules;
}

/** The user's stored rules after changing the `enabled` flag or the actions of any rule. */
export function updateRule(userId: string, stored: unknown, kind: PushRuleKind, ruleId: string, change: { enabled?: boolean; actions?: PushAction[] }): PushRuleset {
  const current = findPushRule(effectivePushRules(userId, stored), kind, ruleId);
  const rules = storedRules(stored);
  const list = rules[kind];
  const index = list.findIndex((entry) => entry.rule_id === ruleId);
  const updated: PushRule = { ...current, ...change };
  if (isServerDefault(ruleId)) {
    // Only the user's choices about a server-default rule are kept; its definition comes from the server.
    const record: PushRule = { rule_id: ruleId, default: true, enabled: updated.enabled, actions: updated.actions };
    if (index >= 0) list[index] = record;
    else list.push(record);
  } else if (index >= 0) {
    list[index] = { ...list[index], ...change };
  }
  return rules;
}
