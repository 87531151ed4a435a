/**
 * The application services of this server and what each one claims: its sender user, the
 * user ids, room aliases and room ids of its namespaces, exclusively or not.
 */
import type { AppServiceRegistration, Namespace } from './registration';

function matches(namespaces: readonly Namespace[], value: string, exclusiveOnly = false): boolean {
  return namespaces.some((namespace) => (!exclusiveOnly || namespace.exclusive) && namespace.regex.test(value));
}

/** One registered application service. */
export class AppService {
  /** The user the service acts as when it names no other (`@<sender_localpart>:<server>`). */
  readonly senderUserId: string;

  constructor(
    readonly registration: AppServiceRegistration,
    serverName: string,
  ) {
    this.senderUserId = `@${registration.senderLocalpart}:${serverName}`;
  }

  get id(): string {
    return this.registration.id;
  }

  /** The user is the service's sender or in its users namespace: the service may act as it. */
  ownsUser(userId: string): boolean {
    return userId === this.senderUserId || matches(this.registration.namespaces.users, userId);
  }

  isInterestedInAlias(alias: string): boolean {
    return matches(this.registration.namespaces.aliases, alias);
  }

  isInterestedInRoom(roomId: string): boolean {
    return matches(this.registration.namespaces.rooms, roomId);
  }

  claimsUserExclusively(userId: string): boolean {
    return userId === this.senderUserId || matches(this.registration.namespaces.users, userId, true);
  }

  claimsAliasExclusively(alias: string): boolean {
    return matches(this.registration.namespaces.aliases, alias, true);
  }
}

export class AppServiceRegistry {
  readonly services: readonly AppService[];
  private readonly byToken = new Map<string, AppService>();
  private readonly byIdentifier = new Map<string, AppService>();

  constructor(registrations: readonly AppServiceRegistration[], serverName: string) {
    this.services = registrations.map((registration) => new AppService(registration, serverName));
    for (const service of this.services) {
      this.byToken.set(service.registration.asToken, service);
      this.byIdentifier.set(service.id, service);
    }
  }

  /** The service whose `as_token` this is. */
  byAsToken(token: string): AppService | undefined {
    return this.byToken.get(token);
  }

  byId(id: string): AppService | undefined {
    return this.byIdentifier.get(id);
  }

  /** The service claiming this user id alone (its sender or an exclusive users namespace). */
  exclusiveOwnerOfUser(userId: string): AppService | undefined {
    return this.services.find((service) => service.claimsUserExclusively(userId));
  }

  /** The service claiming this alias alone. */
  exclusiveOwnerOfAlias(alias: string): AppService | undefined {
    return this.services.find((service) => service.claimsAliasExclusively(alias));
  }

  /** Services with a URL whose users namespace holds this user (they are asked about it). */
  servicesForUser(userId: string): AppService[] {
    return this.services.filter((service) => service.registration.url !== null && matches(service.registration.namespaces.users, userId));
  }

  /** Services with a URL whose aliases namespace holds this alias. */
  servicesForAlias(alias: string): AppService[] {
    return this.services.filter((service) => service.registration.url !== null && service.isInterestedInAlias(alias));
  }
}
