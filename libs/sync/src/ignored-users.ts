/**
 * Who each user ignores (the `ignored_users` of their `m.ignored_user_list` account data), for
 * /sync, /messages and /context, which leave out those users' events (except state events)
 * and invites. Kept in memory per user and forgotten when the user's account data changes.
 */
import type { AccountDataSource } from './sources';

export const IGNORED_USER_LIST = 'm.ignored_user_list';
/** Most users whose list is remembered. */
const MAX_USERS = 100_000;
const NONE: ReadonlySet<string> = new Set();

export class IgnoredUsers {
  private readonly lists = new Map<string, ReadonlySet<string>>();
  /** Account data changes heard of since start-up: a read that overlaps one is not kept. */
  private changes = 0;
  private readonly unsubscribe: () => void;

  constructor(private readonly accountData: AccountDataSource) {
    this.unsubscribe = accountData.onChange((userId) => {
      this.lists.delete(userId);
      this.changes++;
    });
  }

  /** The users `userId` ignores (empty when none). */
  async of(userId: string): Promise<ReadonlySet<string>> {
    const known = this.lists.get(userId);
    if (known) return known;
    const changes = this.changes;
    const content = await this.accountData.globalAccountData(userId, IGNORED_USER_LIST);
    const ignored = content?.ignored_users;
    const users = ignored !== null && typeof ignored === 'object' && !Array.isArray(ignored) ? new Set(Object.keys(ignored)) : NONE;
    if (this.changes === changes) {
      if (this.lists.size >= MAX_USERS) this.lists.delete(this.lists.keys().next().value as string);
      this.lists.set(userId, users);
    }
    return users;
  }

  close(): void {
    this.unsubscribe();
  }
}
