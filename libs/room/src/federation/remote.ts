/**
 * What the write side needs from other servers, as a port the host fills with the keys layer
 * (`FederationClient` and `KeyRing` of libs/keys fit it as they are): signed requests to a
 * server, and the verify keys of a server. Answers of other servers are untrusted input: every
 * call here checks the shape it relies on and throws RemoteAnswerError otherwise.
 */
import {
  checkIncomingPdu,
  checkIncomingPdus,
  isKnownRoomVersion,
  requiredSignatureServers,
  roomVersion,
  type KeyUse,
  type PduCheckResult,
  type VerifyKey,
  type VerifyKeyRecord,
} from '@hs/protocol';

/** Injection token of the {@link RemoteServers} (optional: without it the server does not federate rooms). */
export const ROOM_REMOTE_SERVERS = Symbol('ROOM_REMOTE_SERVERS');

export interface RemoteRequest {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  /** From `/_matrix/…`, percent-encoded, with its query string. */
  path: string;
  body?: unknown;
  maxResponseBytes?: number;
  /** Deadline of this request in milliseconds, when it needs another than the client's default. */
  timeoutMs?: number;
  /** The answer is the `[200, {…}]` pair of the deprecated v1 endpoints; its object is the body. */
  v1Pair?: boolean;
}

export interface RemoteServers {
  /** Sends a signed request; throws when the server cannot be reached or answers with an error status. */
  request(destination: string, request: RemoteRequest): Promise<{ status: number; body: Record<string, unknown> }>;
  /** A verify key of a server usable for `use`, or null. */
  verifyKey(serverName: string, keyId: string, use: KeyUse): Promise<VerifyKeyRecord | null>;
}

/** Another server's answer could not be used. */
export class RemoteAnswerError extends Error {
  constructor(
    readonly server: string,
    reason: string,
  ) {
    super(`${server}: ${reason}`);
    this.name = 'RemoteAnswerError';
  }
}

/**
 * Whether an error of a request says the server does not know the endpoint (so that its
 * deprecated form may be tried): 404 or 405 without a JSON error or with `M_UNRECOGNIZED`, or
 * 400 `M_UNRECOGNIZED`. A 404 with another errcode (`M_NOT_FOUND` for a room) is an answer.
 */
export function isUnknownEndpoint(error: unknown): boolean {
  const status = (error as { status?: unknown }).status;
  const answer = (error as { answer?: unknown }).answer;
  const errcode = isRecord(answer) ? answer.errcode : undefined;
  if (status === 404 || status === 405) return errcode === undefined || errcode === 'M_UNRECOGNIZED';
  return status === 400 && errcode === 'M_UNRECOGNIZED';
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Runs the receipt checks (format, signatures, content hash) on PDUs of one room version,
 * fetching the verify keys their signatures name first (each once for the whole batch).
 */
export async function checkPdus(remote: RemoteServers, raws: readonly unknown[], version: string, roomId?: string): Promise<PduCheckResult[]> {
  if (!isKnownRoomVersion(version)) return raws.map(() => ({ ok: false, reason: 'unsupported_room_version', detail: `room version ${version}` }) as const);
  const rules = roomVersion(version);
  const wanted = new Map<string, { server: string; keyId: string; at: number }>();
  for (const raw of raws) {
    if (!isRecord(raw) || !isRecord(raw.signatures)) continue;
    const at = typeof raw.origin_server_ts === 'number' ? raw.origin_server_ts : 0;
    let servers: string[];
    try {
      servers = requiredSignatureServers(raw, rules);
    } catch {
      continue;
    }
    for (const server of servers) {
      const signatures = raw.signatures[server];
      if (!isRecord(signatures)) continue;
      for (const keyId of Object.keys(signatures).filter((k) => k.startsWith('ed25519:')).slice(0, 4)) {
        const id = `${server}\u0000${keyId}`;
        const known = wanted.get(id);
        if (!known || at > known.at) wanted.set(id, { server, keyId, at });
      }
    }
  }
  const keys = new Map<string, VerifyKey>();
  await Promise.all(
    [...wanted].map(async ([id, { server, keyId, at }]) => {
      const record = await remote.verifyKey(server, keyId, { at, purpose: 'event', enforceValidUntil: rules.enforceKeyValidity }).catch(() => null);
      if (record) keys.set(id, { publicKey: record.key, validUntilTs: Math.max(record.validUntilTs, record.expiredTs ?? 0) });
    }),
  );
  const lookupKey = (server: string, keyId: string) => keys.get(`${server}\u0000${keyId}`);
  // Many PDUs (a room's state): their signatures verified in the thread pool beside the other checks.
  if (raws.length >= 16) return checkIncomingPdus(raws, version, { lookupKey, roomId });
  return raws.map((raw) => checkIncomingPdu(raw, version, { lookupKey, roomId }));
}
