/** Capabilities negotiation (client-server API): GET /capabilities. */
import { Controller, Get, Inject } from '@nestjs/common';
import { ROOM_VERSIONS } from '@hs/protocol';
import { RequireAuth, GuestAllowed } from '../auth/decorators';
import { CLIENT_API_CONFIG, ClientApiConfig } from '../config';
import { clientPaths } from '../prefixes';

export interface Capabilities {
  'm.change_password': { enabled: boolean };
  'm.room_versions': { default: string; available: Record<string, 'stable' | 'unstable'> };
  'm.set_displayname': { enabled: boolean };
  'm.set_avatar_url': { enabled: boolean };
  'm.3pid_changes': { enabled: boolean };
  'm.get_login_token': { enabled: boolean };
  'm.profile_fields': { enabled: boolean };
}

/** What this server lets clients do, from the room-version table and the configuration. */
export function serverCapabilities(config: Pick<ClientApiConfig, 'default_room_version' | 'login_via_existing_session'>): Capabilities {
  const available: Record<string, 'stable' | 'unstable'> = {};
  for (const [id, rules] of ROOM_VERSIONS) available[id] = rules.stable ? 'stable' : 'unstable';
  return {
    'm.change_password': { enabled: true },
    'm.room_versions': { default: config.default_room_version, available },
    'm.set_displayname': { enabled: true },
    'm.set_avatar_url': { enabled: true },
    // No third-party identifiers are kept.
    'm.3pid_changes': { enabled: false },
    'm.get_login_token': { enabled: config.login_via_existing_session.enabled },
    'm.profile_fields': { enabled: true },
  };
}

@Controller()
export class CapabilitiesController {
  constructor(@Inject(CLIENT_API_CONFIG) private readonly config: ClientApiConfig) {}

  /** GET /_matrix/client/v3/capabilities */
  @GuestAllowed()
  @Get(clientPaths('capabilities'))
  @RequireAuth()
  getCapabilities(): { capabilities: Capabilities } {
    return { capabilities: serverCapabilities(this.config) };
  }
}
