/**
 * The application service sender as a Nest module: started when the application starts,
 * stopped (its positions stored) when it closes.
 */
import { Inject, Injectable, Module, type BeforeApplicationShutdown, type DynamicModule, type OnApplicationBootstrap } from '@nestjs/common';
import { AppServiceSender, type AppServiceSenderOptions } from './appservice-sender';

const SENDER = Symbol('APPSERVICE_SENDER');

@Injectable()
class AppServiceSenderLifecycle implements OnApplicationBootstrap, BeforeApplicationShutdown {
  constructor(@Inject(SENDER) private readonly sender: AppServiceSender) {}

  onApplicationBootstrap(): Promise<void> {
    return this.sender.start();
  }

  beforeApplicationShutdown(): Promise<void> {
    return this.sender.stop();
  }
}

@Module({})
export class AppServiceSenderModule {
  static forRoot(options: AppServiceSenderOptions): DynamicModule {
    return {
      module: AppServiceSenderModule,
      providers: [
        { provide: SENDER, useFactory: () => new AppServiceSender(options) },
        { provide: AppServiceSender, useExisting: SENDER },
        AppServiceSenderLifecycle,
      ],
      exports: [AppServiceSender],
    };
  }
}
