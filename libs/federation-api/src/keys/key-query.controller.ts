/**
 * The notary endpoints (keys_query.yaml): other servers' keys as those servers signed them,
 * from the key ring (fetched from the server when none valid long enough is stored), each
 * signed by us as well.
 */
import { MatrixError } from '@hs/http';
import { KeyRing, OurKeys } from '@hs/keys';
import { isValidServerName } from '@hs/protocol';
import { Body, Controller, Get, HttpCode, Inject, Param, Post, Query } from '@nestjs/common';
import { FEDERATION_API_CLOCK } from '../tokens';

/** Most servers one POST /_matrix/key/v2/query may ask about. */
export const MAX_SERVERS_PER_KEY_QUERY = 100;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isTimestamp(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

@Controller('_matrix/key/v2/query')
export class KeyQueryController {
  constructor(
    private readonly keyRing: KeyRing,
    private readonly ourKeys: OurKeys,
    @Inject(FEDERATION_API_CLOCK) private readonly clock: () => number,
  ) {}

  private async keysOf(serverName: string, minimumValidUntilTs: number): Promise<Record<string, unknown>[]> {
    const responses = await this.keyRing.responsesFor(serverName, minimumValidUntilTs);
    return responses.map((json) => this.ourKeys.sign(json));
  }

  private minimumOf(raw: string | undefined): number {
    if (raw === undefined) return this.clock();
    if (!/^[0-9]{1,16}$/.test(raw) || !Number.isSafeInteger(Number(raw))) throw MatrixError.invalidParam('minimum_valid_until_ts must be a timestamp in milliseconds');
    return Number(raw);
  }

  private checkServerName(serverName: string): void {
    if (!isValidServerName(serverName)) throw MatrixError.invalidParam(`Not a server name: ${serverName.slice(0, 300)}`);
  }

  /** GET /_matrix/key/v2/query/{serverName} */
  @Get(':serverName')
  async perspectivesKeyQuery(@Param('serverName') serverName: string, @Query('minimum_valid_until_ts') minimum?: string): Promise<{ server_keys: unknown[] }> {
    this.checkServerName(serverName);
    return { server_keys: await this.keysOf(serverName, this.minimumOf(minimum)) };
  }

  /** GET /_matrix/key/v2/query/{serverName}/{keyId}: the deprecated form; every key of the server is returned. */
  @Get(':serverName/:keyId')
  async perspectivesKeyQueryById(@Param('serverName') serverName: string, @Query('minimum_valid_until_ts') minimum?: string): Promise<{ server_keys: unknown[] }> {
    return this.perspectivesKeyQuery(serverName, minimum);
  }

  /** POST /_matrix/key/v2/query */
  @Post()
  @HttpCode(200)
  async bulkPerspectivesKeyQuery(@Body() body: unknown): Promise<{ server_keys: unknown[] }> {
    if (!isRecord(body) || !isRecord(body.server_keys)) throw MatrixError.badJson('server_keys must be an object of server names');
    const servers = Object.entries(body.server_keys);
    if (servers.length > MAX_SERVERS_PER_KEY_QUERY) throw MatrixError.invalidParam(`At most ${MAX_SERVERS_PER_KEY_QUERY} servers per query`);
    const queries = servers.map(([serverName, criteria]) => {
      this.checkServerName(serverName);
      if (!isRecord(criteria)) throw MatrixError.badJson(`server_keys.${serverName} must be an object of key ids`);
      let minimum = this.clock();
      for (const [keyId, criterion] of Object.entries(criteria)) {
        if (!isRecord(criterion)) throw MatrixError.badJson(`server_keys.${serverName}.${keyId} must be an object`);
        const asked = criterion.minimum_valid_until_ts;
        if (asked === undefined) continue;
        if (!isTimestamp(asked)) throw MatrixError.badJson(`minimum_valid_until_ts of ${serverName} ${keyId} must be a timestamp in milliseconds`);
        minimum = Math.max(minimum, asked);
      }
      return [serverName, minimum] as const;
    });
    const answers = await Promise.all(queries.map(([serverName, minimum]) => this.keysOf(serverName, minimum)));
    return { server_keys: answers.flat() };
  }
}
