/**
 * A client-server API user for the interoperability flows, the same against our server, Synapse
 * and Dendrite: room calls that must succeed, and a /sync loop that keeps what it has seen so a
 * test can wait for an event however the syncs split it.
 */
import { call, type Reply } from '@hs/testing';

export interface ClientEvent {
  type: string;
  sender: string;
  event_id?: string;
  state_key?: string;
  content: Record<string, unknown>;
}

interface SyncRoom {
  state?: { events?: ClientEvent[] };
  timeline?: { events?: ClientEvent[] };
  invite_state?: { events?: ClientEvent[] };
}

interface SyncBody {
  next_batch: string;
  rooms?: { join?: Record<string, SyncRoom>; invite?: Record<string, SyncRoom>; leave?: Record<string, SyncRoom> };
  to_device?: { events?: ToDeviceEvent[] };
  device_lists?: { changed?: string[] };
}

export interface ToDeviceEvent {
  sender: string;
  type: string;
  content: Record<string, unknown>;
}

const enc = encodeURIComponent;

export class MatrixUser {
  private since: string | undefined;
  /** Every state and timeline event seen in /sync, by room (joined or left). */
  private readonly seen = new Map<string, ClientEvent[]>();
  /** Rooms with a pending invite, with their stripped state. */
  private readonly invites = new Map<string, ClientEvent[]>();
  /** Every to-device message /sync delivered. */
  readonly toDevice: ToDeviceEvent[] = [];
  /** Every user /sync named in `device_lists.changed`. */
  readonly deviceListsChanged = new Set<string>();
  private txn = 0;

  constructor(
    readonly baseUrl: string,
    readonly userId: string,
    private readonly token: string,
  ) {}

  private async ok<T = Record<string, unknown>>(method: string, path: string, body?: unknown, query?: Record<string, string>): Promise<T> {
    const reply: Reply<T> = await call<T>(this.baseUrl, method, path, { token: this.token, body, query });
    if (reply.status !== 200) throw new Error(`${this.userId}: ${method} ${path} answered ${reply.status} ${JSON.stringify(reply.body)}`);
    return reply.body;
  }

  async createRoom(body: Record<string, unknown>): Promise<string> {
    return (await this.ok<{ room_id: string }>('POST', 'createRoom', body)).room_id;
  }

  /** POST /join/{roomIdOrAlias}?server_name=…: the room id joined. */
  async join(roomIdOrAlias: string, viaServers: string[] = []): Promise<string> {
    const query = viaServers.length > 0 ? `?${viaServers.map((server) => `server_name=${enc(server)}`).join('&')}` : '';
    return (await this.ok<{ room_id: string }>('POST', `join/${enc(roomIdOrAlias)}${query}`, {})).room_id;
  }

  async invite(roomId: string, userId: string): Promise<void> {
    await this.ok('POST', `rooms/${enc(roomId)}/invite`, { user_id: userId });
  }

  async leave(roomId: string): Promise<void> {
    await this.ok('POST', `rooms/${enc(roomId)}/leave`, {});
  }

  async sendText(roomId: string, body: string): Promise<string> {
    this.txn += 1;
    const path = `rooms/${enc(roomId)}/send/m.room.message/interop${Date.now()}-${this.txn}`;
    return (await this.ok<{ event_id: string }>('PUT', path, { msgtype: 'm.text', body })).event_id;
  }

  async joinedMembers(roomId: string): Promise<string[]> {
    return Object.keys((await this.ok<{ joined: Record<string, unknown> }>('GET', `rooms/${enc(roomId)}/joined_members`)).joined);
  }

  async setDisplayName(displayname: string): Promise<void> {
    await this.ok('PUT', `profile/${enc(this.userId)}/displayname`, { displayname });
  }

  private async syncOnce(timeoutMs: number): Promise<void> {
    const query: Record<string, string> = { timeout: String(timeoutMs) };
    if (this.since) query.since = this.since;
    const body = await this.ok<SyncBody>('GET', 'sync', undefined, query);
    this.since = body.next_batch;
    for (const [roomId, room] of [...Object.entries(body.rooms?.join ?? {}), ...Object.entries(body.rooms?.leave ?? {})]) {
      const events = this.seen.get(roomId) ?? [];
      events.push(...(room.state?.events ?? []), ...(room.timeline?.events ?? []));
      this.seen.set(roomId, events);
      this.invites.delete(roomId);
    }
    for (const [roomId, room] of Object.entries(body.rooms?.invite ?? {})) this.invites.set(roomId, room.invite_state?.events ?? []);
    this.toDevice.push(...(body.to_device?.events ?? []));
    for (const userId of body.device_lists?.changed ?? []) this.deviceListsChanged.add(userId);
  }

  /** Syncs at least once, then until `found` holds (or fails with `what` after `timeoutMs`). */
  async syncUntil(found: () => boolean, what: string, timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    do {
      if (Date.now() > deadline) throw new Error(`${this.userId}: ${what} not seen in /sync within ${timeoutMs} ms`);
      await this.syncOnce(2000);
    } while (!found());
  }

  /** The device id of this login (GET /account/whoami). */
  async deviceId(): Promise<string> {
    return (await this.ok<{ device_id: string }>('GET', 'account/whoami')).device_id;
  }

  /** POST /keys/upload. */
  async uploadKeys(body: Record<string, unknown>): Promise<Record<string, unknown>> {
    return this.ok('POST', 'keys/upload', body);
  }

  /** POST /keys/query for every device of the users. */
  async queryKeys(userIds: string[]): Promise<{ device_keys: Record<string, Record<string, Record<string, unknown>>>; failures?: Record<string, unknown> }> {
    return this.ok('POST', 'keys/query', { device_keys: Object.fromEntries(userIds.map((userId) => [userId, []])) });
  }

  /** POST /keys/claim of one key of `algorithm` for a device. */
  async claimKey(userId: string, deviceId: string, algorithm: string): Promise<{ one_time_keys: Record<string, Record<string, Record<string, unknown>>> }> {
    return this.ok('POST', 'keys/claim', { one_time_keys: { [userId]: { [deviceId]: algorithm } } });
  }

  /** PUT /sendToDevice/{type}/{txnId}. */
  async sendToDevice(type: string, messages: Record<string, Record<string, Record<string, unknown>>>): Promise<void> {
    this.txn += 1;
    await this.ok('PUT', `sendToDevice/${enc(type)}/interop${Date.now()}-${this.txn}`, { messages });
  }

  /** Syncs until `find` returns something for the events seen in `roomId`; fails with what was seen after `timeoutMs`. */
  async waitForEvent(roomId: string, find: (event: ClientEvent) => boolean, timeoutMs = 60_000): Promise<ClientEvent> {
    const deadline = Date.now() + timeoutMs;
    while (true) {
      const found = (this.seen.get(roomId) ?? []).find(find);
      if (found) return found;
      if (Date.now() > deadline) {
        const seen = (this.seen.get(roomId) ?? []).map((event) => `${event.type}/${event.state_key ?? ''}/${event.sender}`);
        throw new Error(`${this.userId} did not see the awaited event in ${roomId} within ${timeoutMs} ms; saw ${JSON.stringify(seen)}`);
      }
      await this.syncOnce(2000);
    }
  }

  /** Syncs until an invite to `roomId` arrives; returns its stripped state. */
  async waitForInvite(roomId: string, timeoutMs = 60_000): Promise<ClientEvent[]> {
    const deadline = Date.now() + timeoutMs;
    while (true) {
      const invite = this.invites.get(roomId);
      if (invite) return invite;
      if (Date.now() > deadline) throw new Error(`${this.userId} got no invite to ${roomId} within ${timeoutMs} ms (invites: ${JSON.stringify([...this.invites.keys()])})`);
      await this.syncOnce(2000);
    }
  }
}

/** Matches an m.room.message of `sender` with this body. */
export const message = (sender: string, body: string) => (event: ClientEvent) => event.type === 'm.room.message' && event.sender === sender && event.content.body === body;

/** Matches `userId`'s m.room.member event with this membership. */
export const membership = (userId: string, value: 'join' | 'leave' | 'invite') => (event: ClientEvent) =>
  event.type === 'm.room.member' && event.state_key === userId && event.content.membership === value;
