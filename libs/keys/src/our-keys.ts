/**
 * This server's signing keys: the published `/_matrix/key/v2/server` response (signed, with
 * the old keys of the configuration and `valid_until_ts` = now + the configured validity), our
 * notary signature on others' responses, and our keys as verify key records, so that the key
 * ring answers for this server without a request.
 */
import { buildServerKeys, signJson, type OldVerifyKey, type SigningKey, type VerifyKeyRecord } from '@hs/protocol';

export interface OurKeysOptions {
  serverName: string;
  /** The key requests and events are signed with. */
  signingKey: SigningKey;
  /** Keys no longer in use (config `old_signing_keys`). */
  oldKeys: ReadonlyMap<string, OldVerifyKey>;
  /** How far ahead `valid_until_ts` is, in milliseconds. */
  validityMs: number;
  clock: () => number;
}

/**
 * A response is rebuilt (and signed again) at most this often; between rebuilds the same one
 * is served, so its `valid_until_ts` is at most this much short of now + validity.
 */
const REBUILD_INTERVAL_MS = 60_000;

export class OurKeys {
  private cached: { builtAt: number; json: Record<string, unknown> } | undefined;

  constructor(private readonly options: OurKeysOptions) {}

  get serverName(): string {
    return this.options.serverName;
  }

  get signingKey(): SigningKey {
    return this.options.signingKey;
  }

  /** The body of GET /_matrix/key/v2/server. */
  serverKeys(): Record<string, unknown> {
    const now = this.options.clock();
    if (!this.cached || now - this.cached.builtAt >= REBUILD_INTERVAL_MS || now < this.cached.builtAt) {
      const json = buildServerKeys({
        serverName: this.options.serverName,
        signingKeys: [this.options.signingKey],
        oldKeys: this.options.oldKeys,
        validUntilTs: now + this.options.validityMs,
      });
      this.cached = { builtAt: now, json };
    }
    return this.cached.json;
  }

  /** `json` with our signature added (as a notary, beside the origin's). */
  sign<T extends Record<string, unknown>>(json: T): T {
    return signJson(json, this.options.serverName, this.options.signingKey);
  }

  /** Our key `keyId` as a verify key record, or undefined. */
  verifyKey(keyId: string): VerifyKeyRecord | undefined {
    const { serverName, signingKey } = this.options;
    if (keyId === signingKey.keyId) {
      // Our current key stays valid as long as we use it.
      return { serverName, keyId, key: signingKey.publicKeyBase64, validUntilTs: Number.MAX_SAFE_INTEGER, expiredTs: null };
    }
    const old = this.options.oldKeys.get(keyId);
    return old ? { serverName, keyId, key: old.key, validUntilTs: 0, expiredTs: old.expiredTs } : undefined;
  }
}
