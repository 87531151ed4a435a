/**
 * Typing notifications (client-server API, "Typing Notifications"): per room, who is typing
 * until when. Every change takes the next value of one counter, which goes in sync tokens; a
 * timer per entry ends it when its timeout passes.
 */
import { Subject, type Observable } from 'rxjs';
import type { TypingSource } from './sources';

/** Longest typing timeout honoured, in milliseconds. */
export const MAX_TYPING_TIMEOUT_MS = 120_000;

/** A running notification renewed at least this long after it was last announced is announced again. */
export const TYPING_REANNOUNCE_MS = 20_000;

/** A user started, renewed or stopped typing (stopping includes the timeout passing). */
export interface TypingUpdate {
  roomId: string;
  userId: string;
  typing: boolean;
  /** For a start or renewal: milliseconds until it ends unless renewed. */
  timeoutMs?: number;
  /** The notification was set by another process of this server (scale-out), not by a request here. */
  relayed?: true;
}

interface Entry {
  until: number;
  timer: NodeJS.Timeout;
  /** When `updates` last said the user is typing. */
  announced: number;
  /** Set by another process of this server. */
  relayed: boolean;
}

export class TypingStore implements TypingSource {
  private value = 0;
  private readonly rooms = new Map<string, { users: Map<string, Entry>; changed: number }>();
  private readonly listeners = new Set<(roomId: string, counter: number) => void>();
  private readonly updateSubject = new Subject<TypingUpdate>();
  /**
   * Each start and stop of a user's typing, and each renewal of a running notification at least
   * TYPING_REANNOUNCE_MS after it was last announced (what other servers are told).
   */
  readonly updates: Observable<TypingUpdate> = this.updateSubject.asObservable();

  constructor(private readonly now: () => number = Date.now) {}

  counter(): number {
    return this.value;
  }

  roomCounter(roomId: string): number {
    return this.rooms.get(roomId)?.changed ?? 0;
  }

  /**
   * PUT /rooms/{roomId}/typing/{userId}: starts (for `timeoutMs`) or stops the user's typing.
   * `relayed`: another process of this server saw the request (its updates say so).
   */
  setTyping(roomId: string, userId: string, typing: boolean, timeoutMs = 30_000, relayed = false): void {
    const room = this.rooms.get(roomId) ?? { users: new Map<string, Entry>(), changed: 0 };
    this.rooms.set(roomId, room);
    const existing = room.users.get(userId);
    if (existing) clearTimeout(existing.timer);
    if (!typing) {
      if (!existing) return;
      room.users.delete(userId);
      this.changed(roomId, room);
      this.updateSubject.next({ roomId, userId, typing: false, ...(relayed ? { relayed } : {}) });
      return;
    }
    const duration = Math.max(0, Math.min(timeoutMs, MAX_TYPING_TIMEOUT_MS));
    const timer = setTimeout(() => this.expire(roomId, userId), duration);
    timer.unref?.();
    const now = this.now();
    const announce = !existing || now - existing.announced >= TYPING_REANNOUNCE_MS;
    room.users.set(userId, { until: now + duration, timer, announced: announce ? now : existing.announced, relayed });
    // Extending a running notification does not change what clients see.
    if (!existing) this.changed(roomId, room);
    if (announce) this.updateSubject.next({ roomId, userId, typing: true, timeoutMs: duration, ...(relayed ? { relayed } : {}) });
  }

  typing(roomId: string): string[] {
    const room = this.rooms.get(roomId);
    if (!room) return [];
    return [...room.users.keys()].sort();
  }

  typingSince(roomId: string, since: number): string[] | undefined {
    const room = this.rooms.get(roomId);
    if (!room) return undefined;
    // A counter above ours comes from before a restart: everything is new.
    if (room.changed <= since && since <= this.value) return undefined;
    return this.typing(roomId);
  }

  onChange(listener: (roomId: string, counter: number) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Stops every timer. */
  close(): void {
    for (const room of this.rooms.values()) for (const entry of room.users.values()) clearTimeout(entry.timer);
    this.rooms.clear();
    this.updateSubject.complete();
  }

  private expire(roomId: string, userId: string): void {
    const room = this.rooms.get(roomId);
    const entry = room?.users.get(userId);
    if (!room || !entry) return;
    room.users.delete(userId);
    this.changed(roomId, room);
    this.updateSubject.next({ roomId, userId, typing: false, ...(entry.relayed ? { relayed: true as const } : {}) });
  }

  private changed(roomId: string, room: { changed: number }): void {
    room.changed = ++this.value;
    for (const listener of this.listeners) listener(roomId, room.changed);
  }
}
