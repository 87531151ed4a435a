/**
 * The homeserver process: storage, projections and both listeners, started and stopped in
 * order.
 */
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { ProjectionRebuilds } from '@hs/admin';
import { AppServiceClient, AppServiceRegistry, RegistrationError, loadRegistrations, type AppServiceRegistration } from '@hs/appservice';
import { ConfigError, ConfigIssue, HomeserverConfig } from '@hs/config';
import { HomeserverMetrics, createHttpApplication } from '@hs/http';
import type { FederationSender } from '@hs/federation-sender';
import { FederationMediaApiModule } from '@hs/federation-api';
import { FederationMediaSource, MediaService } from '@hs/media';
import type { FederationKeys } from '@hs/keys';
import type { CheckpointListener, ProjectionRunner, WrittenBatch } from '@hs/eventstore';
import { SigningKey, parseSigningKeyFile } from '@hs/protocol';
import { PresenceStore, SyncNotifier, TypingStore } from '@hs/sync';
import type { DynamicModule, Type } from '@nestjs/common';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { Logger } from 'pino';
import { ClientListenerModule, FederationListenerModule } from './app.module';
import { Backend, openBackend } from './backend';
import { ClientApiOptions, clientApiModule } from './client-api';
import { GuestAccessRevocation } from '@hs/client-api';
import { discoveryOptions } from './discovery';
import { federationApiModule, federationReadModule, openFederationKeys, roomDependencies } from './federation-api';
import { runFederationSender, type RunningFederationSender } from './federation-sender';
import { busFederationOutbox, serveFederationOutbox, type FederationOutbox } from './federation-outbox';
import { appServiceSenderModule, connectAppServiceTyping, ensureAppServiceSenders } from './appservices';
import { connectE2eeFederation, e2eeInbound, e2eeServices } from './e2ee-federation';
import { allProjectors } from './projectors';
import { presenceFederation } from './presence-federation';
import { followCheckpoints, openBus, publishCheckpoints, relayPresence, relayRemotePresence, relayTyping, type PresenceReceiver } from './scale-out';
import { routeRoomCommands } from './room-commands';
import { CommandBus } from '@nestjs/cqrs';
import { connectProfileFederation } from './profile-federation';
import { servedRoutes } from './served-routes';

export interface RunningHomeserver {
  config: HomeserverConfig;
  /**
   * Base URL of the client listener, e.g. http://127.0.0.1:8008 (with the real port when 0 was
   * configured), or null in a process without the `client` role.
   */
  clientUrl: string | null;
  /** Base URL of the federation listener, or null when it is disabled. */
  federationUrl: string | null;
  metrics: HomeserverMetrics;
  /** The client listener's application (its providers, e.g. the query bus, for tools and tests). */
  clientApp: NestFastifyApplication;
  /** The projection runner of this process (null when it runs no projections). */
  projections: ProjectionRunner | null;
  /** Our keys, the key ring and the HTTPS client for other servers. */
  keys: FederationKeys;
  /** The outbound federation sender, or null when federation is off or another process sends. */
  federationSender: FederationSender | null;
  /** Stops accepting, lets in-flight requests finish, stops projections, closes the database. */
  close(): Promise<void>;
}

function readFileFor(key: string, file: string, issues: ConfigIssue[]): Buffer | undefined {
  try {
    return readFileSync(file);
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'does not exist' : `cannot be read (${(error as Error).message})`;
    issues.push({ key, message: `${file} ${reason}; \`npm run admin -- generate-keys\` writes a new one` });
    return undefined;
  }
}

interface StartupFiles {
  /** The first key of the signing key file: the one new events are signed with. */
  signingKey: SigningKey;
  tls?: { cert: Buffer; key: Buffer };
  /** The registration files of the application services. */
  appServices: AppServiceRegistration[];
}

/** Checks the files the configuration points at before anything starts; throws ConfigError. */
export function readStartupFiles(config: HomeserverConfig): StartupFiles {
  const issues: ConfigIssue[] = [];
  const signingKeyFile = readFileFor('signing_key_path', config.signing_key_path, issues);
  let signingKey: SigningKey | undefined;
  if (signingKeyFile) {
    try {
      signingKey = parseSigningKeyFile(signingKeyFile.toString('utf8'))[0];
      if (signingKey === undefined) {
        issues.push({ key: 'signing_key_path', message: `${config.signing_key_path} holds no key` });
      }
    } catch (error) {
      issues.push({ key: 'signing_key_path', message: `${config.signing_key_path}: ${(error as Error).message}` });
    }
  }
  const caFile = config.federation.tls_ca_file;
  if (caFile !== null) {
    try {
      readFileSync(caFile);
    } catch (error) {
      issues.push({ key: 'federation.tls_ca_file', message: `${caFile} cannot be read (${(error as Error).message})` });
    }
  }
  let tls: StartupFiles['tls'];
  if (config.federation_listener.enabled) {
    const cert = readFileFor('federation_listener.tls_certificate_path', config.federation_listener.tls_certificate_path, issues);
    const key = readFileFor('federation_listener.tls_private_key_path', config.federation_listener.tls_private_key_path, issues);
    if (cert && key) tls = { cert, key };
  }
  let appServices: AppServiceRegistration[] = [];
  try {
    appServices = loadRegistrations(config.app_service_config_files);
  } catch (error) {
    if (!(error instanceof RegistrationError)) throw error;
    for (const issue of error.issues) issues.push({ key: `app_service_config_files (${issue.key})`, message: issue.message });
  }
  if (issues.length > 0 || signingKey === undefined) throw new ConfigError(issues);
  return { signingKey, tls, appServices };
}

function urlOf(app: NestFastifyApplication, scheme: 'http' | 'https'): string {
  const address = app.getHttpServer().address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return `${scheme}://${host === '0.0.0.0' ? '127.0.0.1' : host === '[::]' ? '[::1]' : host}:${address.port}`;
}

export interface StartHomeserverOptions {
  /** Settings of the accounts layer beyond the configuration (tests use cheaper password hashing). */
  accounts?: ClientApiOptions['accounts'];
  /** The clock of events, tokens and rate limits; Date.now by default. */
  clock?: () => number;
  /** Further modules of federation endpoints, behind the X-Matrix guard (tests add their own). */
  federationModules?: Array<Type<unknown> | DynamicModule>;
}

export async function startHomeserver(config: HomeserverConfig, logger: Logger, options: StartHomeserverOptions = {}): Promise<RunningHomeserver> {
  const files = readStartupFiles(config);
  const roles = new Set(config.roles);
  const metrics = new HomeserverMetrics();
  // Several processes share the database: they talk over the bus (none when one process does everything).
  const bus = await openBus(config, logger);
  const checkpointPublisher = bus && roles.has('projector') ? publishCheckpoints(bus, logger.child({ component: 'bus' })) : null;
  // The /sync notifier lives in the client application, which starts after the projections:
  // checkpoints reach it once it exists, and it is told the positions reached before that.
  let checkpointListener: CheckpointListener | null = null;
  let backend: Backend;
  try {
    backend = await openBackend(config, {
      logger,
      metrics,
      projectors: roles.has('projector') ? allProjectors(config.server_name) : [],
      exclusiveProjections: bus !== null,
      onCheckpoint: (name, position, wrote, written) => {
        checkpointListener?.(name, position, wrote, written);
        checkpointPublisher?.listener(name, position, wrote, written);
      },
    });
  } catch (error) {
    await checkpointPublisher?.stop();
    await bus?.close();
    throw error;
  }
  // Without the projector role, the read models are advanced by the positions the projector process publishes.
  const projectorNames = allProjectors(config.server_name).map((projector) => projector.name);
  if (!backend.runner) for (const name of projectorNames) backend.readBarrier.declare(name);
  const stopBus: Array<() => Promise<void>> = [];
  const apps: NestFastifyApplication[] = [];
  let senderRun: RunningFederationSender | null = null;
  const keys = openFederationKeys(config, backend, files.signingKey, logger, options.clock);
  const room = roomDependencies(config, backend, files.signingKey, keys, logger, options.clock ?? Date.now);
  const appServices = { registry: new AppServiceRegistry(files.appServices, config.server_name), client: new AppServiceClient() };
  try {
    const client = await createHttpApplication(
      ClientListenerModule.forRoot({
        discovery: discoveryOptions(config),
        healthChecks: backend.health,
        metrics,
        clientApi: clientApiModule(config, backend, room, {
          ...options,
          logger,
          appServices,
          ...(roles.has('appservice-sender') ? { appServiceSender: appServiceSenderModule(backend, appServices, logger) } : {}),
          pushDelivery: roles.has('pusher'),
          // Remote media is fetched over federation when this server federates.
          ...(files.tls ? { remoteMedia: new FederationMediaSource(keys.client) } : {}),
        }),
      }),
      {
        bodyLimit: config.max_request_body_bytes,
        rawBodyLimit: config.media.max_upload_size_bytes,
        serves: servedRoutes(roles),
        logger: logger.child({ listener: 'client' }),
        metrics,
        connections: {
          headersTimeoutMs: config.client_listener.headers_timeout_ms,
          requestTimeoutMs: config.client_listener.request_timeout_ms,
          maxPerAddress: config.client_listener.max_connections_per_address,
        },
      },
    );
    apps.push(client);
    await client.init();
    const rebuilds = client.get(ProjectionRebuilds, { strict: false });
    metrics.setRebuildProgressSource(() => rebuilds.all());
    await ensureAppServiceSenders(client, appServices.registry);
    const disconnectAppServiceTyping = roles.has('appservice-sender') ? connectAppServiceTyping(client, appServices.registry) : () => undefined;
    const notifier = client.get(SyncNotifier);
    checkpointListener = (name, position, wrote, written) => notifier.checkpointAdvanced(name, position, wrote, written);
    for (const lane of (await backend.runner?.status()) ?? []) notifier.checkpointAdvanced(lane.name, lane.checkpoint);
    if (bus) {
      const readBarrier = backend.readBarrier;
      if (!backend.runner) {
        const advance = (name: string, position: bigint, written?: WrittenBatch) => {
          readBarrier.advance(name, position);
          notifier.checkpointAdvanced(name, position, true, written);
        };
        stopBus.push(await followCheckpoints(bus, backend.db.pool, projectorNames, advance, logger.child({ component: 'bus' })));
      }
      stopBus.push(await relayTyping(bus, client.get(TypingStore), logger.child({ component: 'bus' })));
      stopBus.push(await relayPresence(bus, client.get(PresenceStore), logger.child({ component: 'bus' })));
      const routing = await routeRoomCommands(bus, client.get(CommandBus, { strict: false, each: true }), { writer: roles.has('room-writer'), logger: logger.child({ component: 'room-commands' }) });
      stopBus.unshift(() => routing.stop());
    }
    let clientUrl: string | null = null;
    if (roles.has('client') || roles.has('media')) {
      await client.listen(config.client_listener.port, config.client_listener.bind_address);
      clientUrl = urlOf(client, 'http');
      logger.info({ url: clientUrl }, 'client listener ready');
    }

    // Federation: the outbound sender (one process sends, with a bus), what this process's
    // requests send to other servers (through the sender, or the bus to it), and the inbound
    // listener.
    let federationUrl: string | null = null;
    let disconnectE2ee: (() => void) | undefined;
    let disconnectPresence: (() => void) | undefined;
    let disconnectProfiles: (() => void) | undefined;
    let disconnectGuestAccess: (() => void) | undefined;
    if (files.tls) {
      const presence = presenceFederation(client, backend, config.server_name, logger);
      // Several processes: other servers' presence, received by a federation process, reaches them all.
      let presenceReceiver: PresenceReceiver = presence.inbound;
      if (bus) {
        const relayed = await relayRemotePresence(bus, presence.inbound, logger.child({ component: 'bus' }));
        presenceReceiver = relayed.receiver;
        stopBus.push(relayed.stop);
      }
      let outbox: FederationOutbox | null = null;
      if (roles.has('federation-sender')) {
        const running = runFederationSender(config, backend, keys, client.get(TypingStore).updates, logger, { exclusive: bus !== null });
        senderRun = running;
        outbox = running.sender;
        // One process: it sends once this resolves. Several: this one may stand by, which must not hold up the start.
        if (!bus) await running.active;
        if (bus) stopBus.push(await serveFederationOutbox(bus, running.sender, logger.child({ component: 'bus' })));
        disconnectPresence = presence.connect(running.sender);
        // A room another server closes to guests: our guests in it leave (ours are handled as they are sent).
        const guestAccess = client.get(GuestAccessRevocation);
        disconnectGuestAccess = running.sender.onGuestAccessRevoked((roomId) => void guestAccess.enforce(roomId));
      } else if (bus) {
        const relayed = busFederationOutbox(bus, logger.child({ component: 'bus' }));
        outbox = relayed;
        if (roles.has('federation')) {
          const stopListening = keys.authenticator.onAuthenticated((origin) => relayed.markReachable(origin));
          stopBus.push(async () => stopListening());
        }
      }
      if (outbox) disconnectE2ee = connectE2eeFederation(client, outbox, keys, backend, config.server_name, logger);
      disconnectProfiles = connectProfileFederation(client, keys, config.server_name);
      if (roles.has('federation')) {
        const federationApi = federationApiModule(keys, {
          room,
          typing: client.get(TypingStore),
          e2ee: e2eeInbound(client),
          presence: presenceReceiver,
          imports: [
            federationReadModule(config, backend, options.clock, e2eeServices(client)),
            FederationMediaApiModule.forService(client.get(MediaService)),
            ...(options.federationModules ?? []),
          ],
          clock: options.clock,
        });
        const federation = await createHttpApplication(FederationListenerModule.forRoot({ healthChecks: backend.health, federationApi }), {
          bodyLimit: config.max_request_body_bytes,
          logger: logger.child({ listener: 'federation' }),
          metrics,
          https: files.tls,
        });
        apps.push(federation);
        await federation.listen(config.federation_listener.port, config.federation_listener.bind_address);
        federationUrl = urlOf(federation, 'https');
        logger.info({ url: federationUrl }, 'federation listener ready');
      }
    }

    logger.info({ roles: config.roles, bus: bus?.kind ?? null }, 'homeserver running');
    let closing: Promise<void> | undefined;
    return {
      config,
      clientUrl,
      federationUrl,
      metrics,
      clientApp: client,
      projections: backend.runner,
      keys,
      federationSender: senderRun?.sender ?? null,
      close() {
        closing ??= (async () => {
          logger.info('shutting down: no new connections, finishing requests in flight');
          // Outbound connections to other servers go first: a request in flight to a server
          // that is itself shutting down (and waiting on ours) would hold both up until it
          // times out. An unfinished transaction is sent again, under its id, after a restart.
          keys.close();
          disconnectE2ee?.();
          disconnectPresence?.();
          disconnectProfiles?.();
          disconnectGuestAccess?.();
          disconnectAppServiceTyping();
          await Promise.allSettled(stopBus.map((stop) => stop()));
          await Promise.allSettled([...apps.map((app) => app.close()), senderRun?.stop()]);
          await backend.close();
          await checkpointPublisher?.stop();
          await bus?.close();
          logger.info('shut down');
        })();
        return closing;
      },
    };
  } catch (error) {
    await Promise.allSettled(stopBus.map((stop) => stop()));
    await Promise.allSettled([...apps.map((app) => app.close()), senderRun?.stop()]);
    keys.close();
    await backend.close();
    await checkpointPublisher?.stop();
    await bus?.close();
    throw error;
  }
}
