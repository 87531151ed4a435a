/**
 * The signing key file format Synapse and other servers share: one key a line,
 * `ed25519 <key_version> <unpadded base64 seed>`. Pure string functions; reading and writing
 * the file is the caller's job.
 */
import { encodeBase64 } from '../json/base64';
import { ED25519, InvalidSigningKeyError, isValidKeyVersion, signingKeyFromSeed, type SigningKey } from './ed25519';

export class InvalidKeyFileError extends Error {
  constructor(
    readonly line: number,
    readonly reason: string,
  ) {
    super(`Signing key file, line ${line}: ${reason}`);
    this.name = 'InvalidKeyFileError';
  }
}

/** Parses every key in a signing key file; blank lines and lines starting with `#` are skipped. */
export function parseSigningKeyFile(text: string): SigningKey[] {
  const keys: SigningKey[] = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (line === '' || line.startsWith('#')) continue;
    const parts = line.split(/\s+/);
    if (parts.length !== 3) throw new InvalidKeyFileError(i + 1, 'expected "<algorithm> <version> <base64 seed>"');
    const [algorithm, version, seed] = parts;
    if (algorithm !== ED25519) throw new InvalidKeyFileError(i + 1, `unsupported algorithm "${algorithm}"`);
    if (!isValidKeyVersion(version)) throw new InvalidKeyFileError(i + 1, `key version "${version}" must match [a-zA-Z0-9_]+`);
    try {
      keys.push(signingKeyFromSeed(seed, `${ED25519}:${version}`));
    } catch (e) {
      if (e instanceof InvalidSigningKeyError) throw new InvalidKeyFileError(i + 1, e.reason);
      throw e;
    }
  }
  return keys;
}

/** One key file line for `key` (no trailing newline). */
export function formatSigningKeyLine(key: SigningKey): string {
  return `${key.algorithm} ${key.version} ${encodeBase64(key.seed)}`;
}

/** A whole signing key file for `keys`, one line each, ending with a newline. */
export function formatSigningKeyFile(keys: readonly SigningKey[]): string {
  return keys.map((k) => `${formatSigningKeyLine(k)}\n`).join('');
}
