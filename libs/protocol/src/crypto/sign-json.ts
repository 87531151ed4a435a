/**
 * Signing JSON (appendices.md "Signing Details" and "Checking for a Signature"): the object
 * without `signatures` and `unsigned` is encoded as canonical JSON and signed; the signature
 * goes under `signatures[<entity>][<key id>]`, beside any signatures already present.
 */
import { canonicalJsonBytes, type CanonicalJsonOptions } from '../json/canonical-json';
import { decodeBase64, encodeBase64 } from '../json/base64';
import { signBytes, verifyBytes, type SigningKey } from './ed25519';

/** A JSON object that may carry signatures. */
export type SignableObject = Record<string, unknown>;
export type SignaturesBlock = Record<string, Record<string, string>>;

/** The object with `signatures` and `unsigned` removed: what a signature covers. */
export function signedPart<T extends SignableObject>(obj: T): Omit<T, 'signatures' | 'unsigned'> {
  const copy: SignableObject = { ...obj };
  delete copy.signatures;
  delete copy.unsigned;
  return copy as Omit<T, 'signatures' | 'unsigned'>;
}

function readSignatures(obj: SignableObject): SignaturesBlock {
  const sigs = obj.signatures;
  if (sigs === undefined || sigs === null || typeof sigs !== 'object' || Array.isArray(sigs)) return {};
  return sigs as SignaturesBlock;
}

/** The unpadded Base64 signature of `obj` (without its `signatures` and `unsigned`) by `key`. */
export function jsonSignature(obj: SignableObject, key: SigningKey, options: CanonicalJsonOptions = {}): string {
  return encodeBase64(signBytes(key, canonicalJsonBytes(signedPart(obj), options)));
}

/**
 * A copy of `obj` signed by `serverName` with `key`. Other signatures (and other keys of the
 * same server) are kept; `unsigned` is kept but not covered.
 */
export function signJson<T extends SignableObject>(
  obj: T,
  serverName: string,
  key: SigningKey,
  options: CanonicalJsonOptions = {},
): T & { signatures: SignaturesBlock } {
  const signature = jsonSignature(obj, key, options);
  const existing = readSignatures(obj);
  const signatures: SignaturesBlock = { ...existing, [serverName]: { ...(existing[serverName] ?? {}), [key.keyId]: signature } };
  return { ...obj, signatures };
}

/**
 * Checks the signature of `serverName` under `keyId` on `obj` against `publicKey` (raw bytes or
 * unpadded Base64). False when the signature is missing, not Base64, or does not verify.
 */
export function verifyJsonSignature(
  obj: SignableObject,
  serverName: string,
  keyId: string,
  publicKey: Uint8Array | string,
  options: CanonicalJsonOptions = {},
): boolean {
  const input = jsonSignatureInput(obj, serverName, keyId, options);
  return input !== undefined && verifyBytes(publicKey, input.message, input.signature);
}

/**
 * The bytes the signature of `serverName` under `keyId` covers (canonical JSON without
 * `signatures` and `unsigned`) and the signature, or undefined when the signature is missing
 * or not Base64, or the object cannot be encoded.
 */
export function jsonSignatureInput(
  obj: SignableObject,
  serverName: string,
  keyId: string,
  options: CanonicalJsonOptions = {},
): { message: Uint8Array; signature: Uint8Array } | undefined {
  const encoded = readSignatures(obj)[serverName]?.[keyId];
  if (typeof encoded !== 'string') return undefined;
  try {
    return { signature: decodeBase64(encoded), message: canonicalJsonBytes(signedPart(obj), options) };
  } catch {
    return undefined;
  }
}

/** The key ids `serverName` signed `obj` with (any algorithm), in the order given. */
export function signatureKeyIds(obj: SignableObject, serverName: string): string[] {
  const entry = readSignatures(obj)[serverName];
  return entry && typeof entry === 'object' ? Object.keys(entry) : [];
}
