/**
 * Presence of local users (client-server API, "Presence"): online, unavailable or offline, a
 * status message, the last time the user was active. Like typing, presence is ephemeral and
 * kept in memory; every change takes the next value of one counter, which goes in sync
 * tokens, and the listeners (the /sync notifier) hear of it at once.
 *
 * The store is synchronous: a change is applied before the call that makes it returns, so a
 * PUT /presence acknowledged to a client is seen by every later GET /presence and /sync of
 * this process (reads of the store never wait for anything).
 *
 * The rules (docs/presence.md):
 *
 * - PUT /presence sets the state and the status message (one not given is cleared); `online`
 *   counts as activity.
 * - Activity (sending an event, a redaction, starting to type, a receipt or read marker)
 *   makes the user online and sets their last active time.
 * - A /sync (or GET /events) marks the user online when they are offline (`set_presence`
 *   omitted or `online`), or unavailable (`set_presence=unavailable`). Syncing is not activity:
 *   it does not undo `unavailable` set by PUT or by the idle timeout (a device that itself
 *   went idle with `set_presence=unavailable` and syncs as `online` again does). With
 *   `set_presence=unavailable` an online user becomes unavailable unless they set `online`
 *   by PUT or another of their devices syncs as online. `set_presence=offline` changes
 *   nothing: the spec says such a client "is not marked as being online", not that it
 *   marks the user offline.
 * - Timeouts: online with no activity for {@link IDLE_TIMEOUT_MS} becomes unavailable;
 *   `currently_active` turns false {@link ACTIVE_GRANULARITY_MS} after the last activity (and
 *   clients hear of it); a user with no sync in progress, none started or ended and no PUT
 *   within {@link SYNC_TIMEOUT_MS}, and no activity for as long, becomes offline (status
 *   message kept). These are Synapse's figures.
 *
 * Counters: a change takes max(previous + 1, now in ms), so that the counter of a restarted
 * process is above every counter the previous one issued (as long as the clock does not go
 * back), and clients' tokens from before a restart stay meaningful.
 */
import type { PresenceSource, PresenceState, PresenceStatus } from './sources';

/** Online with no activity for this long: unavailable (Synapse's IDLE_TIMER). */
export const IDLE_TIMEOUT_MS = 5 * 60_000;
/** `currently_active` holds this long after the last activity (Synapse's LAST_ACTIVE_GRANULARITY). */
export const ACTIVE_GRANULARITY_MS = 60_000;
/** No sync for this long (and no activity): offline (Synapse's SYNC_ONLINE_TIMEOUT). */
export const SYNC_TIMEOUT_MS = 30_000;
/** How often the timeouts are checked. */
export const PRESENCE_SWEEP_INTERVAL_MS = 5_000;
/** A user of another server with no update from it for this long: offline (Synapse's FEDERATION_TIMEOUT). */
export const REMOTE_TIMEOUT_MS = 30 * 60_000;
/** How often a process tells the others again the presence it computes of the users not offline (scale-out). */
export const RELAY_REFRESH_MS = 20_000;
/**
 * A relayed presence not told again for this long: the process that computed it is gone, and
 * the user, whose client talks to no process any more, goes offline here.
 */
export const RELAY_LEASE_MS = 3 * RELAY_REFRESH_MS;

export const PRESENCE_STATES: readonly PresenceState[] = ['online', 'unavailable', 'offline'];

/** What last decided the state: PUT, a sync, activity, or a timeout. */
type Cause = 'explicit' | 'sync' | 'activity' | 'idle' | 'disconnected' | 'restored';

interface DeviceSync {
  presence: 'online' | 'unavailable';
  /** Syncs of the device in progress. */
  inProgress: number;
  /** When the device's last sync started or ended. */
  lastSyncTs: number;
}

interface Entry {
  state: PresenceState;
  statusMsg: string | undefined;
  /** Last activity, ms since the epoch (0: never). */
  lastActiveTs: number;
  /** Whether clients were last told the user is currently active. */
  currentlyActive: boolean;
  cause: Cause;
  /** When the user last showed a client is connected: a sync started or ended, a PUT (0: never). */
  lastSeenTs: number;
  devices: Map<string, DeviceSync>;
  /** The counter of the user's last change. */
  changed: number;
  /** A user of another server: its server tells the state (see `setRemote`), no timeout but {@link REMOTE_TIMEOUT_MS} applies. */
  remote: boolean;
  /**
   * A local user whose presence another process of this server computed and relayed (see
   * `setRelayed`): taken as given, its timeouts applied by that process.
   */
  relayed: boolean;
}

/** A local user's presence as one process of the server tells the others (scale-out). */
export interface RelayedPresence {
  state: PresenceState;
  statusMsg?: string;
  /** Last activity, ms since the epoch (0: never). */
  lastActiveTs: number;
  currentlyActive: boolean;
}

/** The presence of another server's user, as its `m.presence` EDU gives it. */
export interface RemotePresence {
  presence: PresenceState;
  /** Milliseconds since the user was last active, when known. */
  lastActiveAgo?: number;
  statusMsg?: string;
  currentlyActive?: boolean;
}

/** What a restarted process is given back (see `restore`). */
export interface SavedPresence {
  userId: string;
  state: PresenceState;
  statusMsg: string | null;
  lastActiveTs: number;
}

export interface PresenceStoreOptions {
  /** Milliseconds since the epoch (default Date.now). */
  now?: () => number;
  /** Off: every call is accepted and changes nothing; nothing is reported (config `presence.enabled`). */
  enabled?: boolean;
  /** How often the timeouts are checked (default {@link PRESENCE_SWEEP_INTERVAL_MS}; 0: only when `sweep` is called). */
  sweepIntervalMs?: number;
}

export class PresenceStore implements PresenceSource {
  readonly enabled: boolean;
  private value = 0;
  private readonly users = new Map<string, Entry>();
  private readonly listeners = new Set<(userId: string, counter: number) => void>();
  private readonly now: () => number;
  private readonly timer: NodeJS.Timeout | undefined;

  constructor(options: PresenceStoreOptions = {}) {
    this.now = options.now ?? Date.now;
    this.enabled = options.enabled ?? true;
    const interval = options.sweepIntervalMs ?? PRESENCE_SWEEP_INTERVAL_MS;
    if (this.enabled && interval > 0) {
      this.timer = setInterval(() => this.sweep(), interval);
      this.timer.unref?.();
    }
  }

  counter(): number {
    return this.value;
  }

  userCounter(userId: string): number {
    return this.users.get(userId)?.changed ?? 0;
  }

  /** PUT /presence/{userId}/status: the state and status message the user chose. */
  setPresence(userId: string, state: PresenceState, statusMsg?: string): void {
    if (!this.enabled) return;
    const now = this.now();
    this.update(userId, (e) => {
      e.relayed = false;
      e.state = state;
      e.statusMsg = statusMsg;
      e.cause = 'explicit';
      e.lastSeenTs = now;
      if (state === 'online') {
        e.lastActiveTs = now;
        e.currentlyActive = true;
      } else e.currentlyActive = false;
    });
  }

  /** The user did something (sent an event, typed, read): online, active now. */
  active(userId: string): void {
    if (!this.enabled) return;
    const now = this.now();
    this.update(userId, (e) => {
      e.relayed = false;
      e.lastActiveTs = now;
      e.currentlyActive = true;
      if (e.state !== 'online') {
        e.state = 'online';
        e.cause = 'activity';
      }
    });
  }

  /**
   * A sync of a device starts with its `set_presence`; call the returned function when it
   * ends. `offline` neither marks the user nor counts as syncing.
   */
  syncing(userId: string, deviceId: string, setPresence: PresenceState = 'online'): () => void {
    if (!this.enabled || setPresence === 'offline') return () => undefined;
    const now = this.now();
    const device: DeviceSync = this.users.get(userId)?.devices.get(deviceId) ?? { presence: setPresence, inProgress: 0, lastSyncTs: now };
    device.presence = setPresence;
    device.inProgress++;
    device.lastSyncTs = now;
    this.update(userId, (e) => {
      e.relayed = false;
      e.devices.set(deviceId, device);
      e.lastSeenTs = now;
      if (setPresence === 'online') {
        if (e.state === 'offline' || (e.state === 'unavailable' && e.cause === 'sync')) {
          e.state = 'online';
          e.cause = 'sync';
          e.lastActiveTs = now;
          e.currentlyActive = true;
        }
      } else if (e.state === 'offline' || (e.state === 'online' && e.cause !== 'explicit' && !this.otherOnlineDevice(e, deviceId, now))) {
        e.state = 'unavailable';
        e.cause = 'sync';
        e.currentlyActive = false;
      }
    });
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      device.inProgress--;
      device.lastSyncTs = this.now();
      const entry = this.users.get(userId);
      if (entry) entry.lastSeenTs = Math.max(entry.lastSeenTs, device.lastSyncTs);
    };
  }

  /**
   * Another server's user, as that server reports them (an `m.presence` EDU): the state is
   * taken as given, and the user goes offline when their server says nothing more for
   * {@link REMOTE_TIMEOUT_MS}. A local user is never changed this way.
   */
  setRemote(userId: string, presence: RemotePresence): void {
    if (!this.enabled) return;
    const existing = this.users.get(userId);
    if (existing && !existing.remote) return;
    const now = this.now();
    const lastActiveTs = presence.lastActiveAgo === undefined ? undefined : now - presence.lastActiveAgo;
    // Clients hear of a new last active time when it moved by the granularity clients are told in.
    const moved = lastActiveTs !== undefined && existing !== undefined && Math.abs(lastActiveTs - existing.lastActiveTs) >= ACTIVE_GRANULARITY_MS;
    this.update(
      userId,
      (e) => {
        e.remote = true;
        e.state = presence.presence;
        e.statusMsg = presence.statusMsg;
        if (lastActiveTs !== undefined) e.lastActiveTs = lastActiveTs;
        e.currentlyActive = presence.presence === 'online' && presence.currentlyActive === true;
        e.cause = 'explicit';
        e.lastSeenTs = now;
      },
      moved,
    );
  }

  /**
   * A local user's presence as another process of this server computed it (the process their
   * client talks to): taken as given until a request of the user reaches this process. A user
   * of another server is never changed this way.
   */
  setRelayed(userId: string, presence: RelayedPresence): void {
    if (!this.enabled) return;
    const existing = this.users.get(userId);
    if (existing?.remote) return;
    const now = this.now();
    const currentlyActive = presence.state === 'online' && presence.currentlyActive;
    if (
      existing?.relayed &&
      existing.state === presence.state &&
      existing.statusMsg === presence.statusMsg &&
      existing.lastActiveTs === presence.lastActiveTs &&
      existing.currentlyActive === currentlyActive
    ) {
      // The same word again (its process tells it again now and then): nothing for clients.
      existing.lastSeenTs = now;
      return;
    }
    this.update(
      userId,
      (e) => {
        e.relayed = true;
        e.state = presence.state;
        e.statusMsg = presence.statusMsg;
        e.lastActiveTs = presence.lastActiveTs;
        e.currentlyActive = currentlyActive;
        e.cause = 'explicit';
        e.lastSeenTs = now;
      },
      true,
    );
  }

  /** Whether the user's presence was relayed by another process of this server. */
  isRelayed(userId: string): boolean {
    return this.users.get(userId)?.relayed === true;
  }

  /** What this process tells the others of a local user's presence (undefined: a remote user, or unknown). */
  relayable(userId: string): RelayedPresence | undefined {
    const e = this.users.get(userId);
    if (!e || e.remote) return undefined;
    return { state: e.state, ...(e.statusMsg !== undefined ? { statusMsg: e.statusMsg } : {}), lastActiveTs: e.lastActiveTs, currentlyActive: e.currentlyActive };
  }

  /** The local users whose presence this process computes (not relayed from another) and who are not offline. */
  computedHere(): string[] {
    return [...this.users].filter(([, e]) => !e.remote && !e.relayed && e.state !== 'offline').map(([userId]) => userId);
  }

  /** Whether the user's presence comes from another server. */
  isRemote(userId: string): boolean {
    return this.users.get(userId)?.remote === true;
  }

  /** The user's presence now (undefined: never set, i.e. offline). */
  status(userId: string): PresenceStatus | undefined {
    const e = this.users.get(userId);
    return e ? this.statusOf(e, this.now()) : undefined;
  }

  /**
   * Users whose presence changed after `since` with their presence now, all read at once with
   * the counter they are complete up to. `since` undefined (an initial sync) or above the
   * counter (not issued by this store) gives every user known.
   */
  changesSince(since: number | undefined): { counter: number; changes: Map<string, PresenceStatus> } {
    const now = this.now();
    const stale = since === undefined || since > this.value;
    const changes = new Map<string, PresenceStatus>();
    const entries = [...this.users].filter(([, e]) => stale || e.changed > (since ?? 0)).sort(([, a], [, b]) => a.changed - b.changed);
    for (const [userId, e] of entries) changes.set(userId, this.statusOf(e, now));
    return { counter: this.value, changes };
  }

  onChange(listener: (userId: string, counter: number) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Gives back what a previous process saved (status message, last activity). Nobody is
   * syncing yet: users who are not offline get {@link SYNC_TIMEOUT_MS} to reconnect before the
   * timeouts apply. No change is reported.
   */
  restore(saved: readonly SavedPresence[]): void {
    if (!this.enabled) return;
    const now = this.now();
    for (const s of saved) {
      if (this.users.has(s.userId)) continue;
      const entry = this.newEntry();
      entry.state = s.state;
      entry.statusMsg = s.statusMsg ?? undefined;
      entry.lastActiveTs = s.lastActiveTs;
      entry.cause = 'restored';
      entry.lastSeenTs = now;
      this.users.set(s.userId, entry);
    }
    // Later changes stay above what the previous process issued (its counters were ≤ its clock).
    this.value = Math.max(this.value, now);
  }

  /** What `restore` takes back, for one user (undefined: unknown). */
  saved(userId: string): SavedPresence | undefined {
    const e = this.users.get(userId);
    return e && !e.remote && !e.relayed ? { userId, state: e.state, statusMsg: e.statusMsg ?? null, lastActiveTs: e.lastActiveTs } : undefined;
  }

  /** Applies the timeouts (the store's timer calls it; tests call it with their own clock). */
  sweep(): void {
    if (!this.enabled) return;
    const now = this.now();
    for (const userId of [...this.users.keys()]) {
      // The process that relayed a user's presence applies their timeouts, unless it has not
      // told it again for the lease: then it is gone, and so is the user's client.
      if (this.users.get(userId)?.relayed) {
        this.update(userId, (e) => {
          if (now - e.lastSeenTs < RELAY_LEASE_MS) return;
          e.relayed = false;
          e.devices.clear();
          if (e.state !== 'offline') {
            e.state = 'offline';
            e.cause = 'disconnected';
            e.currentlyActive = false;
          }
        });
        continue;
      }
      if (this.users.get(userId)?.remote) {
        this.update(userId, (e) => {
          if (e.state !== 'offline' && now - e.lastSeenTs >= REMOTE_TIMEOUT_MS) {
            e.state = 'offline';
            e.cause = 'disconnected';
            e.currentlyActive = false;
          }
        });
        continue;
      }
      this.update(userId, (e) => {
        for (const [deviceId, device] of e.devices) if (!this.connected(device, now)) e.devices.delete(deviceId);
        if (e.state === 'online') {
          if (now - e.lastActiveTs >= IDLE_TIMEOUT_MS) {
            e.state = 'unavailable';
            e.cause = 'idle';
            e.currentlyActive = false;
          } else if (now - e.lastActiveTs >= ACTIVE_GRANULARITY_MS) e.currentlyActive = false;
        }
        if (e.state !== 'offline' && e.devices.size === 0 && now - e.lastSeenTs >= SYNC_TIMEOUT_MS && now - e.lastActiveTs >= SYNC_TIMEOUT_MS) {
          e.state = 'offline';
          e.cause = 'disconnected';
          e.currentlyActive = false;
        }
      });
    }
  }

  /** Stops the timer. */
  close(): void {
    if (this.timer) clearInterval(this.timer);
  }

  private newEntry(): Entry {
    return { state: 'offline', statusMsg: undefined, lastActiveTs: 0, currentlyActive: false, cause: 'explicit', lastSeenTs: 0, devices: new Map(), changed: 0, remote: false, relayed: false };
  }

  /**
   * Applies `change` to the user's entry; reports a change when what clients see changed (or,
   * with `always`, in any case).
   */
  private update(userId: string, change: (entry: Entry) => void, always = false): void {
    let entry = this.users.get(userId);
    if (!entry) {
      entry = this.newEntry();
      this.users.set(userId, entry);
    }
    const before = `${entry.state}\u0000${entry.statusMsg ?? '\u0001'}\u0000${entry.currentlyActive}`;
    change(entry);
    const after = `${entry.state}\u0000${entry.statusMsg ?? '\u0001'}\u0000${entry.currentlyActive}`;
    if (before === after && entry.changed !== 0 && !always) return;
    entry.changed = this.value = Math.max(this.value + 1, this.now());
    for (const listener of this.listeners) listener(userId, entry.changed);
  }

  private connected(device: DeviceSync, now: number): boolean {
    return device.inProgress > 0 || now - device.lastSyncTs < SYNC_TIMEOUT_MS;
  }

  private otherOnlineDevice(e: Entry, deviceId: string, now: number): boolean {
    for (const [id, device] of e.devices) if (id !== deviceId && device.presence === 'online' && this.connected(device, now)) return true;
    return false;
  }

  private statusOf(e: Entry, now: number): PresenceStatus {
    const status: PresenceStatus = { presence: e.state };
    if (e.lastActiveTs > 0) status.last_active_ago = Math.max(0, now - e.lastActiveTs);
    if (e.statusMsg !== undefined) status.status_msg = e.statusMsg;
    if (e.state === 'online') status.currently_active = e.currentlyActive && (e.remote || e.relayed || now - e.lastActiveTs < ACTIVE_GRANULARITY_MS);
    return status;
  }
}
