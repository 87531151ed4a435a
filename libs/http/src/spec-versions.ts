/**
 * What GET /_matrix/client/versions advertises. A spec version is listed here only once
 * the client-server endpoints that version requires are served; the client API adds a
 * version when it completes one.
 */

/** Spec versions of the client-server API this homeserver serves, oldest first. */
export const CLIENT_SPEC_VERSIONS: readonly string[] = [];

/** Namespaced experimental features (MSCs) the homeserver supports. */
export const UNSTABLE_FEATURES: Readonly<Record<string, boolean>> = {};
