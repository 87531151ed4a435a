/**
 * Where a room's events and ephemeral data go: the servers with at least one joined member,
 * read from the room write model. The sender takes this through the DestinationResolver
 * interface, so tests can name the destinations themselves.
 */
import type { RoomEventAccepted } from '@hs/contracts';
import { serverNameOf } from '@hs/protocol';
import { JoinedServersReader } from '@hs/room';
import type { CommonQueryMethods } from 'slonik';

export interface DestinationResolver {
  /**
   * For each of these events (accepted, in store order), the servers it must be sent to, by
   * event id. Our own server may be among them (the sender leaves it out).
   */
  eventDestinations(events: readonly RoomEventAccepted[]): Promise<Map<string, readonly string[]>>;
  /** The servers with a joined member in the room now (for receipts and typing). */
  roomDestinations(roomId: string): Promise<readonly string[]>;
}

/** State groups whose joined servers are kept in memory (a group never changes). */
const CACHED_GROUPS = 2_000;

/**
 * The write model's answer: the servers with a joined member in the state after the event (its
 * state group), and for a leave or ban of another server's user, that user's server too (it
 * must learn that its user was kicked or banned). An invite of another server's user goes to
 * the servers in the room like any event; the invited server itself gets it through the invite
 * API.
 */
export class WriteModelDestinationResolver implements DestinationResolver {
  private readonly reader: JoinedServersReader;
  private readonly groups = new Map<string, readonly string[]>();

  constructor(db: CommonQueryMethods) {
    this.reader = new JoinedServersReader(db);
  }

  async eventDestinations(events: readonly RoomEventAccepted[]): Promise<Map<string, readonly string[]>> {
    const result = new Map<string, readonly string[]>();
    if (events.length === 0) return result;
    const groups = await this.reader.stateGroupsOf(events.map((fact) => fact.event_id));
    for (const fact of events) {
      const group = groups.get(fact.event_id);
      const servers = new Set(group === undefined ? [] : await this.joinedServersInGroup(group));
      const target = departedServer(fact);
      if (target !== undefined) servers.add(target);
      result.set(fact.event_id, [...servers]);
    }
    return result;
  }

  roomDestinations(roomId: string): Promise<readonly string[]> {
    return this.reader.joinedServers(roomId);
  }

  private async joinedServersInGroup(group: string): Promise<readonly string[]> {
    const cached = this.groups.get(group);
    if (cached) {
      // Most recently used last.
      this.groups.delete(group);
      this.groups.set(group, cached);
      return cached;
    }
    const servers = await this.reader.joinedServersInGroup(group);
    if (this.groups.size >= CACHED_GROUPS) {
      const oldest = this.groups.keys().next().value;
      if (oldest !== undefined) this.groups.delete(oldest);
    }
    this.groups.set(group, servers);
    return servers;
  }
}

/** The server of the user an m.room.member leave or ban event is about. */
function departedServer(fact: RoomEventAccepted): string | undefined {
  const pdu = fact.pdu;
  if (pdu.type !== 'm.room.member' || typeof pdu.state_key !== 'string') return undefined;
  const membership = pdu.content.membership;
  if (membership !== 'leave' && membership !== 'ban') return undefined;
  return serverNameOf(pdu.state_key);
}
