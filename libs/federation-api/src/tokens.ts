/** Injection tokens of the federation API. */

/** The clock (ms since the epoch) of the federation API. */
export const FEDERATION_API_CLOCK = 'FEDERATION_API_CLOCK';

/** What GET /_matrix/federation/v1/version says: `{ name, version }`. */
export const FEDERATION_SERVER_VERSION = 'FEDERATION_SERVER_VERSION';

export interface ServerVersion {
  name: string;
  version: string;
}
