/** The Nest module of the content repository: a {@link MediaService} built from the host's dependencies, and the URL previews. */
import { DynamicModule, Module } from '@nestjs/common';
import { MediaService, type MediaServiceDependencies } from './media.service';
import { UrlPreviewService, type UrlPreviewSettings } from './preview/url-preview.service';

@Module({})
export class MediaModule {
  static forRoot(dependencies: MediaServiceDependencies, urlPreview: UrlPreviewSettings): DynamicModule {
    const media = new MediaService(dependencies);
    return {
      module: MediaModule,
      providers: [
        { provide: MediaService, useValue: media },
        { provide: UrlPreviewService, useValue: new UrlPreviewService(urlPreview, media, dependencies.clock) },
      ],
      exports: [MediaService, UrlPreviewService],
    };
  }
}
