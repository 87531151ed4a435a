/**
 * Third-party networks (client-server API, "Third-party Networks"): what the application
 * services bridging other networks (IRC, Slack, …) tell clients. The protocols come from the
 * services' registration files (`protocols`); each lookup asks the services of that protocol
 * (`GET /_matrix/app/v1/thirdparty/...`) and puts their answers together. A service that
 * does not answer, or answers something that is not what the spec says, is left out.
 */
import { AppServiceClient, AppServiceRegistry, type AppService } from '@hs/appservice';
import { MatrixError } from '@hs/http';
import { Controller, Get, Param, Query } from '@nestjs/common';
import { z } from 'zod';
import { RequireAuth } from '../auth';
import { clientPaths } from '../prefixes';

const FieldType = z.object({ regexp: z.string(), placeholder: z.string() }).passthrough();
const Instance = z.object({ desc: z.string(), icon: z.string().optional(), fields: z.record(z.unknown()), network_id: z.string() }).passthrough();
const Protocol = z
  .object({
    user_fields: z.array(z.string()),
    location_fields: z.array(z.string()),
    icon: z.string(),
    field_types: z.record(FieldType),
    instances: z.array(Instance),
  })
  .passthrough();
const Location = z.object({ alias: z.string(), protocol: z.string(), fields: z.record(z.unknown()) }).passthrough();
const User = z.object({ userid: z.string(), protocol: z.string(), fields: z.record(z.unknown()) }).passthrough();

type ProtocolMetadata = z.infer<typeof Protocol>;

/** The query of a lookup as the service gets it: the client's parameters but its access token. */
function forwardedQuery(query: Record<string, unknown>): string {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query)) {
    if (name === 'access_token') continue;
    for (const one of Array.isArray(value) ? value : [value]) if (typeof one === 'string') params.append(name, one);
  }
  const text = params.toString();
  return text.length > 0 ? `?${text}` : '';
}

@Controller()
@RequireAuth()
export class ThirdPartyController {
  constructor(
    private readonly registry: AppServiceRegistry,
    private readonly client: AppServiceClient,
  ) {}

  /** GET /_matrix/client/v3/thirdparty/protocols */
  @Get(clientPaths('thirdparty/protocols'))
  async protocols(): Promise<Record<string, ProtocolMetadata>> {
    const names = [...new Set(this.bridges().flatMap((service) => service.registration.protocols))];
    const answers = await Promise.all(names.map(async (name) => [name, await this.protocol(name)] as const));
    const result: Record<string, ProtocolMetadata> = {};
    for (const [name, metadata] of answers) if (metadata !== undefined) result[name] = metadata;
    return result;
  }

  /** GET /_matrix/client/v3/thirdparty/protocol/{protocol} */
  @Get(clientPaths('thirdparty/protocol/:protocol'))
  async getProtocol(@Param('protocol') protocol: string): Promise<ProtocolMetadata> {
    const metadata = await this.protocol(protocol);
    if (metadata === undefined) throw MatrixError.notFound('Unknown protocol');
    return metadata;
  }

  /** GET /_matrix/client/v3/thirdparty/location/{protocol}: portal rooms from the protocol's fields. */
  @Get(clientPaths('thirdparty/location/:protocol'))
  locationsOf(@Param('protocol') protocol: string, @Query() query: Record<string, unknown>): Promise<z.infer<typeof Location>[]> {
    return this.lookup(this.servicesOf(protocol), `location/${encodeURIComponent(protocol)}${forwardedQuery(query)}`, Location);
  }

  /** GET /_matrix/client/v3/thirdparty/user/{protocol}: Matrix users of the protocol's fields. */
  @Get(clientPaths('thirdparty/user/:protocol'))
  usersOf(@Param('protocol') protocol: string, @Query() query: Record<string, unknown>): Promise<z.infer<typeof User>[]> {
    return this.lookup(this.servicesOf(protocol), `user/${encodeURIComponent(protocol)}${forwardedQuery(query)}`, User);
  }

  /** GET /_matrix/client/v3/thirdparty/location?alias=: the third-party locations of a room alias. */
  @Get(clientPaths('thirdparty/location'))
  locationsOfAlias(@Query() query: Record<string, unknown>): Promise<z.infer<typeof Location>[]> {
    const alias = query.alias;
    if (typeof alias !== 'string' || alias.length === 0) throw MatrixError.missingParam('alias is required');
    return this.lookup(this.bridges(), `location?alias=${encodeURIComponent(alias)}`, Location);
  }

  /** GET /_matrix/client/v3/thirdparty/user?userid=: the third-party users of a Matrix user. */
  @Get(clientPaths('thirdparty/user'))
  usersOfUserId(@Query() query: Record<string, unknown>): Promise<z.infer<typeof User>[]> {
    const userId = query.userid;
    if (typeof userId !== 'string' || userId.length === 0) throw MatrixError.missingParam('userid is required');
    return this.lookup(this.bridges(), `user?userid=${encodeURIComponent(userId)}`, User);
  }

  /** Services with a URL that bridge at least one protocol. */
  private bridges(): AppService[] {
    return this.registry.services.filter((service) => service.registration.url !== null && service.registration.protocols.length > 0);
  }

  /** Services with a URL that bridge `protocol`. */
  private bridgesOf(protocol: string): AppService[] {
    return this.bridges().filter((service) => service.registration.protocols.includes(protocol));
  }

  /** {@link bridgesOf}, or 404 M_NOT_FOUND when no service bridges `protocol`. */
  private servicesOf(protocol: string): AppService[] {
    const services = this.bridgesOf(protocol);
    if (services.length === 0) throw MatrixError.notFound('Unknown protocol');
    return services;
  }

  /**
   * The metadata of a protocol: the first service's answer, with the instances of every
   * service of the protocol, each given an `instance_id` unique on this server.
   */
  private async protocol(name: string): Promise<ProtocolMetadata | undefined> {
    const answers = await Promise.all(this.bridgesOf(name).map(async (service) => ({ service, answer: Protocol.safeParse(await this.client.thirdParty(service, `protocol/${encodeURIComponent(name)}`)) })));
    let merged: ProtocolMetadata | undefined;
    for (const { service, answer } of answers) {
      if (!answer.success) continue;
      const instances = answer.data.instances.map((instance) => ({ ...instance, instance_id: `${service.id}|${instance.network_id}` }));
      if (merged === undefined) merged = { ...answer.data, instances };
      else merged.instances.push(...instances);
    }
    return merged;
  }

  /** The lists the services answer to `path`, put together; entries that are not of `schema` are left out. */
  private async lookup<T>(services: AppService[], path: string, schema: z.ZodType<T>): Promise<T[]> {
    const answers = await Promise.all(services.map((service) => this.client.thirdParty(service, path)));
    return answers.flatMap((answer) => (Array.isArray(answer) ? answer.flatMap((entry) => {
      const parsed = schema.safeParse(entry);
      return parsed.success ? [parsed.data] : [];
    }) : []));
  }
}
