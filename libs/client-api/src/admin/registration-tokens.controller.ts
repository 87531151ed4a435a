/**
 * Registration tokens in Synapse's admin API (`/_synapse/admin/v1/registration_tokens`): list,
 * query, create, update, delete. Every change is recorded in the audit log.
 */
import { randomBytes } from 'node:crypto';
import { Body, Controller, Delete, Get, HttpCode, Inject, Param, Post, Put, Query } from '@nestjs/common';
import { RegistrationTokenService, type RegistrationTokenInfo } from '@hs/accounts';
import { AuditLog } from '@hs/admin';
import { MatrixError } from '@hs/http';
import { z } from 'zod';
import { AuthUser, type AuthenticatedUser } from '../auth';
import { booleanQueryParam, parseBody, queryParam } from '../validation';
import { RequestId, RequireServerAdmin, SYNAPSE_ADMIN_V1 } from './server-admin';

const TOKENS = `${SYNAPSE_ADMIN_V1}/registration_tokens`;

interface TokenResponse {
  token: string;
  uses_allowed: number | null;
  pending: number;
  completed: number;
  expiry_time: number | null;
}

const optionalCount = z.number().int().min(0).nullable().optional();
const NewTokenBody = z
  .object({
    token: z.string().optional(),
    uses_allowed: optionalCount,
    expiry_time: z.number().int().nullable().optional(),
    length: z.number().int().min(1).max(64).optional(),
  })
  .passthrough();
const UpdateTokenBody = z.object({ uses_allowed: optionalCount, expiry_time: z.number().int().nullable().optional() }).passthrough();

function toResponse(info: RegistrationTokenInfo): TokenResponse {
  return { token: info.token, uses_allowed: info.usesAllowed, pending: info.pending, completed: info.completed, expiry_time: info.expiryTs };
}

/** The audit form of a token: its limits, never more than the token itself. */
function limits(info: RegistrationTokenInfo): { uses_allowed: number | null; expiry_time: number | null } {
  return { uses_allowed: info.usesAllowed, expiry_time: info.expiryTs };
}

@Controller()
@RequireServerAdmin()
export class RegistrationTokensController {
  constructor(
    private readonly tokens: RegistrationTokenService,
    @Inject(AuditLog) private readonly audit: AuditLog,
  ) {}

  /** GET /_synapse/admin/v1/registration_tokens */
  @Get(TOKENS)
  async list(@Query() query: unknown): Promise<{ registration_tokens: TokenResponse[] }> {
    const all = await this.tokens.list();
    const valid = queryParam(query, 'valid') === undefined ? undefined : booleanQueryParam(query, 'valid', true);
    const now = Date.now();
    const isValid = (info: RegistrationTokenInfo) =>
      (info.expiryTs === null || info.expiryTs > now) && (info.usesAllowed === null || info.pending + info.completed < info.usesAllowed);
    return { registration_tokens: all.filter((info) => valid === undefined || isValid(info) === valid).map(toResponse) };
  }

  /** GET /_synapse/admin/v1/registration_tokens/{token} */
  @Get(`${TOKENS}/:token`)
  async get(@Param('token') token: string): Promise<TokenResponse> {
    const info = await this.tokens.get(token);
    if (!info) throw MatrixError.notFound('No such registration token');
    return toResponse(info);
  }

  /** POST /_synapse/admin/v1/registration_tokens/new */
  @Post(`${TOKENS}/new`)
  @HttpCode(200)
  async create(@AuthUser() admin: AuthenticatedUser, @Body() rawBody: unknown, @RequestId() requestId: string | null): Promise<TokenResponse> {
    const body = parseBody(NewTokenBody, rawBody ?? {});
    if (body.token !== undefined && body.length !== undefined) throw MatrixError.invalidParam('Give a token or a length, not both');
    const token = body.token ?? (body.length !== undefined ? randomBytes(body.length).toString('base64url').slice(0, body.length) : undefined);
    const info = await this.tokens.create({ token, usesAllowed: body.uses_allowed ?? null, expiryTs: body.expiry_time ?? null });
    await this.audit.record({ actor: admin.userId, action: 'registration_token.created', target: info.token, requestId, after: limits(info) });
    return toResponse(info);
  }

  /** PUT /_synapse/admin/v1/registration_tokens/{token} */
  @Put(`${TOKENS}/:token`)
  async update(@AuthUser() admin: AuthenticatedUser, @Param('token') token: string, @Body() rawBody: unknown, @RequestId() requestId: string | null): Promise<TokenResponse> {
    const body = parseBody(UpdateTokenBody, rawBody ?? {});
    const before = await this.tokens.get(token);
    if (!before) throw MatrixError.notFound('No such registration token');
    const info = await this.tokens.update(token, {
      ...(body.uses_allowed !== undefined ? { usesAllowed: body.uses_allowed } : {}),
      ...(body.expiry_time !== undefined ? { expiryTs: body.expiry_time } : {}),
    });
    await this.audit.record({ actor: admin.userId, action: 'registration_token.updated', target: token, requestId, before: limits(before), after: limits(info) });
    return toResponse(info);
  }

  /** DELETE /_synapse/admin/v1/registration_tokens/{token} */
  @Delete(`${TOKENS}/:token`)
  async delete(@AuthUser() admin: AuthenticatedUser, @Param('token') token: string, @RequestId() requestId: string | null): Promise<Record<string, never>> {
    const before = await this.tokens.get(token);
    if (!before) throw MatrixError.notFound('No such registration token');
    await this.tokens.delete(token);
    await this.audit.record({ actor: admin.userId, action: 'registration_token.deleted', target: token, requestId, before: limits(before) });
    return {};
  }
}
