/**
 * Presence over federation (server-server-api.md, "Presence"): `m.presence` EDUs.
 *
 * Outbound: every change of a local user's presence goes to the servers that share a room with
 * the user, as one EDU per user (a later change replaces an earlier one still queued). When a
 * user of another server joins a room, that server gets the presence of our users in the room;
 * when one of our users joins, the room's other servers get that user's presence; so the
 * members of a new room see each other at once (not only after the next change).
 *
 * Inbound: an `m.presence` EDU of `origin` is taken for `origin`'s own users who share a room
 * with one of ours; entries about other servers' users are dropped (a server cannot speak for
 * another server's users). An entry about a user who shares no room here yet is held for a
 * while ({@link HELD_PRESENCE_MS}, at most {@link MAX_HELD_PRESENCE} of them): the server of a
 * room we are joining sends its users' presence as soon as it accepted the join, often before
 * the join is stored here; the entry is taken when that join is (or dropped), so a server
 * cannot fill our memory with presence nobody here may see.
 */
import { isValidUserId, serverNameOf } from '@hs/protocol';
import { PRESENCE_STATES, type PresenceStore, type RemotePresence } from './presence';
import type { PresenceState, PresenceStatus } from './sources';

/** Entries of one inbound EDU looked at; the rest are dropped. */
export const MAX_INBOUND_PRESENCE_ENTRIES = 1_000;
/** Longest status message taken from another server (characters). */
export const MAX_REMOTE_STATUS_MSG = 1_024;
/** How long an entry about a user who shares no room here yet is held. */
export const HELD_PRESENCE_MS = 60_000;
/** Entries held at most (the oldest go first). */
export const MAX_HELD_PRESENCE = 1_000;

/** The `m.presence` EDU as a transaction carries it. */
export interface PresenceEdu {
  edu_type: 'm.presence';
  content: { push: PresencePush[] };
}

export interface PresencePush {
  user_id: string;
  presence: PresenceState;
  last_active_ago?: number;
  status_msg?: string;
  currently_active?: boolean;
}

/** What presence over federation needs of the rest of the server. */
export interface PresenceFederationPorts {
  /** For each user, the servers (ours may be among them) with a joined member in a room the user is joined to. */
  serversSharingRoomsWith(userIds: readonly string[]): Promise<ReadonlyMap<string, readonly string[]>>;
  /** The servers (ours may be among them) with a joined member in the room. */
  roomServers(roomId: string): Promise<readonly string[]>;
  /** The users joined to the room. */
  joinedMembers(roomId: string): Promise<readonly string[]>;
  /** Of these users, those joined to at least one room here. */
  joinedSomewhere(userIds: readonly string[]): Promise<Set<string>>;
  /** Queues the EDU for each destination; `key` replaces a queued EDU of the same key. */
  enqueue(destinations: readonly string[], edu: PresenceEdu, key: string): void;
  warn(message: string, error: unknown): void;
}

export class PresenceFederation {
  private unsubscribe?: () => void;
  private readonly pending = new Set<string>();
  private flushing?: Promise<void>;
  /** Entries about users who shared no room here when they came, by user. */
  private readonly held = new Map<string, { origin: string; presence: RemotePresence; at: number }>();

  constructor(
    private readonly store: PresenceStore,
    private readonly serverName: string,
    private readonly ports: PresenceFederationPorts,
    private readonly now: () => number = Date.now,
  ) {}

  /** Sends local users' changes from now on. */
  start(): void {
    if (!this.store.enabled) return;
    this.unsubscribe ??= this.store.onChange((userId) => {
      if (!this.isLocal(userId)) return;
      this.pending.add(userId);
      this.flushing ??= this.flush();
    });
  }

  stop(): void {
    this.unsubscribe?.();
    this.unsubscribe = undefined;
  }

  /** Resolves once the changes reported so far are queued (tests). */
  async idle(): Promise<void> {
    while (this.flushing) await this.flushing;
  }

  /** A user joined a room (an accepted join event, ours or another server's). */
  async joined(roomId: string, userId: string): Promise<void> {
    if (!this.store.enabled) return;
    try {
      if (this.isLocal(userId)) {
        const servers = await this.ports.roomServers(roomId);
        const push = this.push(userId);
        if (push) this.send(servers, push);
        this.takeHeld((held) => servers.includes(held.origin));
        return;
      }
      this.takeHeld((_, heldUser) => heldUser === userId);
      const destination = serverNameOf(userId);
      if (destination === undefined) return;
      const pushes = (await this.ports.joinedMembers(roomId)).filter((member) => this.isLocal(member)).flatMap((member) => this.push(member) ?? []);
      for (const push of pushes) this.send([destination], push);
    } catch (error) {
      this.ports.warn('presence not sent over federation after a join: the room could not be read', error);
    }
  }

  /** An `m.presence` EDU from `origin`. */
  async receive(origin: string, content: unknown): Promise<void> {
    if (!this.store.enabled || !isObject(content) || !Array.isArray(content.push)) return;
    const updates = new Map<string, RemotePresence>();
    for (const entry of content.push.slice(0, MAX_INBOUND_PRESENCE_ENTRIES)) {
      const parsed = parsePush(entry);
      if (parsed && serverNameOf(parsed.userId) === origin && !this.isLocal(parsed.userId)) updates.set(parsed.userId, parsed.presence);
    }
    if (updates.size === 0) return;
    const known = await this.ports.joinedSomewhere([...updates.keys()]);
    for (const [userId, presence] of updates) {
      if (known.has(userId)) {
        this.held.delete(userId);
        this.store.setRemote(userId, presence);
      } else this.hold(userId, origin, presence);
    }
  }

  private hold(userId: string, origin: string, presence: RemotePresence): void {
    this.held.delete(userId);
    this.held.set(userId, { origin, presence, at: this.now() });
    while (this.held.size > MAX_HELD_PRESENCE) {
      const oldest = this.held.keys().next().value;
      if (oldest === undefined) break;
      this.held.delete(oldest);
    }
  }

  /** Takes the held entries that `wanted` picks (and drops those held too long). */
  private takeHeld(wanted: (held: { origin: string; presence: RemotePresence }, userId: string) => boolean): void {
    const now = this.now();
    for (const [userId, held] of this.held) {
      const age = now - held.at;
      if (age >= HELD_PRESENCE_MS) this.held.delete(userId);
      else if (wanted(held, userId)) {
        this.held.delete(userId);
        const { lastActiveAgo } = held.presence;
        this.store.setRemote(userId, lastActiveAgo === undefined ? held.presence : { ...held.presence, lastActiveAgo: lastActiveAgo + age });
      }
    }
  }

  private async flush(): Promise<void> {
    try {
      // Changes made together (e.g. timeouts) go out together.
      await new Promise((resolve) => setImmediate(resolve));
      while (this.pending.size > 0) {
        const users = [...this.pending];
        this.pending.clear();
        try {
          // The rooms and servers of all the users changed together, read at once.
          const servers = await this.ports.serversSharingRoomsWith(users);
          for (const userId of users) {
            const push = this.push(userId);
            if (push) this.send(servers.get(userId) ?? [], push);
          }
        } catch (error) {
          this.ports.warn('presence changes were not sent over federation: the rooms of the users could not be read', error);
        }
      }
    } finally {
      this.flushing = undefined;
    }
  }

  private send(servers: readonly string[], push: PresencePush): void {
    const destinations = servers.filter((server) => server !== this.serverName);
    if (destinations.length > 0) this.ports.enqueue(destinations, { edu_type: 'm.presence', content: { push: [push] } }, `m.presence ${push.user_id}`);
  }

  private push(userId: string): PresencePush | undefined {
    const status: PresenceStatus | undefined = this.store.status(userId);
    return status ? { user_id: userId, ...status } : undefined;
  }

  private isLocal(userId: string): boolean {
    return serverNameOf(userId) === this.serverName;
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** One entry of `push`, or undefined when it does not hold. */
function parsePush(entry: unknown): { userId: string; presence: RemotePresence } | undefined {
  if (!isObject(entry)) return undefined;
  const userId = entry.user_id;
  if (typeof userId !== 'string' || !isValidUserId(userId)) return undefined;
  if (typeof entry.presence !== 'string' || !(PRESENCE_STATES as readonly string[]).includes(entry.presence)) return undefined;
  const presence: RemotePresence = { presence: entry.presence as PresenceState };
  const ago = entry.last_active_ago;
  if (typeof ago === 'number' && Number.isSafeInteger(ago) && ago >= 0) presence.lastActiveAgo = ago;
  if (typeof entry.status_msg === 'string') presence.statusMsg = entry.status_msg.slice(0, MAX_REMOTE_STATUS_MSG);
  if (typeof entry.currently_active === 'boolean') presence.currentlyActive = entry.currently_active;
  return { userId, presence };
}
