/**
 * Signing events (server-server-api.md "Adding hashes and signatures to outgoing events"):
 * compute the content hash into `hashes.sha256`, redact, sign the redacted copy, copy the
 * signature back. And the matching check for a received event.
 */
import { roomVersion, type RoomVersionRules } from '../room-versions';
import { jsonSignature, jsonSignatureInput, verifyJsonSignature } from '../crypto/sign-json';
import type { SigningKey } from '../crypto/ed25519';
import { contentHashBase64 } from './hashes';
import { redactEvent } from './redaction';

function rulesOf(version: string | RoomVersionRules): RoomVersionRules {
  return typeof version === 'string' ? roomVersion(version) : version;
}

type Signatures = Record<string, Record<string, string>>;

/**
 * A copy of `event` with its content hash set and signed by `serverName` with `key`. Existing
 * signatures are kept (a re-signing server adds beside them).
 */
export function signEvent<T extends object>(
  event: T,
  version: string | RoomVersionRules,
  serverName: string,
  key: SigningKey,
): T & { hashes: { sha256: string }; signatures: Signatures } {
  const rules = rulesOf(version);
  const source = event as Record<string, unknown>;
  const hashes = { ...((source.hashes as Record<string, string> | undefined) ?? {}), sha256: contentHashBase64(event, rules) };
  const hashed: Record<string, unknown> = { ...source, hashes };
  const redacted = redactEvent(hashed, rules);
  const signature = jsonSignature(redacted, key, { strict: rules.strictCanonicalJson });
  const existing = (source.signatures as Signatures | undefined) ?? {};
  const signatures: Signatures = { ...existing, [serverName]: { ...(existing[serverName] ?? {}), [key.keyId]: signature } };
  return { ...(event as T), hashes, signatures } as T & { hashes: { sha256: string }; signatures: Signatures };
}

/**
 * True when the event carries a valid signature of `serverName` under `keyId` by `publicKey`.
 * The signature covers the redacted event, so this holds for a redacted copy as well.
 */
export function verifyEventSignature(
  event: object,
  version: string | RoomVersionRules,
  serverName: string,
  keyId: string,
  publicKey: Uint8Array | string,
): boolean {
  const rules = rulesOf(version);
  let redacted: Record<string, unknown>;
  try {
    redacted = redactEvent(event, rules);
  } catch {
    return false;
  }
  return verifyJsonSignature(redacted, serverName, keyId, publicKey, { strict: rules.strictCanonicalJson });
}

/**
 * What {@link verifyEventSignature} checks, to verify elsewhere (in a batch, off the main
 * thread): the bytes the signature of `serverName` under `keyId` covers and the signature;
 * undefined when either cannot be had (the signature then does not verify).
 */
export function eventSignatureInput(
  event: object,
  version: string | RoomVersionRules,
  serverName: string,
  keyId: string,
): { message: Uint8Array; signature: Uint8Array } | undefined {
  const rules = rulesOf(version);
  try {
    return jsonSignatureInput(redactEvent(event, rules), serverName, keyId, { strict: rules.strictCanonicalJson });
  } catch {
    return undefined;
  }
}
