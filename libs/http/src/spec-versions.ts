/**
 * What GET /_matrix/client/versions advertises.
 *
 * The client API serves accounts (registration with UIA and registration tokens, login,
 * logout, devices, password, deactivation), profiles, account data and tags, filters,
 * capabilities, push rules (the v1.9 predefined set, including the v1.7 mention rules), room
 * creation, membership, sending, state, redaction, aliases, upgrades, /sync with filters and
 * lazy-loaded members, /messages, /context, the room read endpoints, typing, receipts
 * (including `m.read.private`) and read markers, under v3 and r0 (and the v1 registration
 * token check). The versions listed are those whose rules these endpoints follow.
 *
 * Not served, whatever the version: the content repository (media), end-to-end encryption
 * (keys, to-device), presence, pushers and notifications, search,
 * third-party identifiers, guests, SSO/OAuth. v1.11 and later stop at this list because from
 * v1.11 clients move media to the authenticated `/_matrix/client/v1/media` endpoints and
 * (v1.15) look for OAuth 2.0 metadata first, which would change how they use this server.
 */

/** Spec versions of the client-server API this homeserver serves, oldest first. */
export const CLIENT_SPEC_VERSIONS: readonly string[] = ['r0.6.1', 'v1.1', 'v1.2', 'v1.3', 'v1.4', 'v1.5', 'v1.6', 'v1.7', 'v1.8', 'v1.9', 'v1.10'];

/** Namespaced experimental features (MSCs) the homeserver supports. */
export const UNSTABLE_FEATURES: Readonly<Record<string, boolean>> = {};
