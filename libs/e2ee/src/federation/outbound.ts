/**
 * What the e2ee library sends to other servers: key queries and claims for their users
 * (`/_matrix/federation/v1/user/keys/*`), and, after a local user's device list changes, an
 * `m.device_list_update` EDU per changed device (or an `m.signing_key_update` for cross-signing
 * keys) to every server that shares a room with the user. A server that misses one sees a gap
 * in `prev_id` and asks `/user/devices` for the whole list.
 */
import type { Subscription } from 'rxjs';
import type { DeviceKeysService, E2eeChange, JsonObject } from '../device-keys.service';
import type { KeysQueryService, RemoteKeysClient } from '../keys-query.service';

/** The federation client's request, as the keys layer provides it. */
export interface FederationRequester {
  request(
    destination: string,
    request: { method: 'POST' | 'GET'; path: string; body?: unknown; timeoutMs?: number },
  ): Promise<{ status: number; body: Record<string, unknown> }>;
}

/** Key queries and claims through the federation client. */
export function federationKeysClient(client: FederationRequester): RemoteKeysClient {
  return {
    async queryKeys(destination, deviceKeys, timeoutMs) {
      const answer = await client.request(destination, { method: 'POST', path: '/_matrix/federation/v1/user/keys/query', body: { device_keys: deviceKeys }, timeoutMs });
      return answer.body;
    },
    async claimKeys(destination, oneTimeKeys, timeoutMs) {
      const answer = await client.request(destination, { method: 'POST', path: '/_matrix/federation/v1/user/keys/claim', body: { one_time_keys: oneTimeKeys }, timeoutMs });
      return answer.body;
    },
  };
}

export interface E2eeOutboundPorts {
  /** The other servers with a user joined to a room the user is joined to. */
  serversSharingRoomsWith(userId: string): Promise<string[]>;
  /** Queues an EDU for the destinations (the federation sender). */
  enqueue(destinations: readonly string[], edu: { edu_type: string; content: JsonObject }): void;
  warn(message: string, error: unknown): void;
}

export class E2eeFederationOutbound {
  private subscription: Subscription | undefined;
  /** Changes are sent one after another, in order. */
  private chain: Promise<void> = Promise.resolve();
  /** The position of each user's last change sent (a change announced twice goes once). */
  private readonly sent = new Map<string, number>();

  constructor(
    private readonly keys: DeviceKeysService,
    private readonly keysQuery: KeysQueryService,
    private readonly serverName: string,
    private readonly ports: E2eeOutboundPorts,
  ) {}

  start(): void {
    this.subscription ??= this.keys.changes.subscribe((change) => {
      if (change.kind !== 'device_list') return;
      this.chain = this.chain.then(() => this.send(change)).catch((error: unknown) => this.ports.warn('device list update not sent over federation', error));
    });
  }

  stop(): void {
    this.subscription?.unsubscribe();
    this.subscription = undefined;
  }

  /** Resolves once the changes seen so far are queued. */
  idle(): Promise<void> {
    return this.chain;
  }

  private async send(change: E2eeChange): Promise<void> {
    for (const userId of change.userIds) {
      if (userId.slice(userId.indexOf(':') + 1) !== this.serverName || (this.sent.get(userId) ?? 0) >= change.position) continue;
      this.sent.set(userId, change.position);
      const destinations = (await this.ports.serversSharingRoomsWith(userId)).filter((server) => server !== this.serverName);
      if (destinations.length === 0) continue;
      const updates = await this.keys.deviceListUpdates(userId, change.position);
      for (const content of updates) this.ports.enqueue(destinations, { edu_type: 'm.device_list_update', content });
      if (updates.length === 0) {
        // No device changed: the cross-signing keys did.
        const local = await this.keysQuery.queryLocal(undefined, new Map([[userId, []]]));
        const content: JsonObject = { user_id: userId };
        if (local.master_keys?.[userId]) content.master_key = local.master_keys[userId];
        if (local.self_signing_keys?.[userId]) content.self_signing_key = local.self_signing_keys[userId];
        if (content.master_key || content.self_signing_key) this.ports.enqueue(destinations, { edu_type: 'm.signing_key_update', content });
      }
    }
  }
}
