/**
 * Which member events each device has been sent, so that lazy-loading syncs without
 * `include_redundant_members` send a member event once. It is a bounded cache: a device it
 * forgot is sent members again (redundant, never missing).
 */
const MAX_DEVICES = 10_000;

export class LazyMembersCache {
  private readonly devices = new Map<string, Map<string, Set<string>>>();

  private key(userId: string, deviceId: string): string {
    return `${userId}\u0000${deviceId}`;
  }

  reset(userId: string, deviceId: string): void {
    this.devices.delete(this.key(userId, deviceId));
  }

  has(userId: string, deviceId: string, roomId: string, eventId: string): boolean {
    return this.devices.get(this.key(userId, deviceId))?.get(roomId)?.has(eventId) ?? false;
  }

  add(userId: string, deviceId: string, roomId: string, eventIds: readonly string[]): void {
    const key = this.key(userId, deviceId);
    let rooms = this.devices.get(key);
    if (rooms) this.devices.delete(key);
    else rooms = new Map();
    this.devices.set(key, rooms);
    if (this.devices.size > MAX_DEVICES) this.devices.delete(this.devices.keys().next().value as string);
    let events = rooms.get(roomId);
    if (!events) {
      events = new Set();
      rooms.set(roomId, events);
    }
    for (const id of eventIds) events.add(id);
  }
}
