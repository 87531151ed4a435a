/**
 * Push rules (client-server API, "Push Rules: API"): the server-default rules of the spec
 * with the user's changes, and the user's own rules.
 */
import { Body, Controller, Delete, Get, Param, Put, Query, Req } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
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

function scopeParam(scope: string): void {
  if (scope !== 'global') throw MatrixError.invalidParam(`Unknown push rule scope ${scope}: the one scope is global`);
}

/**
 * The listings end in a slash (`/pushrules/`, `/pushrules/global/`, `/pushrules/global/{kind}/`);
 * the router also takes them without it, which names nothing in the spec.
 */
function requireTrailingSlash(request: FastifyRequest, what: string, status: 400 | 404): void {
  const path = request.url.split('?', 1)[0];
  if (path.endsWith('/')) return;
  if (status === 404) throw new MatrixError(404, 'M_UNRECOGNIZED', 'Unrecognized request');
  throw MatrixError.invalidParam(`${what}: a push rule is named by scope, kind and rule id`);
}

const EnabledBody = z.object({ enabled: z.boolean() });

@Controller()
@RequireAuth()
export class PushRulesController {
  constructor(private readonly pushRules: PushRulesService) {}

  /** GET /_matrix/client/v3/pushrules/ */
  @GuestAllowed()
  @Get(clientPaths('pushrules/'))
  async getPushRules(@AuthUser() user: AuthenticatedUser, @Req() request: FastifyRequest): Promise<{ global: PushRuleset }> {
    requireTrailingSlash(request, 'GET /pushrules', 404);
    return { global: await this.pushRules.rules(user.userId) };
  }

  /** GET /_matrix/client/v3/pushrules/global/ */
  @GuestAllowed()
  @Get(clientPaths('pushrules/:scope/'))
  getPushRulesGlobal(@AuthUser() user: AuthenticatedUser, @Param('scope') scope: string, @Req() request: FastifyRequest): Promise<PushRuleset> {
    scopeParam(scope);
    requireTrailingSlash(request, 'GET /pushrules/global', 400);
    return this.pushRules.rules(user.userId);
  }

  /** PUT on a path that names no rule. */
  @Put(clientPaths('pushrules/'))
  putNoScope(): never {
    throw MatrixError.invalidParam('A push rule is named by scope, kind and rule id');
  }

  /** PUT on a path that names no rule. */
  @Put(clientPaths('pushrules/:scope/'))
  putNoKind(@Param('scope') scope: string): never {
    scopeParam(scope);
    throw MatrixError.invalidParam('A push rule is named by scope, kind and rule id');
  }

  /** PUT on a path that names no rule. */
  @Put(clientPaths('pushrules/:scope/:kind/'))
  putNoRuleId(@Param('scope') scope: string, @Param('kind') kind: string): never {
    scopeParam(scope);
    kindParam(kind);
    throw MatrixError.invalidParam('A push rule is named by scope, kind and rule id');
  }

  /** A rule has two attributes, `enabled` and `actions`. */
  @Get(clientPaths('pushrules/:scope/:kind/:ruleId/:attribute'))
  getUnknownAttribute(@Param('scope') scope: string, @Param('kind') kind: string, @Param('attribute') attribute: string): never {
    scopeParam(scope);
    kindParam(kind);
    throw MatrixError.invalidParam(`Unknown push rule attribute ${attribute}: a rule has enabled and actions`);
  }

  /** A rule has two attributes, `enabled` and `actions`. */
  @Put(clientPaths('pushrules/:scope/:kind/:ruleId/:attribute'))
  putUnknownAttribute(@Param('scope') scope: string, @Param('kind') kind: string, @Param('attribute') attribute: string): never {
    scopeParam(scope);
    kindParam(kind);
    throw MatrixError.invalidParam(`Unknown push rule attribute ${attribute}: a rule has enabled and actions`);
  }

  /** GET /_matrix/client/v3/pushrules/global/{kind}/: the rules of one kind, in priority order. */
  @Get(clientPaths('pushrules/:scope/:kind/'))
  async getPushRulesOfKind(
    @AuthUser() user: AuthenticatedUser,
    @Param('scope') scope: string,
    @Param('kind') kind: string,
    @Req() request: FastifyRequest,
  ): Promise<PushRule[]> {
    scopeParam(scope);
    kindParam(kind);
    requireTrailingSlash(request, 'GET /pushrules/global/{kind}', 400);
    return (await this.pushRules.rules(user.userId))[kindParam(kind)] ?? [];
  }

  /** GET /_matrix/client/v3/pushrules/global/{kind}/{ruleId} */
  @Get(clientPaths('pushrules/:scope/:kind/:ruleId'))
  async getPushRule(@AuthUser() user: AuthenticatedUser, @Param('scope') scope: string, @Param('kind') kind: string, @Param('ruleId') ruleId: string): Promise<PushRule> {
    scopeParam(scope);
    return findPushRule(await this.pushRules.rules(user.userId), kind, ruleId);
  }

  /** PUT /_matrix/client/v3/pushrules/global/{kind}/{ruleId} */
  @Put(clientPaths('pushrules/:scope/:kind/:ruleId'))
  async setPushRule(
    @AuthUser() user: AuthenticatedUser,
    @Param('scope') scope: string,
    @Param('kind') kind: string,
    @Param('ruleId') ruleId: string,
    @Query() query: unknown,
    @Body() body: unknown,
  ): Promise<Record<string, never>> {
    scopeParam(scope);
    await this.pushRules.putRule(user.userId, kindParam(kind), ruleId, parseObjectBody(body), {
      before: queryParam(query, 'before'),
      after: queryParam(query, 'after'),
    });
    return {};
  }

  /** DELETE /_matrix/client/v3/pushrules/global/{kind}/{ruleId} */
  @Delete(clientPaths('pushrules/:scope/:kind/:ruleId'))
  async deletePushRule(@AuthUser() user: AuthenticatedUser, @Param('scope') scope: string, @Param('kind') kind: string, @Param('ruleId') ruleId: string): Promise<Record<string, never>> {
    scopeParam(scope);
    await this.pushRules.deleteRule(user.userId, kindParam(kind), ruleId);
    return {};
  }

  /** GET /_matrix/client/v3/pushrules/global/{kind}/{ruleId}/enabled */
  @Get(clientPaths('pushrules/:scope/:kind/:ruleId/enabled'))
  async isPushRuleEnabled(@AuthUser() user: AuthenticatedUser, @Param('scope') scope: string, @Param('kind') kind: string, @Param('ruleId') ruleId: string): Promise<{ enabled: boolean }> {
    scopeParam(scope);
    return { enabled: findPushRule(await this.pushRules.rules(user.userId), kind, ruleId).enabled };
  }

  /** PUT /_matrix/client/v3/pushrules/global/{kind}/{ruleId}/enabled */
  @Put(clientPaths('pushrules/:scope/:kind/:ruleId/enabled'))
  async setPushRuleEnabled(
    @AuthUser() user: AuthenticatedUser,
    @Param('scope') scope: string,
    @Param('kind') kind: string,
    @Param('ruleId') ruleId: string,
    @Body() body: unknown,
  ): Promise<Record<string, never>> {
    scopeParam(scope);
    const { enabled } = parseBody(EnabledBody, body);
    await this.pushRules.setEnabled(user.userId, kindParam(kind), ruleId, enabled);
    return {};
  }

  /** GET /_matrix/client/v3/pushrules/global/{kind}/{ruleId}/actions */
  @Get(clientPaths('pushrules/:scope/:kind/:ruleId/actions'))
  async getPushRuleActions(@AuthUser() user: AuthenticatedUser, @Param('scope') scope: string, @Param('kind') kind: string, @Param('ruleId') ruleId: string): Promise<{ actions: PushAction[] }> {
    scopeParam(scope);
    return { actions: findPushRule(await this.pushRules.rules(user.userId), kind, ruleId).actions };
  }

  /** PUT /_matrix/client/v3/pushrules/global/{kind}/{ruleId}/actions */
  @Put(clientPaths('pushrules/:scope/:kind/:ruleId/actions'))
  async setPushRuleActions(
    @AuthUser() user: AuthenticatedUser,
    @Param('scope') scope: string,
    @Param('kind') kind: string,
    @Param('ruleId') ruleId: string,
    @Body() body: unknown,
  ): Promise<Record<string, never>> {
    scopeParam(scope);
    const actions = parseActions(parseObjectBody(body).actions);
    await this.pushRules.setActions(user.userId, kindParam(kind), ruleId, actions);
    return {};
  }
}
