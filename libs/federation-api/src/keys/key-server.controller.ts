/** GET /_matrix/key/v2/server: this server's signing keys (keys_server.yaml). */
import { OurKeys } from '@hs/keys';
import { Controller, Get } from '@nestjs/common';

@Controller('_matrix/key/v2/server')
export class KeyServerController {
  constructor(private readonly ourKeys: OurKeys) {}

  /** GET /_matrix/key/v2/server */
  @Get()
  getServerKey(): Record<string, unknown> {
    return this.ourKeys.serverKeys();
  }

  /** GET /_matrix/key/v2/server/{keyId}: the deprecated form; the key id is ignored and every key returned. */
  @Get(':keyId')
  getServerKeyById(): Record<string, unknown> {
    return this.ourKeys.serverKeys();
  }
}
