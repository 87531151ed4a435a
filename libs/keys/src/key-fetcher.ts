/**
 * Fetches and checks other servers' key responses: directly (GET /_matrix/key/v2/server, which
 * must be signed by the server it names, the one asked) or through a notary (POST
 * /_matrix/key/v2/query, each entry signed by the notary with a key the configuration trusts,
 * and by the server it describes). Anything else is refused with a KeyFetchError.
 */
import { InvalidServerKeysError, parseServerKeys, verifyJsonSignature, type ServerKeys } from '@hs/protocol';
import { FederationClient, FederationRequestError } from './federation-client';

/** A notary we trust (config `trusted_key_servers`). */
export interface TrustedNotary {
  serverName: string;
  /** Key id → unpadded Base64 public key; answers must be signed with one of them. */
  verifyKeys: Readonly<Record<string, string>>;
}

/** Keys could not be had; `reason` is safe to log. */
export class KeyFetchError extends Error {
  constructor(
    readonly serverName: string,
    readonly via: string,
    readonly reason: string,
  ) {
    super(`Could not fetch the keys of ${serverName} from ${via}: ${reason}`);
    this.name = 'KeyFetchError';
  }
}

/** Largest key response taken from a server (a real one is about 1 KiB). */
export const MAX_KEY_RESPONSE_BYTES = 64 * 1024;
/** Largest notary answer taken (one entry per server asked). */
export const MAX_NOTARY_RESPONSE_BYTES = 1024 * 1024;

function reasonOf(error: unknown): string {
  if (error instanceof FederationRequestError || error instanceof InvalidServerKeysError) return error.reason;
  return error instanceof Error ? error.message : String(error);
}

export class KeyFetcher {
  constructor(private readonly client: FederationClient) {}

  /** The checked key response of `serverName`, from the server itself. */
  async fetchDirect(serverName: string): Promise<ServerKeys> {
    let body: Record<string, unknown>;
    try {
      ({ body } = await this.client.request(serverName, { method: 'GET', path: '/_matrix/key/v2/server', signed: false, maxResponseBytes: MAX_KEY_RESPONSE_BYTES }));
    } catch (error) {
      throw new KeyFetchError(serverName, serverName, reasonOf(error));
    }
    try {
      return parseServerKeys(body, serverName);
    } catch (error) {
      throw new KeyFetchError(serverName, serverName, reasonOf(error));
    }
  }

  /**
   * The checked key responses `notary` gives for `serverNames`. Entries for servers not asked
   * for, or that fail a check, are left out; `onRefused` hears why. Throws KeyFetchError when
   * the notary gives no usable answer at all.
   */
  async fetchFromNotary(notary: TrustedNotary, serverNames: readonly string[], onRefused: (error: KeyFetchError) => void = () => undefined): Promise<ServerKeys[]> {
    // No key ids asked: a notary then answers with every key of each server.
    const server_keys = Object.fromEntries(serverNames.map((name) => [name, {}]));
    const asked = new Set(serverNames);
    let body: Record<string, unknown>;
    try {
      ({ body } = await this.client.request(notary.serverName, {
        method: 'POST',
        path: '/_matrix/key/v2/query',
        body: { server_keys },
        signed: false,
        maxResponseBytes: MAX_NOTARY_RESPONSE_BYTES,
      }));
    } catch (error) {
      throw new KeyFetchError(serverNames.join(', '), notary.serverName, reasonOf(error));
    }
    if (!Array.isArray(body.server_keys)) throw new KeyFetchError(serverNames.join(', '), notary.serverName, 'server_keys is not an array');
    const results: ServerKeys[] = [];
    for (const entry of body.server_keys as unknown[]) {
      const name = typeof (entry as { server_name?: unknown })?.server_name === 'string' ? (entry as { server_name: string }).server_name : '(no server_name)';
      try {
        if (!asked.has(name)) throw new InvalidServerKeysError(`an answer for ${name.slice(0, 300)}, which was not asked for`);
        const record = entry as Record<string, unknown>;
        const signedByNotary = Object.entries(notary.verifyKeys).some(([keyId, key]) => verifyJsonSignature(record, notary.serverName, keyId, key));
        if (!signedByNotary) throw new InvalidServerKeysError(`not signed by the notary with a trusted key`);
        results.push(parseServerKeys(record, name));
      } catch (error) {
        onRefused(new KeyFetchError(name, notary.serverName, reasonOf(error)));
      }
    }
    return results;
  }
}
