/**
 * Event hashes (server-server-api.md "Calculating the content hash for an event" and
 * "Calculating the reference hash for an event"), event ids per room version, and the
 * room id of room version 12 (derived from the create event).
 */
import { createHash } from 'node:crypto';
import { canonicalJsonBytes } from '../json/canonical-json';
import { decodeBase64, encodeBase64, encodeBase64Url } from '../json/base64';
import { roomVersion, type RoomVersionRules } from '../room-versions';
import { redactEvent } from './redaction';

function rulesOf(version: string | RoomVersionRules): RoomVersionRules {
  return typeof version === 'string' ? roomVersion(version) : version;
}

/** The SHA-256 digest of `bytes`. */
export function sha256(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha256').update(bytes).digest());
}

export class EventIdError extends Error {
  constructor(readonly reason: string) {
    super(`Cannot determine the event id: ${reason}`);
    this.name = 'EventIdError';
  }
}

/**
 * The SHA-256 content hash: the event without `unsigned`, `signatures` and `hashes`, as
 * canonical JSON. `version` picks strict or lenient number rules.
 */
export function computeContentHash(event: object, version: string | RoomVersionRules): Uint8Array {
  return sha256(canonicalJsonBytes(contentHashInput(event), { strict: rulesOf(version).strictCanonicalJson }));
}

/** What the content hash covers: a copy of the event without `unsigned`, `signatures` and `hashes`. */
export function contentHashInput(event: object): Record<string, unknown> {
  const copy: Record<string, unknown> = { ...(event as Record<string, unknown>) };
  delete copy.unsigned;
  delete copy.signatures;
  delete copy.hashes;
  return copy;
}

/** The content hash in unpadded Base64, as it goes in `hashes.sha256`. */
export function contentHashBase64(event: object, version: string | RoomVersionRules): string {
  return encodeBase64(computeContentHash(event, version));
}

/**
 * True when `hashes.sha256` of the event equals its computed content hash. False when the
 * field is missing or not Base64.
 */
export function verifyContentHash(event: object, version: string | RoomVersionRules): boolean {
  const hashes = (event as { hashes?: unknown }).hashes;
  if (hashes === null || typeof hashes !== 'object') return false;
  const claimed = (hashes as Record<string, unknown>).sha256;
  if (typeof claimed !== 'string') return false;
  let claimedBytes: Uint8Array;
  try {
    claimedBytes = decodeBase64(claimed);
  } catch {
    return false;
  }
  const actual = computeContentHash(event, version);
  return Buffer.from(claimedBytes).equals(Buffer.from(actual));
}

/**
 * The reference hash: the redacted event without `signatures`, `unsigned` (and the legacy
 * top-level `age_ts`), as canonical JSON, hashed with SHA-256.
 */
export function computeReferenceHash(event: object, version: string | RoomVersionRules): Uint8Array {
  const rules = rulesOf(version);
  const redacted = redactEvent(event, rules);
  delete redacted.signatures;
  delete redacted.unsigned;
  delete redacted.age_ts;
  return sha256(canonicalJsonBytes(redacted, { strict: rules.strictCanonicalJson }));
}

/**
 * The event id of `event` in a room of `version`: v1-2 take the `event_id` the origin server
 * chose; v3 is `$` + standard unpadded Base64 of the reference hash; v4+ the URL-safe form.
 */
export function computeEventId(event: object, version: string | RoomVersionRules): string {
  const rules = rulesOf(version);
  switch (rules.eventIdFormat) {
    case 'server-generated': {
      const id = (event as { event_id?: unknown }).event_id;
      if (typeof id !== 'string') throw new EventIdError(`room version ${rules.id} events carry their event_id, and this one has none`);
      return id;
    }
    case 'base64':
    case 'url-safe-base64':
      return eventIdFromReferenceHash(computeReferenceHash(event, rules), rules.eventIdFormat);
  }
}

/** The event id of room versions 3+ from the event's reference hash: v3 standard, v4+ URL-safe unpadded Base64. */
export function eventIdFromReferenceHash(hash: Uint8Array, format: 'base64' | 'url-safe-base64'): string {
  return `$${format === 'base64' ? encodeBase64(hash) : encodeBase64Url(hash)}`;
}

/**
 * The room id a room-version-12 create event defines: `!` + URL-safe unpadded Base64 of its
 * reference hash (the create event's id with `!` instead of `$`).
 */
export function roomIdFromCreateEvent(createEvent: object, version: string | RoomVersionRules = '12'): string {
  const rules = rulesOf(version);
  if (!rules.roomIdFromCreateEvent) throw new EventIdError(`room version ${rules.id} does not derive room ids from the create event`);
  return `!${encodeBase64Url(computeReferenceHash(createEvent, rules))}`;
}
