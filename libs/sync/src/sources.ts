/**
 * What /sync reads besides the projections: account data and profiles (owned by the accounts
 * library), typing notifications and presence (ephemeral, in memory). The application wires
 * the real sources.
 */

export interface AccountDataEntry {
  type: string;
  content: Record<string, unknown>;
}

/** Account data changed after a position, and the position the answer is complete up to. */
export interface AccountDataDelta {
  global: AccountDataEntry[];
  rooms: Record<string, AccountDataEntry[]>;
  position: number;
}

export interface AccountDataSource {
  /** Account data of the user changed after `since` (0: everything). */
  accountDataSince(userId: string, since: number): Promise<AccountDataDelta>;
  /** Calls `listener` whenever a user's account data changes; returns the unsubscribe function. */
  onChange(listener: (userId: string, position: number) => void): () => void;
  /** The content of one of the user's global account data entries (undefined: not set). */
  globalAccountData(userId: string, type: string): Promise<Record<string, unknown> | undefined>;
}

/** Typing notifications, an ephemeral stream with an in-memory counter. */
export interface TypingSource {
  /** The counter now (each change takes the next value). */
  counter(): number;
  /** Users typing in the room, if the room's typing list changed after `since`; otherwise undefined. */
  typingSince(roomId: string, since: number): string[] | undefined;
  /** The counter of the room's last change (0 if never). */
  roomCounter(roomId: string): number;
  onChange(listener: (roomId: string, counter: number) => void): () => void;
}

export type PresenceState = 'online' | 'unavailable' | 'offline';

/**
 * A user's presence as GET /presence/{userId}/status answers it (and m.presence carries it).
 * A type, not an interface, so that it is a JSON object (Record<string, unknown>) too.
 */
export type PresenceStatus = {
  presence: PresenceState;
  last_active_ago?: number;
  status_msg?: string;
  currently_active?: boolean;
};

/** Presence of local users, an ephemeral stream with an in-memory counter. */
export interface PresenceSource {
  /** Off (config `presence.enabled: false`): nothing is ever reported. */
  readonly enabled: boolean;
  /** The counter now (each change takes a higher value). */
  counter(): number;
  /** The counter of the user's last change (0 if never). */
  userCounter(userId: string): number;
  /** Users changed after `since` (undefined or not issued here: all known) with their presence now. */
  changesSince(since: number | undefined): { counter: number; changes: Map<string, PresenceStatus> };
  /** The user's presence now (undefined: never set). */
  status(userId: string): PresenceStatus | undefined;
  /** A sync of the device starts with its `set_presence`; the returned function ends it. */
  syncing(userId: string, deviceId: string, setPresence?: PresenceState): () => void;
  onChange(listener: (userId: string, counter: number) => void): () => void;
}

/** A to-device message as /sync delivers it. */
export interface ToDeviceMessage {
  sender: string;
  type: string;
  content: Record<string, unknown>;
}

/** A change of the e2ee stream: users' device lists, or to-device messages for their devices. */
export interface E2eeStreamChange {
  kind: 'device_list' | 'to_device';
  userIds: readonly string[];
  position: number;
}

/**
 * End-to-end encryption data /sync reports (owned by the e2ee library): positions of its stream
 * are committed in order, so a read of `position()` covers every change up to it.
 */
export interface E2eeSource {
  /** The highest committed position. */
  position(): Promise<number>;
  /** Users whose device list changed after `after`, up to `upTo`. */
  usersChanged(after: number, upTo: number): Promise<string[]>;
  /**
   * The device's to-device messages after `after` up to `upTo`, in order, having deleted those at
   * or before `acknowledged`; `upTo` of the answer is the position they are complete up to.
   */
  inbox(userId: string, deviceId: string, acknowledged: number, after: number, upTo: number): Promise<{ events: ToDeviceMessage[]; upTo: number }>;
  /** The device's unclaimed one-time keys per algorithm and unused fallback key algorithms. */
  counts(userId: string, deviceId: string): Promise<{ oneTimeKeyCounts: Record<string, number>; unusedFallbackKeyTypes: string[] }>;
  /** Calls `listener` after each change committed; returns the unsubscribe function. */
  onChange(listener: (change: E2eeStreamChange) => void): () => void;
}

/** Display names and avatars of users (those set), for m.presence events. */
export interface ProfileSource {
  displayProfiles(userIds: readonly string[]): Promise<Map<string, { displayname?: string; avatar_url?: string }>>;
}

/**
 * The ephemeral room streams /sync reads from memory. Typing is the only one kept here;
 * receipts are stored facts read from the receipts projection. Presence is not a room stream
 * (see PresenceSource).
 */
export type EphemeralSource = TypingSource;

/** Adapts anything shaped like the accounts library's AccountDataService. */
export function accountDataSourceFrom(service: {
  accountDataSince(userId: string, since: number): Promise<AccountDataDelta>;
  /** Throws an error with `errcode` M_NOT_FOUND when the entry is not set. */
  getGlobalAccountData(userId: string, type: string): Promise<Record<string, unknown>>;
  changes: { subscribe(next: (change: { userId: string; position: number }) => void): { unsubscribe(): void } };
}): AccountDataSource {
  return {
    accountDataSince: (userId, since) => service.accountDataSince(userId, since),
    async globalAccountData(userId, type) {
      try {
        return await service.getGlobalAccountData(userId, type);
      } catch (error) {
        if ((error as { errcode?: unknown }).errcode === 'M_NOT_FOUND') return undefined;
        throw error;
      }
    },
    onChange(listener) {
      const subscription = service.changes.subscribe((change) => listener(change.userId, change.position));
      return () => subscription.unsubscribe();
    },
  };
}

/** An account data source with none (for deployments and tests without accounts). */
export class NoAccountData implements AccountDataSource {
  async accountDataSince(_userId: string, since: number): Promise<AccountDataDelta> {
    return { global: [], rooms: {}, position: since };
  }

  onChange(): () => void {
    return () => undefined;
  }

  async globalAccountData(): Promise<Record<string, unknown> | undefined> {
    return undefined;
  }
}
