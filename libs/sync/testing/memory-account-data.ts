/** Account data kept in memory, with positions like the accounts library's stream (for tests). */
import type { AccountDataDelta, AccountDataEntry, AccountDataSource } from '../src/sources';

export class MemoryAccountData implements AccountDataSource {
  private position = 0;
  private readonly entries: { userId: string; roomId: string | null; entry: AccountDataEntry; position: number }[] = [];
  private readonly listeners = new Set<(userId: string, position: number) => void>();

  set(userId: string, roomId: string | null, type: string, content: Record<string, unknown>): void {
    const position = ++this.position;
    this.entries.push({ userId, roomId, entry: { type, content }, position });
    for (const l of this.listeners) l(userId, position);
  }

  async accountDataSince(userId: string, since: number): Promise<AccountDataDelta> {
    const delta: AccountDataDelta = { global: [], rooms: {}, position: this.position };
    for (const e of this.entries) {
      if (e.userId !== userId || e.position <= since) continue;
      if (e.roomId === null) delta.global.push(e.entry);
      else (delta.rooms[e.roomId] ??= []).push(e.entry);
    }
    return delta;
  }

  async globalAccountData(userId: string, type: string): Promise<Record<string, unknown> | undefined> {
    let content: Record<string, unknown> | undefined;
    for (const e of this.entries) if (e.userId === userId && e.roomId === null && e.entry.type === type) content = e.entry.content;
    return content;
  }

  onChange(listener: (userId: string, position: number) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
