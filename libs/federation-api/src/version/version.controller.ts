/** GET /_matrix/federation/v1/version: the implementation's name and version (version.yaml). */
import { Controller, Get, Inject } from '@nestjs/common';
import { PublicFederationEndpoint } from '../auth/x-matrix.guard';
import { FEDERATION_SERVER_VERSION, ServerVersion } from '../tokens';

@Controller('_matrix/federation/v1/version')
@PublicFederationEndpoint()
export class FederationVersionController {
  constructor(@Inject(FEDERATION_SERVER_VERSION) private readonly server: ServerVersion) {}

  /** GET /_matrix/federation/v1/version */
  @Get()
  getVersion(): { server: ServerVersion } {
    return { server: { name: this.server.name, version: this.server.version } };
  }
}
