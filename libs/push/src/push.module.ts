/**
 * Push notifications as a Nest module: the {@link PushService} of the client API and the
 * background {@link PushDelivery}, started with the application and stopped before it closes.
 */
import { Inject, Injectable, Module, type BeforeApplicationShutdown, type DynamicModule, type OnApplicationBootstrap } from '@nestjs/common';
import { PushDelivery, type PushDeliveryDependencies } from './delivery';
import { PushService, type PushServiceDependencies } from './push.service';

export type PushModuleOptions = PushServiceDependencies & PushDeliveryDependencies & { deliver?: boolean };

@Injectable()
class PushDeliveryLifecycle implements OnApplicationBootstrap, BeforeApplicationShutdown {
  constructor(@Inject(PushDelivery) private readonly delivery: PushDelivery) {}

  onApplicationBootstrap(): void {
    this.delivery.start();
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.delivery.stop();
  }
}

@Module({})
export class PushModule {
  static forRoot(options: PushModuleOptions): DynamicModule {
    const delivery = new PushDelivery(options);
    return {
      module: PushModule,
      providers: [
        { provide: PushService, useValue: new PushService(options) },
        { provide: PushDelivery, useValue: delivery },
        ...(options.deliver === false ? [] : [PushDeliveryLifecycle]),
      ],
      exports: [PushService, PushDelivery],
    };
  }
}
