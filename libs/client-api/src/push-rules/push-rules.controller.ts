/**
 * Push rules (client-server API, "Push Rules: API"): the server-default rules of the spec
 * with the user's changes, and the user's own rules.
 */
import { Body, Controller, Delete, Get, Param, Put, Query } from '@nestjs/common';
import { MatrixError } from '@hs/http';
import { z } from 'zod';
import type { AuthenticatedUser } from '../auth/authenticated-user';
import { AuthUser, RequireAuth, GuestAllowed } from '../auth/decorators';
import { clientPaths } from '../prefixes';
import { parseBody, parseObjectBody, queryParam } from '../validation';
import { PushAction, PushRule, PushRuleKind, PushRuleset } from '@hs/protocol';
import { PushRulesService } from './push-rules.service';
import { findPushRule, isPushRuleKind, parseActions } from './ruleset';

function kindParam(kind: string): PushRuleKind {
  if (!isPushRuleKind(kind)) throw MatrixError.invalidParam(`Unknown push rule kind ${kind}`);
  return kind;
}

const EnabledBody = z.object({ enabled: z.boolean() });

@Controller()
@RequireAuth()
export class PushRulesController {
  constructor(private readonly pushRules: PushRulesService) {}

  /** GET /_matrix/client/v3/pushrules/ */
  @GuestAllowed()
  @Get(clientPaths('pushrules/'))
  async getPushRules(@AuthUser() user: AuthenticatedUser): Promise<{ global: PushRuleset }> {
    return { global: await this.pushRules.rules(user.userId) };
  }

  /** GET /_matrix/client/v3/pushrules/global/ */
  @GuestAllowed()
  @Get(clientPaths('pushrules/global/'))
  getPushRulesGlobal(@AuthUser() user: AuthenticatedUser): Promise<PushRuleset> {
    return this.pushRules.rules(user.userId);
  }

  /** GET /_matrix/client/v3/pushrules/global/{kind}/: the rules of one kind, in priority order. */
  @Get(clientPaths('pushrules/global/:kind/'))
  async getPushRulesOfKind(@AuthUser() user: AuthenticatedUser, @Param('kind') kind: string): Promise<PushRule[]> {
    return (await this.pushRules.rules(user.userId))[kindParam(kind)] ?? [];
  }

  /** GET /_matrix/client/v3/pushrules/global/{kind}/{ruleId} */
  @Get(clientPaths('pushrules/global/:kind/:ruleId'))
  async getPushRule(@AuthUser() user: AuthenticatedUser, @Param('kind') kind: string, @Param('ruleId') ruleId: string): Promise<PushRule> {
    return findPushRule(await this.pushRules.rules(user.userId), kind, ruleId);
  }

  /** PUT /_matrix/client/v3/pushrules/global/{kind}/{ruleId} */
  @Put(clientPaths('pushrules/global/:kind/:ruleId'))
  async setPushRule(
    @AuthUser() user: AuthenticatedUser,
    @Param('kind') kind: string,
    @Param('ruleId') ruleId: string,
    @Query() query: unknown,
    @Body() body: unknown,
  ): Promise<Record<string, never>> {
    await this.pushRules.putRule(user.userId, kindParam(kind), ruleId, parseObjectBody(body), {
      before: queryParam(query, 'before'),
      after: queryParam(query, 'after'),
    });
    return {};
  }

  /** DELETE /_matrix/client/v3/pushrules/global/{kind}/{ruleId} */
  @Delete(clientPaths('pushrules/global/:kind/:ruleId'))
  async deletePushRule(@AuthUser() user: AuthenticatedUser, @Param('kind') kind: string, @Param('ruleId') ruleId: string): Promise<Record<string, never>> {
    await this.pushRules.deleteRule(user.userId, kindParam(kind), ruleId);
    return {};
  }

  /** GET /_matrix/client/v3/pushrules/global/{kind}/{ruleId}/enabled */
  @Get(clientPaths('pushrules/global/:kind/:ruleId/enabled'))
  async isPushRuleEnabled(@AuthUser() user: AuthenticatedUser, @Param('kind') kind: string, @Param('ruleId') ruleId: string): Promise<{ enabled: boolean }> {
    return { enabled: findPushRule(await this.pushRules.rules(user.userId), kind, ruleId).enabled };
  }

  /** PUT /_matrix/client/v3/pushrules/global/{kind}/{ruleId}/enabled */
  @Put(clientPaths('pushrules/global/:kind/:ruleId/enabled'))
  async setPushRuleEnabled(
    @AuthUser() user: AuthenticatedUser,
    @Param('kind') kind: string,
    @Param('ruleId') ruleId: string,
    @Body() body: unknown,
  ): Promise<Record<string, never>> {
    const { enabled } = parseBody(EnabledBody, body);
    await this.pushRules.setEnabled(user.userId, kindParam(kind), ruleId, enabled);
    return {};
  }

  /** GET /_matrix/client/v3/pushrules/global/{kind}/{ruleId}/actions */
  @Get(clientPaths('pushrules/global/:kind/:ruleId/actions'))
  async getPushRuleActions(@AuthUser() user: AuthenticatedUser, @Param('kind') kind: string, @Param('ruleId') ruleId: string): Promise<{ actions: PushAction[] }> {
    return { actions: findPushRule(await this.pushRules.rules(user.userId), kind, ruleId).actions };
  }

  /** PUT /_matrix/client/v3/pushrules/global/{kind}/{ruleId}/actions */
  @Put(clientPaths('pushrules/global/:kind/:ruleId/actions'))
  async setPushRuleActions(
    @AuthUser() user: AuthenticatedUser,
    @Param('kind') kind: string,
    @Param('ruleId') ruleId: string,
    @Body() body: unknown,
  ): Promise<Record<string, never>> {
    const actions = parseActions(parseObjectBody(body).actions);
    await this.pushRules.setActions(user.userId, kindParam(kind), ruleId, actions);
    return {};
  }
}
