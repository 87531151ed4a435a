/**
 * Asking application services about users and room aliases nobody has yet (application
 * service API, "Querying"): when a lookup of a local user or alias in a service's namespace
 * finds nothing, the service is asked (`GET /_matrix/app/v1/users/{userId}` or
 * `/rooms/{alias}`); when it answers 200 it has just created the user or the room, and the
 * lookup is made again.
 */
import { AppServiceClient, AppServiceRegistry, type AppService } from '@hs/appservice';
import { Inject, Injectable } from '@nestjs/common';
import { CLIENT_API_CONFIG, type ClientApiConfig } from '../config';

function isNotFound(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const found = error as { errcode?: unknown; status?: unknown; httpStatus?: unknown };
  return found.errcode === 'M_NOT_FOUND' || found.status === 404 || found.httpStatus === 404;
}

function serverOf(id: string): string {
  return id.slice(id.indexOf(':') + 1);
}

@Injectable()
export class AppServiceQueries {
  constructor(
    private readonly registry: AppServiceRegistry,
    private readonly client: AppServiceClient,
    @Inject(CLIENT_API_CONFIG) private readonly config: ClientApiConfig,
  ) {}

  /** `lookup()` of a user; when it finds nothing and a service claims the local user, the service is asked first. */
  lookupUser<T>(userId: string, lookup: () => Promise<T>): Promise<T> {
    return this.withQuery(userId, lookup, () => this.registry.servicesForUser(userId), (service) => this.client.queryUser(service, userId));
  }

  /** `lookup()` of a room alias; when it finds nothing and a service claims the local alias, the service is asked first. */
  lookupAlias<T>(alias: string, lookup: () => Promise<T>): Promise<T> {
    return this.withQuery(alias, lookup, () => this.registry.servicesForAlias(alias), (service) => this.client.queryAlias(service, alias));
  }

  private async withQuery<T>(id: string, lookup: () => Promise<T>, services: () => AppService[], ask: (service: AppService) => Promise<boolean>): Promise<T> {
    try {
      return await lookup();
    } catch (error) {
      if (!isNotFound(error) || serverOf(id) !== this.config.server_name) throw error;
      for (const service of services()) {
        if (await ask(service)) return lookup();
      }
      throw error;
    }
  }
}
