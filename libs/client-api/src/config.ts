/** The parts of the homeserver configuration the client-server API reads. */
import type { HomeserverConfig } from '@hs/config';

export type ClientApiConfig = Pick<HomeserverConfig, 'server_name' | 'registration' | 'login_via_existing_session' | 'rate_limits' | 'default_room_version'>;

/** Injection token of the {@link ClientApiConfig}. */
export const CLIENT_API_CONFIG = 'hs:client-api:config';
