/**
 * A user's push rules as stored (the `m.push_rules` account data, `{ global: <ruleset> }`):
 * the server-default rules with the user's changes to them (enabled, actions) and the user's
 * own rules. Pure functions.
 */
import { PUSH_RULE_KINDS, defaultPushRules, type PushRule, type PushRuleKind, type PushRuleset } from './default-rules';

/** The rule that stays above every user-defined rule. */
const MASTER_RULE_ID = '.m.rule.master';

export function isPushRuleKind(kind: string): kind is PushRuleKind {
  return (PUSH_RULE_KINDS as readonly string[]).includes(kind);
}

export function isServerDefaultRule(ruleId: string): boolean {
  return ruleId.startsWith('.');
}

export function emptyPushRuleset(): PushRuleset {
  return { override: [], content: [], room: [], sender: [], underride: [] };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Reads what was stored: unknown shapes are skipped, never trusted. */
export function storedPushRules(stored: unknown): PushRuleset {
  const result = emptyPushRuleset();
  const global = isRecord(stored) && isRecord(stored.global) ? stored.global : {};
  for (const kind of PUSH_RULE_KINDS) {
    const rules = global[kind];
    if (!Array.isArray(rules)) continue;
    for (const rule of rules) {
      if (isRecord(rule) && typeof rule.rule_id === 'string' && typeof rule.enabled === 'boolean' && Array.isArray(rule.actions)) {
        result[kind].push(rule as unknown as PushRule);
      }
    }
  }
  return result;
}

/**
 * The effective rules of `userId`: for each kind, the user's rules first (the master rule
 * stays on top of the override rules), then the server defaults with the user's enabled flag
 * and actions applied.
 */
export function effectivePushRules(userId: string, stored: unknown): PushRuleset {
  const defaults = defaultPushRules(userId);
  const saved = storedPushRules(stored);
  const result = emptyPushRuleset();
  for (const kind of PUSH_RULE_KINDS) {
    const changes = new Map(saved[kind].filter((rule) => isServerDefaultRule(rule.rule_id)).map((rule) => [rule.rule_id, rule]));
    const serverRules = defaults[kind].map((rule) => {
      const change = changes.get(rule.rule_id);
      return change ? { ...rule, enabled: change.enabled, actions: change.actions } : rule;
    });
    const userRules = saved[kind].filter((rule) => !isServerDefaultRule(rule.rule_id)).map((rule) => ({ ...rule, default: false }));
    const master = serverRules.filter((rule) => rule.rule_id === MASTER_RULE_ID);
    result[kind] = [...master, ...userRules, ...serverRules.filter((rule) => rule.rule_id !== MASTER_RULE_ID)];
  }
  return result;
}

