/**
 * Push rules (client-server API, "Push Rules: API"), read side: every account has the
 * server-default rules of the spec.
 */
import { Controller, Get, Param } from '@nestjs/common';
import { MatrixError } from '@hs/http';
import type { AuthenticatedUser } from '../auth/authenticated-user';
import { AuthUser, RequireAuth } from '../auth/decorators';
import { clientPaths } from '../prefixes';
import { PUSH_RULE_KINDS, PushAction, PushRule, PushRuleKind, PushRuleset, defaultPushRules } from './default-rules';

function isKind(kind: string): kind is PushRuleKind {
  return (PUSH_RULE_KINDS as readonly string[]).includes(kind);
}

@Controller()
@RequireAuth()
export class PushRulesController {
  /** GET /_matrix/client/v3/pushrules/ */
  @Get(clientPaths('pushrules/'))
  getPushRules(@AuthUser() user: AuthenticatedUser): { global: PushRuleset } {
    return { global: defaultPushRules(user.userId) };
  }

  /** GET /_matrix/client/v3/pushrules/global/ */
  @Get(clientPaths('pushrules/global/'))
  getPushRulesGlobal(@AuthUser() user: AuthenticatedUser): PushRuleset {
    return defaultPushRules(user.userId);
  }

  /** GET /_matrix/client/v3/pushrules/global/{kind}/{ruleId} */
  @Get(clientPaths('pushrules/global/:kind/:ruleId'))
  getPushRule(@AuthUser() user: AuthenticatedUser, @Param('kind') kind: string, @Param('ruleId') ruleId: string): PushRule {
    return this.find(user.userId, kind, ruleId);
  }

  /** GET /_matrix/client/v3/pushrules/global/{kind}/{ruleId}/enabled */
  @Get(clientPaths('pushrules/global/:kind/:ruleId/enabled'))
  isPushRuleEnabled(@AuthUser() user: AuthenticatedUser, @Param('kind') kind: string, @Param('ruleId') ruleId: string): { enabled: boolean } {
    return { enabled: this.find(user.userId, kind, ruleId).enabled };
  }

  /** GET /_matrix/client/v3/pushrules/global/{kind}/{ruleId}/actions */
  @Get(clientPaths('pushrules/global/:kind/:ruleId/actions'))
  getPushRuleActions(@AuthUser() user: AuthenticatedUser, @Param('kind') kind: string, @Param('ruleId') ruleId: string): { actions: PushAction[] } {
    return { actions: this.find(user.userId, kind, ruleId).actions };
  }

  private find(userId: string, kind: string, ruleId: string): PushRule {
    if (!isKind(kind)) throw MatrixError.invalidParam(`Unknown push rule kind ${kind}`);
    const found = defaultPushRules(userId)[kind].find((rule) => rule.rule_id === ruleId);
    if (!found) throw MatrixError.notFound('Unknown push rule');
    return found;
  }
}
