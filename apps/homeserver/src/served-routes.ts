/**
 * Which routes of the client listener a process answers, by its roles: the content repository
 * (`/_matrix/media/...`, `/_matrix/client/v1/media/...`) with `media`, everything else with
 * `client`; health and metrics always. A process with both (the default) answers everything.
 */
import type { ServerRole } from '@hs/config';

const MEDIA_ROUTE = /^\/_matrix\/(?:media\/|client\/v1\/media\/)/;
const ALWAYS_SERVED = new Set(['/health', '/metrics']);

/** Whether a route (its pattern) belongs to the content repository. */
export function isMediaRoute(route: string): boolean {
  return MEDIA_ROUTE.test(route);
}

/** The client listener's route filter for these roles; undefined when it answers every route. */
export function servedRoutes(roles: ReadonlySet<ServerRole>): ((route: string) => boolean) | undefined {
  const client = roles.has('client');
  const media = roles.has('media');
  if (client && media) return undefined;
  return (route) => ALWAYS_SERVED.has(route) || (isMediaRoute(route) ? media : client);
}
