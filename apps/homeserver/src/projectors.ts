/** Every projector the homeserver runs (and the admin CLI can rebuild), by name. */
import type { Projector } from '@hs/eventstore';

export function allProjectors(): Projector[] {
  return [];
}
