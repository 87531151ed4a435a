/**
 * Composition of the server-server API: the keys layer of the process (our keys, the key ring
 * on the backend's database, the HTTPS client for other servers) and the federation API
 * module of the federation listener.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AccountsFederationQueriesModule } from '@hs/accounts';
import { E2eeFederationQueriesModule, type DeviceKeysService, type KeysQueryService } from '@hs/e2ee';
import type { HomeserverConfig } from '@hs/config';
import { FederationApiModule, FederationReadApiModule, FederationRoomsApiModule, type FederationE2ee, type FederationPresence, type FederationTyping } from '@hs/federation-api';
import { RoomModule, RoomWriter, type RoomModuleDependencies } from '@hs/room';
import { createFederationKeys, KeysModule, type FederationKeys } from '@hs/keys';
import { findPackageRoot } from '@hs/persistence';
import type { SigningKey } from '@hs/protocol';
import { RoomFederationQueriesModule } from '@hs/room';
import type { DynamicModule, Type } from '@nestjs/common';
import { CqrsModule } from '@nestjs/cqrs';
import type { Logger } from 'pino';
import type { Backend } from './backend';
import { directoryPublishedRooms } from './projectors';

/** The implementation name GET /_matrix/federation/v1/version gives. */
export const SERVER_IMPLEMENTATION_NAME = 'matrix-cqrs-homeserver';

/** The version of this homeserver (package.json). */
export function packageVersion(): string {
  const text = readFileSync(join(findPackageRoot(__dirname), 'package.json'), 'utf8');
  const version = (JSON.parse(text) as { version?: unknown }).version;
  return typeof version === 'string' ? version : 'unknown';
}

export function openFederationKeys(config: HomeserverConfig, backend: Backend, signingKey: SigningKey, logger: Logger, clock?: () => number): FederationKeys {
  return createFederationKeys({ config, signingKey, pool: backend.db.pool, logger, clock });
}

/**
 * The room write side of the process, shared by both listeners (one writer per room per
 * process), federating through the keys layer.
 */
export function roomDependencies(config: HomeserverConfig, backend: Backend, signingKey: SigningKey, keys: FederationKeys, logger: Logger, clock: () => number): RoomModuleDependencies {
  const base = {
    pool: backend.db.pool,
    store: backend.store,
    serverName: config.server_name,
    signingKey,
    clock,
    options: { defaultRoomVersion: config.default_room_version },
  };
  const writer = new RoomWriter({ ...base, defaultRoomVersion: config.default_room_version });
  const log = logger.child({ component: 'federation-rooms' });
  return {
    ...base,
    writer,
    remote: {
      request: (destination, request) => keys.client.request(destination, request),
      verifyKey: (serverName, keyId, use) => keys.keyRing.verifyKey(serverName, keyId, use),
    },
    federation: { log: (level, fields, message) => log[level](fields, message) },
    publishedRooms: directoryPublishedRooms(backend.db.pool, backend.readBarrier),
  };
}

export interface FederationApiOptions {
  /** The room write side's dependencies (shared with the client listener). */
  room?: RoomModuleDependencies;
  /** The process's typing store, which other servers' typing notifications go to. */
  typing?: FederationTyping;
  /** The process's e2ee services, which other servers' device list updates and to-device messages go to. */
  e2ee?: FederationE2ee;
  /** Where other servers' presence goes (the process's presence store). */
  presence?: FederationPresence;
  /** Further modules of federation endpoints (tests add their own). */
  imports?: Array<Type<unknown> | DynamicModule>;
  clock?: () => number;
}

/** The federation API module of the federation listener. */
export function federationApiModule(keys: FederationKeys, options: FederationApiOptions = {}): DynamicModule {
  return FederationApiModule.forRoot({
    keys: KeysModule.forKeys(keys),
    server: { name: SERVER_IMPLEMENTATION_NAME, version: packageVersion() },
    imports: [...(options.room ? [FederationRoomsApiModule.forRoom(RoomModule.forRoot({ dependencies: options.room }), options)] : []), ...(options.imports ?? [])],
    clock: options.clock,
  });
}

/**
 * The read endpoints of the federation API (events, state, backfill, queries, directory, device
 * keys, OpenID) with their query handlers on the backend's database: the room write model and
 * the accounts tables.
 */
export function federationReadModule(
  config: HomeserverConfig,
  backend: Backend,
  clock?: () => number,
  e2ee?: { keys: DeviceKeysService; keysQuery: KeysQueryService },
): DynamicModule {
  const deps = { pool: backend.db.pool, serverName: config.server_name };
  return FederationReadApiModule.forRoot({
    serverName: config.server_name,
    clock,
    imports: [
      CqrsModule.forRoot(),
      RoomFederationQueriesModule.forRoot(deps),
      AccountsFederationQueriesModule.forRoot({ ...deps, clock }),
      ...(e2ee ? [E2eeFederationQueriesModule.forServices({ ...e2ee, serverName: config.server_name })] : []),
    ],
  });
}
