/**
 * POST /keys/query and /keys/claim over local and remote users: local users are answered from
 * the store, users of other servers through their servers (`/_matrix/federation/v1/user/keys/*`,
 * one request per server, side by side, within the client's timeout); a server that does not
 * answer is named in `failures`. What a remote server answers is untrusted input: only keys of
 * the users and devices asked for, and shaped as keys, are passed on.
 */
import { isStorableText } from './db';
import type { DeviceKeysService, JsonObject } from './device-keys.service';
import { E2eeError } from './errors';
import type { JsonText } from './json-text';

/** The federation requests of the keys API (the application wires the federation client). */
export interface RemoteKeysClient {
  queryKeys(destination: string, deviceKeys: Record<string, string[]>, timeoutMs: number): Promise<unknown>;
  claimKeys(destination: string, oneTimeKeys: Record<string, Record<string, string>>, timeoutMs: number): Promise<unknown>;
}

/** Cross-signing keys of users, for /keys/query (the cross-signing part of the library). */
export interface CrossSigningSource {
  /** Master and self-signing keys of the users (and the user-signing key of `requester` alone). */
  crossSigningKeys(requester: string | undefined, userIds: readonly string[]): Promise<CrossSigningKeys>;
  /** Signatures others made on the users' device keys, merged into `deviceKeys` in place (a signed JsonText is replaced by the object). */
  addSignatures(deviceKeys: Record<string, Record<string, DeviceKeysJson>>): Promise<void>;
}

export interface CrossSigningKeys {
  master_keys: Record<string, JsonObject>;
  self_signing_keys: Record<string, JsonObject>;
  user_signing_keys: Record<string, JsonObject>;
}

/** A device's keys: local devices' as the JSON text stored (see JsonText), other servers' as objects. */
export type DeviceKeysJson = JsonObject | JsonText;

export interface KeysQueryResponse extends Partial<CrossSigningKeys> {
  device_keys: Record<string, Record<string, DeviceKeysJson>>;
  failures: Record<string, JsonObject>;
}

export interface KeysClaimResponse {
  one_time_keys: Record<string, Record<string, Record<string, unknown>>>;
  failures: Record<string, JsonObject>;
}

/** Default and longest wait for other servers, in milliseconds. */
export const DEFAULT_REMOTE_TIMEOUT_MS = 10_000;
export const MAX_REMOTE_TIMEOUT_MS = 30_000;
/** Most users one query, and devices one claim, may name. */
export const MAX_QUERY_USERS = 10_000;
export const MAX_CLAIM_DEVICES = 10_000;

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function serverOf(userId: string): string | undefined {
  const colon = userId.indexOf(':');
  return userId.startsWith('@') && colon > 1 && colon < userId.length - 1 ? userId.slice(colon + 1) : undefined;
}

function entry<K, V>(map: Map<K, V>, key: K, make: () => V): V {
  let value = map.get(key);
  if (value === undefined) {
    value = make();
    map.set(key, value);
  }
  return value;
}

function failure(error: unknown): JsonObject {
  const status = (error as { status?: unknown; httpStatus?: unknown }).status ?? (error as { httpStatus?: unknown }).httpStatus;
  return { status: typeof status === 'number' ? status : 503, message: 'The server could not be reached' };
}

function timeoutOf(raw: unknown): number {
  if (typeof raw !== 'number' || !Number.isFinite(raw) || raw < 0) return DEFAULT_REMOTE_TIMEOUT_MS;
  return Math.min(raw, MAX_REMOTE_TIMEOUT_MS);
}

/** Resolves with `work`'s result, or rejects when `ms` pass first. */
function within<T>(work: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(Object.assign(new Error('timed out'), { status: 504 })), ms);
    work.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error instanceof Error ? error : new Error(String(error)));
      },
    );
  });
}

/** Device keys of a remote answer that match the user and device asked for and look like device keys. */
function remoteDeviceKeys(answer: unknown, wanted: Record<string, string[]>): Record<string, Record<string, JsonObject>> {
  const out: Record<string, Record<string, JsonObject>> = {};
  const all = isObject(answer) && isObject(answer.device_keys) ? answer.device_keys : {};
  for (const [userId, devices] of Object.entries(wanted)) {
    out[userId] = {};
    const theirs = all[userId];
    if (!isObject(theirs)) continue;
    for (const [deviceId, keys] of Object.entries(theirs)) {
      if (devices.length > 0 && !devices.includes(deviceId)) continue;
      if (!isObject(keys) || keys.user_id !== userId || keys.device_id !== deviceId || !isObject(keys.keys)) continue;
      out[userId][deviceId] = keys;
    }
  }
  return out;
}

/** Cross-signing keys of a remote answer, for the users asked for and naming them. */
function remoteCrossSigning(answer: unknown, field: string, users: readonly string[]): Record<string, JsonObject> {
  const out: Record<string, JsonObject> = {};
  const all = isObject(answer) && isObject(answer[field]) ? answer[field] : {};
  for (const userId of users) {
    const key = all[userId];
    if (isObject(key) && key.user_id === userId && isObject(key.keys)) out[userId] = key;
  }
  return out;
}

/**
 * Asks each server its part side by side with `ask` (no client: every server fails), naming
 * the servers that do not answer in `failures`.
 */
async function askServers<W>(
  remote: ReadonlyMap<string, W>,
  failures: Record<string, JsonObject>,
  ask: ((server: string, wanted: W) => Promise<void>) | undefined,
): Promise<void> {
  await Promise.all(
    [...remote].map(async ([server, wanted]) => {
      if (!ask) {
        failures[server] = { status: 503, message: 'Federation is not available' };
        return;
      }
      try {
        await ask(server, wanted);
      } catch (error) {
        failures[server] = failure(error);
      }
    }),
  );
}

export class KeysQueryService {
  private remote: RemoteKeysClient | undefined;
  private crossSigning: CrossSigningSource | undefined;

  constructor(
    private readonly keys: DeviceKeysService,
    private readonly serverName: string,
  ) {}

  setRemote(remote: RemoteKeysClient | undefined): void {
    this.remote = remote;
  }

  setCrossSigning(source: CrossSigningSource | undefined): void {
    this.crossSigning = source;
  }

  /** The local part of a query (also what /_matrix/federation/v1/user/keys/query answers). */
  async queryLocal(requester: string | undefined, wanted: ReadonlyMap<string, readonly string[]>): Promise<Omit<KeysQueryResponse, 'failures'>> {
    const deviceKeys: Record<string, Record<string, DeviceKeysJson>> = await this.keys.deviceKeysJson(wanted);
    const response: Omit<KeysQueryResponse, 'failures'> = { device_keys: deviceKeys };
    if (this.crossSigning) {
      await this.crossSigning.addSignatures(deviceKeys);
      const crossSigning = await this.crossSigning.crossSigningKeys(requester, [...wanted.keys()]);
      response.master_keys = crossSigning.master_keys;
      response.self_signing_keys = crossSigning.self_signing_keys;
      if (requester !== undefined) response.user_signing_keys = crossSigning.user_signing_keys;
    }
    return response;
  }

  /** POST /keys/query from a local user. */
  async query(requester: string, body: JsonObject): Promise<KeysQueryResponse> {
    if (!isObject(body.device_keys)) throw new E2eeError('M_BAD_JSON', 'device_keys must be an object');
    const timeout = timeoutOf(body.timeout);
    const local = new Map<string, string[]>();
    const remote = new Map<string, Record<string, string[]>>();
    const entries = Object.entries(body.device_keys);
    if (entries.length > MAX_QUERY_USERS) throw new E2eeError('M_TOO_LARGE', `At most ${MAX_QUERY_USERS} users per query`);
    for (const [userId, devices] of entries) {
      if (!Array.isArray(devices) || !devices.every((d) => typeof d === 'string')) throw new E2eeError('M_BAD_JSON', 'device_keys maps user ids to lists of device ids');
      const server = serverOf(userId);
      // Ids PostgreSQL text cannot hold name no user or device here.
      if (server === undefined || !isStorableText(userId)) continue;
      if (server === this.serverName) local.set(userId, (devices as string[]).filter(isStorableText));
      else entry(remote, server, () => ({}) as Record<string, string[]>)[userId] = devices as string[];
    }
    const response: KeysQueryResponse = { ...(await this.queryLocal(requester, local)), failures: {} };
    const client = this.remote;
    await askServers(
      remote,
      response.failures,
      client &&
        (async (server, wanted) => {
          const answer = await within(client.queryKeys(server, wanted, timeout), timeout);
          Object.assign(response.device_keys, remoteDeviceKeys(answer, wanted));
          const users = Object.keys(wanted);
          Object.assign((response.master_keys ??= {}), remoteCrossSigning(answer, 'master_keys', users));
          Object.assign((response.self_signing_keys ??= {}), remoteCrossSigning(answer, 'self_signing_keys', users));
        }),
    );
    return response;
  }

  /** POST /keys/claim from a local user. */
  async claim(body: JsonObject): Promise<KeysClaimResponse> {
    if (!isObject(body.one_time_keys)) throw new E2eeError('M_BAD_JSON', 'one_time_keys must be an object');
    const timeout = timeoutOf(body.timeout);
    const local = new Map<string, Map<string, string>>();
    const remote = new Map<string, Record<string, Record<string, string>>>();
    let count = 0;
    for (const [userId, devices] of Object.entries(body.one_time_keys)) {
      if (!isObject(devices)) throw new E2eeError('M_BAD_JSON', 'one_time_keys maps user ids to objects of device ids');
      const server = serverOf(userId);
      for (const [deviceId, algorithm] of Object.entries(devices)) {
        if (typeof algorithm !== 'string') throw new E2eeError('M_BAD_JSON', 'one_time_keys maps device ids to algorithms');
        if (++count > MAX_CLAIM_DEVICES) throw new E2eeError('M_TOO_LARGE', `At most ${MAX_CLAIM_DEVICES} devices per claim`);
        if (server === undefined) continue;
        if (server === this.serverName && !(isStorableText(userId) && isStorableText(deviceId) && isStorableText(algorithm))) continue;
        if (server === this.serverName) entry(local, userId, () => new Map<string, string>()).set(deviceId, algorithm);
        else (entry(remote, server, () => ({}) as Record<string, Record<string, string>>)[userId] ??= {})[deviceId] = algorithm;
      }
    }
    const response: KeysClaimResponse = { one_time_keys: await this.keys.claim(local), failures: {} };
    const client = this.remote;
    await askServers(
      remote,
      response.failures,
      client &&
        (async (server, wanted) => {
          const answer = await within(client.claimKeys(server, wanted, timeout), timeout);
          const all = isObject(answer) && isObject(answer.one_time_keys) ? answer.one_time_keys : {};
          for (const [userId, devices] of Object.entries(wanted)) {
            const theirs = all[userId];
            if (!isObject(theirs)) continue;
            for (const deviceId of Object.keys(devices)) {
              const keys = theirs[deviceId];
              if (isObject(keys)) (response.one_time_keys[userId] ??= {})[deviceId] = keys;
            }
          }
        }),
    );
    return response;
  }
}
