/**
 * The outbound federation sender as a Nest module. It provides `FederationSender` to the whole
 * application (global), starts it when the application starts and stops it, storing its
 * positions, when the application closes. The host passes the event store, the database pool,
 * the HTTPS client of the keys layer and, when it has them, the typing changes of the /sync
 * side and the request authenticator (a server that talks to us is retried at once).
 */
import { Inject, Injectable, Module, type DynamicModule, type BeforeApplicationShutdown, type OnApplicationBootstrap } from '@nestjs/common';
import type { Observable, Subscription } from 'rxjs';
import type { BackoffSettings } from './backoff';
import { WriteModelDestinationResolver } from './destination-resolver';
import { FederationSender, type FederationSenderOptions, type TypingChange } from './federation-sender';

export interface FederationSenderModuleOptions extends Omit<FederationSenderOptions, 'resolver' | 'backoff'> {
  /** Where events go; default the room write model on `pool`. */
  resolver?: FederationSenderOptions['resolver'];
  backoff?: BackoffSettings;
  /** Typing changes of users (ours are sent to the room's servers). */
  typing?: Observable<TypingChange>;
  /** Reports the origin of each authenticated inbound request. */
  authenticator?: { onAuthenticated(listener: (origin: string) => void): () => void };
}

const SENDER_MODULE_OPTIONS = Symbol('FEDERATION_SENDER_MODULE_OPTIONS');

@Injectable()
class FederationSenderLifecycle implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private typing?: Subscription;
  private stopListening?: () => void;

  constructor(
    private readonly sender: FederationSender,
    @Inject(SENDER_MODULE_OPTIONS) private readonly options: FederationSenderModuleOptions,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    await this.sender.start();
    this.typing = this.options.typing?.subscribe((change) => void this.sender.typingChanged(change));
    this.stopListening = this.options.authenticator?.onAuthenticated((origin) => this.sender.markReachable(origin));
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.typing?.unsubscribe();
    this.stopListening?.();
    await this.sender.stop();
  }
}

@Module({})
export class FederationSenderModule {
  static forRoot(options: FederationSenderModuleOptions): DynamicModule {
    return {
      module: FederationSenderModule,
      global: true,
      providers: [
        { provide: SENDER_MODULE_OPTIONS, useValue: options },
        {
          provide: FederationSender,
          useFactory: () => new FederationSender({ ...options, resolver: options.resolver ?? new WriteModelDestinationResolver(options.pool) }),
        },
        FederationSenderLifecycle,
      ],
      exports: [FederationSender],
    };
  }
}
