/**
 * What /sync reads besides the projections: account data (owned by the accounts library)
 * and typing notifications (ephemeral, in memory). The application wires the real sources.
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

/**
 * The ephemeral streams /sync reads from memory. Typing is the only one kept here; receipts
 * are stored facts read from the receipts projection.
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
