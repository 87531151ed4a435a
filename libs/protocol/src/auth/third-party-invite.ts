/**
 * The signature check of a third-party invite (rule 5.3.1.7 / 4.4.1.7 / 5.4.1.7): any signature
 * in `content.third_party_invite.signed` must match a public key of the m.room.third_party_invite
 * event, given in its content as `public_key` and/or the `public_keys[].public_key` list.
 */
import { verifyJsonSignature } from '../crypto/sign-json';
import type { JsonObject, JsonValue } from '../events/types';
import { decodeBase64, decodeBase64Url } from '../json/base64';

function isObject(v: JsonValue | undefined): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The public keys of an m.room.third_party_invite event's content, decoded (standard or URL-safe Base64). */
export function thirdPartyInvitePublicKeys(content: JsonObject): Uint8Array[] {
  const encoded: string[] = [];
  if (typeof content.public_key === 'string') encoded.push(content.public_key);
  if (Array.isArray(content.public_keys)) {
    for (const entry of content.public_keys) {
      if (isObject(entry) && typeof entry.public_key === 'string') encoded.push(entry.public_key);
    }
  }
  const keys: Uint8Array[] = [];
  for (const s of encoded) {
    for (const decode of [decodeBase64, decodeBase64Url]) {
      try {
        keys.push(decode(s));
        break;
      } catch {
        // try the other alphabet
      }
    }
  }
  return keys;
}

/** True when some signature in `signed.signatures` verifies against one of the public keys. */
export function thirdPartyInviteSignatureMatches(signed: JsonObject, publicKeys: readonly Uint8Array[]): boolean {
  const signatures = signed.signatures;
  if (!isObject(signatures) || publicKeys.length === 0) return false;
  for (const [entity, byKeyId] of Object.entries(signatures)) {
    if (!isObject(byKeyId)) continue;
    for (const keyId of Object.keys(byKeyId)) {
      for (const publicKey of publicKeys) {
        if (verifyJsonSignature(signed, entity, keyId, publicKey)) return true;
      }
    }
  }
  return false;
}
