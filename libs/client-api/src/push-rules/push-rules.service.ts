/**
 * Reads and changes a user's push rules, kept as the `m.push_rules` global account data (so
 * that /sync hands the new rules to the user's other clients) and recorded as a fact in the
 * user's push stream (what the push projection evaluates events with). Changes of one user run one
 * after the other in this process.
 */
import { Inject, Injectable } from '@nestjs/common';
import { PushService } from '@hs/push';
import { AccountDataService } from '@hs/accounts';
import { PushAction, PushRuleKind, PushRuleset } from '@hs/protocol';
import { PushRulePlacement, deleteUserRule, effectivePushRules, putUserRule, updateRule } from './ruleset';

export const PUSH_RULES_TYPE = 'm.push_rules';

@Injectable()
export class PushRulesService {
  private readonly queues = new Map<string, Promise<unknown>>();

  constructor(
    private readonly accountData: AccountDataService,
    @Inject(PushService) private readonly push: PushService,
  ) {}

  private async stored(userId: string): Promise<unknown> {
    try {
      return await this.accountData.getGlobalAccountData(userId, PUSH_RULES_TYPE);
    } catch (error) {
      if ((error as { errcode?: unknown }).errcode === 'M_NOT_FOUND') return null;
      throw error;
    }
  }

  /** The effective rules of the user. */
  async rules(userId: string): Promise<PushRuleset> {
    return effectivePushRules(userId, await this.stored(userId));
  }

  private change(userId: string, apply: (stored: unknown) => PushRuleset): Promise<void> {
    const previous = this.queues.get(userId) ?? Promise.resolve();
    const next = previous
      .catch(() => undefined)
      .then(async () => {
        const changed = apply(await this.stored(userId));
        const content = { global: effectivePushRules(userId, { global: changed }) as unknown as Record<string, unknown> };
        await this.accountData.putAccountDataAsServer(userId, null, PUSH_RULES_TYPE, content);
        // The push projection evaluates events with the rules recorded in the user's push stream.
        await this.push.rulesChanged(userId, content);
      });
    this.queues.set(userId, next);
    void next.finally(() => {
      if (this.queues.get(userId) === next) this.queues.delete(userId);
    }).catch(() => undefined);
    return next;
  }

  putRule(userId: string, kind: PushRuleKind, ruleId: string, body: Record<string, unknown>, placement: PushRulePlacement): Promise<void> {
    return this.change(userId, (stored) => putUserRule(stored, kind, ruleId, body, placement));
  }

  deleteRule(userId: string, kind: PushRuleKind, ruleId: string): Promise<void> {
    return this.change(userId, (stored) => deleteUserRule(stored, kind, ruleId));
  }

  setEnabled(userId: string, kind: PushRuleKind, ruleId: string, enabled: boolean): Promise<void> {
    return this.change(userId, (stored) => updateRule(userId, stored, kind, ruleId, { enabled }));
  }

  setActions(userId: string, kind: PushRuleKind, ruleId: string, actions: PushAction[]): Promise<void> {
    return this.change(userId, (stored) => updateRule(userId, stored, kind, ruleId, { actions }));
  }
}
