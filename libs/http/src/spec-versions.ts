/**
 * What GET /_matrix/client/versions advertises: the versions whose rules the client API
 * follows. From v1.11 clients fetch media through the authenticated
 * `/_matrix/client/v1/media` endpoints, which this server serves (docs/media.md).
 *
 * Later versions are not listed: their additions are not all served (e.g. the room summary
 * endpoint of v1.15, OAuth 2.0 authentication), and a client reading v1.15 or later takes
 * what they add for granted. `GET /_matrix/client/v1/auth_metadata` answers 404
 * `M_UNRECOGNIZED`, so clients use the login API.
 */

/** Spec versions of the client-server API this homeserver serves, oldest first. */
export const CLIENT_SPEC_VERSIONS: readonly string[] = ['r0.6.1', 'v1.1', 'v1.2', 'v1.3', 'v1.4', 'v1.5', 'v1.6', 'v1.7', 'v1.8', 'v1.9', 'v1.10', 'v1.11'];

/** Namespaced experimental features (MSCs) the homeserver supports. */
export const UNSTABLE_FEATURES: Readonly<Record<string, boolean>> = {};
