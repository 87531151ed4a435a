/**
 * The keys API of end-to-end encryption (client-server API, "End-to-end encryption"): device
 * and one-time key upload, key queries and claims, device list changes between two sync
 * tokens; and send-to-device messaging.
 */
import { Body, Controller, Get, HttpCode, Param, Post, Put, Query, Res } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { DeviceKeysService, KeysQueryService, ToDeviceService, stringifyJson, type KeysClaimResponse } from '@hs/e2ee';
import { MatrixError } from '@hs/http';
import { SyncService, type DeviceLists } from '@hs/sync';
import { AuthUser, RequireAuth, type AuthenticatedUser, GuestAllowed } from '../auth';
import { clientPaths } from '../prefixes';
import { answering, stringQuery } from '../rooms/params';

function jsonObject(body: unknown): Record<string, unknown> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw MatrixError.badJson('The body must be a JSON object');
  return body as Record<string, unknown>;
}

@Controller()
@RequireAuth()
export class KeysController {
  constructor(
    private readonly deviceKeys: DeviceKeysService,
    private readonly keysQuery: KeysQueryService,
    private readonly toDevice: ToDeviceService,
    private readonly sync: SyncService,
  ) {}

  /** POST /_matrix/client/v3/keys/upload */
  @GuestAllowed()
  @Post(clientPaths('keys/upload'))
  @HttpCode(200)
  async upload(@AuthUser() user: AuthenticatedUser, @Body() body: unknown): Promise<{ one_time_key_counts: Record<string, number> }> {
    const counts = await this.deviceKeys.upload(user.userId, user.deviceId, jsonObject(body));
    return { one_time_key_counts: counts };
  }

  /** POST /_matrix/client/v3/keys/query */
  @GuestAllowed()
  @Post(clientPaths('keys/query'))
  @HttpCode(200)
  async query(@AuthUser() user: AuthenticatedUser, @Body() body: unknown, @Res({ passthrough: true }) reply: FastifyReply): Promise<string> {
    const response = await this.keysQuery.query(user.userId, jsonObject(body));
    // Local devices' keys are JSON text as stored: the body is written around them, not serialized again.
    reply.header('content-type', 'application/json; charset=utf-8');
    return stringifyJson(response);
  }

  /** POST /_matrix/client/v3/keys/claim */
  @GuestAllowed()
  @Post(clientPaths('keys/claim'))
  @HttpCode(200)
  claim(@Body() body: unknown): Promise<KeysClaimResponse> {
    return this.keysQuery.claim(jsonObject(body));
  }

  /** GET /_matrix/client/v3/keys/changes */
  @Get(clientPaths('keys/changes'))
  changes(@AuthUser() user: AuthenticatedUser, @Query() query: Record<string, unknown>): Promise<DeviceLists> {
    const from = stringQuery(query.from, 'from');
    const to = stringQuery(query.to, 'to');
    if (from === undefined || to === undefined) throw MatrixError.missingParam('from and to are required');
    return answering(() => this.sync.keyChanges(user.userId, from, to));
  }

  /** PUT /_matrix/client/v3/sendToDevice/{eventType}/{txnId} */
  @GuestAllowed()
  @Put(clientPaths('sendToDevice/:eventType/:txnId'))
  async sendToDevice(
    @AuthUser() user: AuthenticatedUser,
    @Param('eventType') eventType: string,
    @Param('txnId') txnId: string,
    @Body() body: unknown,
  ): Promise<Record<string, never>> {
    await this.toDevice.send(user.userId, user.deviceId, eventType, txnId, jsonObject(body).messages);
    return {};
  }
}
