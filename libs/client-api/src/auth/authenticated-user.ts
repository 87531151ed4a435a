/** Who made an authenticated client-server request. */
export interface AuthenticatedUser {
  /** The fully-qualified user id, e.g. `@alice:example.org`. */
  userId: string;
  /** The device the access token belongs to. */
  deviceId: string;
  /** True for guest accounts. */
  isGuest: boolean;
  /** The access token of the request (to log it out, for example). */
  accessToken: string;
  /** Set when an application service made the request (with its `as_token`): the service's id. */
  appServiceId?: string;
}
