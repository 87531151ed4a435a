/** The Nest module of the content repository: a {@link MediaService} built from the host's dependencies. */
import { DynamicModule, Module } from '@nestjs/common';
import { MediaService, type MediaServiceDependencies } from './media.service';

@Module({})
export class MediaModule {
  static forRoot(dependencies: MediaServiceDependencies): DynamicModule {
    return {
      module: MediaModule,
      providers: [{ provide: MediaService, useValue: new MediaService(dependencies) }],
      exports: [MediaService],
    };
  }
}
