/**
 * Composition of outbound federation: the sender reads the backend's event store, keeps its
 * positions in the backend's database, sends through the keys layer's HTTPS client, hears of
 * typing from the /sync side and of servers that reached us from the request authenticator.
 *
 * When several processes share the database (a bus between them), the processes with the
 * `federation-sender` role take an advisory lock: one sends, the others stand by and take over
 * when it stops or dies (two senders would send every event twice and fight over the
 * destinations' positions).
 */
import type { HomeserverConfig } from '@hs/config';
import { FederationSender, WriteModelDestinationResolver, type TypingChange } from '@hs/federation-sender';
import type { FederationKeys } from '@hs/keys';
import type { Logger } from 'pino';
import type { Observable } from 'rxjs';
import { holdAdvisoryLock, type Backend } from './backend';

/** Advisory-lock key of the process that sends to other servers. */
const FEDERATION_SENDER_LOCK = 'hs.federation-sender';

export interface RunningFederationSender {
  readonly sender: FederationSender;
  /** Resolves once this process sends (at once unless it stands by for another one). */
  readonly active: Promise<void>;
  /** Stops sending (storing the positions) or standing by. */
  stop(): Promise<void>;
}

export function runFederationSender(
  config: HomeserverConfig,
  backend: Backend,
  keys: FederationKeys,
  typing: Observable<TypingChange>,
  logger: Logger,
  options: { exclusive: boolean },
): RunningFederationSender {
  const sender = new FederationSender({
    serverName: config.server_name,
    store: backend.store,
    pool: backend.db.pool,
    client: keys.client,
    logger,
    backoff: { minMs: config.federation.destination_min_retry_interval_ms, maxMs: config.federation.destination_max_retry_interval_ms },
    resolver: new WriteModelDestinationResolver(backend.db.pool),
  });
  const abort = new AbortController();
  const cleanups: Array<() => void> = [];
  let release: (() => Promise<void>) | null = null;
  const active = (async () => {
    if (options.exclusive && backend.db.kind === 'postgres') {
      release = await holdAdvisoryLock(
        backend.db,
        FEDERATION_SENDER_LOCK,
        logger.child({ component: 'federation-sender' }),
        {
          standingBy: 'another process sends to other servers: this one stands by and takes over when it stops',
          tookOver: "sending to other servers is this process's now",
        },
        abort.signal,
      );
      if (!release) return;
    }
    if (abort.signal.aborted) return;
    await sender.start();
    const subscription = typing.subscribe((change) => void sender.typingChanged(change));
    cleanups.push(() => subscription.unsubscribe());
    cleanups.push(keys.authenticator.onAuthenticated((origin) => sender.markReachable(origin)));
  })();
  // A failure to start is logged; the process goes on with its other roles.
  const started = active.catch((error: unknown) => logger.error({ err: error }, 'the federation sender could not start'));
  return {
    sender,
    active,
    async stop() {
      abort.abort();
      await started;
      for (const cleanup of cleanups.splice(0)) cleanup();
      await sender.stop();
      await release?.();
    },
  };
}
