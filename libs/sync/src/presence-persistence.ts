/**
 * Keeps each local user's last presence (state, status message, last activity) in the table
 * `presence.user_presence` (migrations/presence), so that a restart keeps status messages.
 * The in-memory store stays the truth of the running process: changes are written after the
 * fact, coalesced per user, one statement per batch; a failed write is reported and the next
 * change of the user writes it again. At start-up the store is given the saved rows back.
 */
import { sql, type DatabasePool } from 'slonik';
import { PRESENCE_STATES, type PresenceStore, type SavedPresence } from './presence';
import type { PresenceState } from './sources';

interface Row {
  user_id: string;
  state: string;
  status_msg: string | null;
  last_active_ts: string | number | bigint;
}

/** Every saved presence. */
export async function loadPresence(pool: DatabasePool): Promise<SavedPresence[]> {
  const rows = (await pool.any(sql.unsafe`SELECT user_id, state, status_msg, last_active_ts FROM presence.user_presence`)) as unknown as Row[];
  return rows
    .filter((row) => (PRESENCE_STATES as readonly string[]).includes(row.state))
    .map((row) => ({ userId: row.user_id, state: row.state as PresenceState, statusMsg: row.status_msg, lastActiveTs: Number(row.last_active_ts) }));
}

export class PresencePersistence {
  private readonly pending = new Map<string, SavedPresence>();
  private flushing: Promise<void> | undefined;
  private unsubscribe: (() => void) | undefined;

  constructor(
    private readonly pool: DatabasePool,
    private readonly store: PresenceStore,
    private readonly onError: (error: unknown) => void = () => undefined,
    private readonly now: () => number = Date.now,
  ) {}

  /** Writes every change of the store from now on. */
  start(): this {
    this.unsubscribe ??= this.store.onChange((userId) => {
      const saved = this.store.saved(userId);
      if (!saved) return;
      this.pending.set(userId, saved);
      this.flushing ??= this.flush();
    });
    return this;
  }

  /** Resolves once every change reported so far is written (or has failed). */
  async idle(): Promise<void> {
    while (this.flushing) await this.flushing;
  }

  /** Stops listening and writes what is pending. */
  async close(): Promise<void> {
    this.unsubscribe?.();
    await this.idle();
  }

  private async flush(): Promise<void> {
    try {
      while (this.pending.size > 0) {
        const batch = [...this.pending.values()];
        this.pending.clear();
        try {
          await this.write(batch);
        } catch (error) {
          this.onError(error);
        }
      }
    } finally {
      this.flushing = undefined;
    }
  }

  private async write(batch: readonly SavedPresence[]): Promise<void> {
    const users = sql.array(
      batch.map((s) => s.userId),
      'text',
    );
    const states = sql.array(
      batch.map((s) => s.state),
      'text',
    );
    // Arrays of text may hold nulls (no status message).
    const messages = sql.array(batch.map((s) => s.statusMsg) as string[], 'text');
    const lastActive = sql.array(
      batch.map((s) => s.lastActiveTs),
      'int8',
    );
    await this.pool.query(sql.unsafe`
      INSERT INTO presence.user_presence (user_id, state, status_msg, last_active_ts, updated_ts)
      SELECT user_id, state, status_msg, last_active_ts, ${this.now()}
        FROM unnest(${users}::text[], ${states}::text[], ${messages}::text[], ${lastActive}::int8[]) AS t(user_id, state, status_msg, last_active_ts)
      ON CONFLICT (user_id) DO UPDATE SET state = EXCLUDED.state, status_msg = EXCLUDED.status_msg,
        last_active_ts = EXCLUDED.last_active_ts, updated_ts = EXCLUDED.updated_ts`);
  }
}
