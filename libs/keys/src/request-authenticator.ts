/**
 * Checks the X-Matrix Authorization of an inbound federation request (server-server-api.md
 * "Request Authentication"): the header parses, names us as destination when it names one,
 * and its signature over the request verifies with a key of the origin that is valid now.
 */
import { InvalidXMatrixHeaderError, parseXMatrixHeader, verifyRequestSignature, type XMatrixAuthorization } from '@hs/protocol';
import type { KeyRing } from './key-ring';

/** The request is not authenticated; `reason` is safe to log and to answer. */
export class RequestAuthenticationError extends Error {
  constructor(
    readonly reason: string,
    /** The origin the header claims, when it could be read. */
    readonly origin?: string,
  ) {
    super(`Request not authenticated: ${reason}`);
    this.name = 'RequestAuthenticationError';
  }
}

export interface InboundRequest {
  method: string;
  /** The request target as received: path and query string. */
  uri: string;
  /** The Authorization header(s). */
  authorization: string | readonly string[] | undefined;
  /** The parsed JSON body, undefined when there is none. */
  content: unknown;
}

export class RequestAuthenticator {
  private readonly authenticatedListeners = new Set<(origin: string) => void>();

  constructor(
    private readonly keyRing: KeyRing,
    private readonly clock: () => number,
  ) {}

  /**
   * Calls `listener` with the origin of each request that authenticates (the outbound sender
   * retries a server it was backing off from as soon as that server talks to us); returns the
   * function that removes it.
   */
  onAuthenticated(listener: (origin: string) => void): () => void {
    this.authenticatedListeners.add(listener);
    return () => this.authenticatedListeners.delete(listener);
  }

  /** The authorization of `request`, checked; throws RequestAuthenticationError. */
  async authenticate(request: InboundRequest): Promise<XMatrixAuthorization> {
    const headers = request.authorization === undefined ? [] : typeof request.authorization === 'string' ? [request.authorization] : request.authorization;
    const xMatrix = headers.filter((header) => /^x-matrix\s/i.test(header));
    if (xMatrix.length === 0) throw new RequestAuthenticationError('no X-Matrix Authorization header');
    // Several headers come from servers with several keys; the first one that checks out counts.
    let failure: RequestAuthenticationError | undefined;
    for (const header of xMatrix.slice(0, 4)) {
      try {
        const auth = await this.check(header, request);
        this.announce(auth.origin);
        return auth;
      } catch (error) {
        if (!(error instanceof RequestAuthenticationError)) throw error;
        failure ??= error;
      }
    }
    throw failure ?? new RequestAuthenticationError('no X-Matrix Authorization header');
  }

  private announce(origin: string): void {
    for (const listener of this.authenticatedListeners) {
      try {
        listener(origin);
      } catch {
        // A listener's failure is its own; the request stays authenticated.
      }
    }
  }

  private async check(header: string, request: InboundRequest): Promise<XMatrixAuthorization> {
    let auth: XMatrixAuthorization;
    try {
      auth = parseXMatrixHeader(header);
    } catch (error) {
      if (error instanceof InvalidXMatrixHeaderError) throw new RequestAuthenticationError(error.reason);
      throw error;
    }
    const us = this.keyRing.serverName;
    if (auth.destination !== undefined && auth.destination !== us) {
      throw new RequestAuthenticationError(`the request is for ${auth.destination}, not this server`, auth.origin);
    }
    const key = await this.keyRing.verifyKey(auth.origin, auth.key, { at: this.clock(), purpose: 'request' });
    if (!key) throw new RequestAuthenticationError(`no valid key ${auth.key} of ${auth.origin}`, auth.origin);
    const signed = verifyRequestSignature({ method: request.method, uri: request.uri, content: request.content }, auth, key.key);
    if (!signed) throw new RequestAuthenticationError(`the signature by ${auth.key} of ${auth.origin} does not verify`, auth.origin);
    return auth;
  }
}
